"""`refnet flower`: Flower under /flower behind basic auth, on a real Redis broker, showing the
real workers; and the settings it refuses to start with."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx

from tests.support.api import clean_environment, free_port
from tests.support.flower import flower
from tests.support.workers import REFNET, running_workers

USER = "operator"
PASSWORD = "flower-password-0123456789"


def refused(workdir: Path, env: dict[str, str]) -> tuple[int, str]:
    """Exit code and message of a `refnet flower` that should not start."""
    finished = subprocess.run(
        [REFNET, "flower", "--port", str(free_port())],
        env={**clean_environment(), "REFNET_DATA_DIR": str(workdir / "data"), **env},
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return finished.returncode, " ".join(finished.stderr.split())


def stack(pg_url: str, redis_url: str) -> dict[str, str]:
    return {"DATABASE_URL": pg_url, "REDIS_URL": redis_url}


def test_flower_needs_the_credentials_and_shows_the_workers(
    tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    env = {**stack(pg_url, redis_url), "FLOWER_USER": USER, "FLOWER_PASSWORD": PASSWORD}
    worker = [[REFNET, "worker", "--queue", "maintenance"]]
    with running_workers(worker, dict(env), tmp_path), flower(tmp_path, env) as base:
        anonymous = httpx.get(base, timeout=10)
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"].startswith("Basic")  # the browser asks
        assert PASSWORD not in anonymous.text
        assert httpx.get(base, auth=(USER, "wrong-password"), timeout=10).status_code == 401
        assert httpx.get(base, auth=("someone", PASSWORD), timeout=10).status_code == 401
        assert httpx.get(base + "api/workers", timeout=10).status_code == 401

        page = httpx.get(base, auth=(USER, PASSWORD), timeout=10)
        assert page.status_code == 200
        assert "<title>Workers · Flower</title>" in page.text
        # Its assets are served under the same prefix, so the page works behind /flower/.
        assert 'href="/flower/static/' in page.text
        static = httpx.get(base + "static/favicon.ico", auth=(USER, PASSWORD), timeout=10)
        assert static.status_code == 200

        deadline = time.monotonic() + 30
        while True:
            workers = httpx.get(
                base + "api/workers", params={"refresh": "1"}, auth=(USER, PASSWORD), timeout=30
            )
            assert workers.status_code == 200
            assert workers.headers["content-type"].startswith("application/json")
            names = list(workers.json())
            if names or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert len(names) == 1 and names[0].startswith("maintenance@"), names
        queues = {q["name"] for q in workers.json()[names[0]].get("active_queues", [])}
        assert queues == {"maintenance"}


def test_flower_reads_its_password_from_a_file_in_production(
    tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    """Docker secrets: FLOWER_PASSWORD_FILE, ending in a newline as editors write it. Production
    asks nothing else of Flower (JWT_SECRET and the others are the API's)."""
    secret = tmp_path / "flower_password"
    secret.write_text(PASSWORD + "\n")
    env = {
        **stack(pg_url, redis_url),
        "ENVIRONMENT": "production",
        "FLOWER_USER": USER,
        "FLOWER_PASSWORD_FILE": str(secret),
    }
    with flower(tmp_path, env) as base:
        assert httpx.get(base, timeout=10).status_code == 401
        assert httpx.get(base, auth=(USER, PASSWORD + "\n"), timeout=10).status_code == 401
        answer = httpx.get(base + "api/workers", auth=(USER, PASSWORD), timeout=30)
        assert answer.status_code == 200
        assert answer.json() == {}  # no worker runs


def test_production_refuses_flower_without_credentials(
    tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    code, message = refused(tmp_path, {**stack(pg_url, redis_url), "ENVIRONMENT": "production"})
    assert code == 2
    assert "FLOWER_USER" in message and "production" in message


def test_production_refuses_a_short_flower_password(
    tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    env = {
        **stack(pg_url, redis_url),
        "ENVIRONMENT": "production",
        "FLOWER_USER": USER,
        "FLOWER_PASSWORD": "hunter2",
    }
    code, message = refused(tmp_path, env)
    assert code == 2
    assert "FLOWER_PASSWORD" in message
    assert "hunter2" not in message


def test_a_user_without_a_password_is_refused(tmp_path: Path, pg_url: str, redis_url: str) -> None:
    code, message = refused(tmp_path, {**stack(pg_url, redis_url), "FLOWER_USER": USER})
    assert code == 2
    assert "set both FLOWER_USER and FLOWER_PASSWORD" in message
    code, message = refused(tmp_path, {**stack(pg_url, redis_url), "FLOWER_PASSWORD": PASSWORD})
    assert code == 2
    assert "set both FLOWER_USER and FLOWER_PASSWORD" in message
    assert PASSWORD not in message


def test_a_user_name_basic_auth_cannot_carry_is_refused(
    tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    env = {**stack(pg_url, redis_url), "FLOWER_USER": "ops:admin", "FLOWER_PASSWORD": PASSWORD}
    code, message = refused(tmp_path, env)
    assert code == 2
    assert "FLOWER_USER must not contain" in message


def test_flower_without_a_broker_is_refused(tmp_path: Path) -> None:
    code, message = refused(tmp_path, {"FLOWER_USER": USER, "FLOWER_PASSWORD": PASSWORD})
    assert code == 2
    assert "REDIS_URL" in message
