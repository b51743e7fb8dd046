"""A short run of the load test's normal profile (`benchmarks/load_test.py`): Locust's users
through nginx and TLS against `refnet serve` on a generated network, every service level met.
`make load` runs the three profiles at full size."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REDIS_URL

ROOT = Path(__file__).resolve().parents[2]
REQUESTS = {
    "POST /auth/login",
    "GET /api/papers/search",
    "GET /api/papers/{id}",
    "POST /api/tasks/summarize",
    "GET /api/papers/{id}/graph",
    "GET /api/papers/{id}/note",
}


def load_test(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks.load_test", "--redis-url", REDIS_URL, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_the_normal_profile_meets_every_service_level() -> None:
    done = load_test(
        "--profile", "normal", "--duration", "20", "--papers", "3000", "--edges", "20000"
    )
    assert done.returncode in (0, 1), done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])

    missed = {name: level for name, level in report["levels"].items() if not level["met"]}
    assert not missed, json.dumps(report, indent=1)
    assert done.returncode == 0
    assert set(report["by_request"]) == REQUESTS
    assert all(figures["failures"] == 0 for figures in report["by_request"].values()), report
    assert report["requests"] >= 20 * 100
    assert set(report["resources"]["cpu_pct"]) >= {"api", "nginx", "postgres", "locust"}


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--duration", "0"], "--duration 0: give 5 to 3600 seconds"),
        (["--processes", "64"], "--processes 64: give 1 to 16"),
        (["--papers", "10"], "--papers must be at least 100"),
        (["--profile", "extreme"], "invalid choice: 'extreme'"),
        (["--target", "https://127.0.0.1:9"], "no RefNet answers at https://127.0.0.1:9"),
        (["--target", "https://8.8.8.8"], "load is only sent to this machine"),
        (["--target", "localhost:8443"], "is not a URL"),
        (["--compose-project", "refnet"], "--compose-project goes with --target"),
    ],
)
def test_a_bad_option_or_target_is_refused_before_any_load_is_sent(
    args: list[str], says: str
) -> None:
    done = load_test(*args, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert says in done.stderr and "Traceback" not in done.stderr
