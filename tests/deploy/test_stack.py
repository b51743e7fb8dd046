"""The Docker Compose stack, started for real and used as an operator verifying a deployment
would: the air-gapped images built by scripts/build-airgap-images.sh, the production file with
the monitoring file and the air-gapped override, every health check waited for; then HTTPS
through nginx, the redirect from plain HTTP, Flower behind its password, the first admin,
a crawl from a Semantic Scholar paper URL to notes in the vault volume (also through 503 and
429 answers), Prometheus's targets, and `down` then `up` keeping the data. Bad input (a
placeholder or missing secret, a missing certificate, a taken port, a database that cannot be
reached or has no schema) stops the service with a message that names what to fix.

The fake Semantic Scholar and a fake OpenAI-compatible model listen on the backend network's
gateway, where the worker containers reach them (they have no route out of the machine). The
secrets and the certificate come from `scripts/docker-dev.sh init`. One test override
(docker-compose.test.yml here) keeps node-exporter from mounting the host's root, which the test
machines refuse, and points the summarizer at the fake model.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest

from refnet.db.migrate import HEAD_REVISION
from tests.fakes.s2_graph import SyntheticGraph
from tests.fakes.s2_server import Faults
from tests.support.api import free_port
from tests.support.compose import ROOT, Compose, wait_until
from tests.support.stack import (
    ADMIN,
    PROJECT,
    REFNET_SCRAPE_JOBS,
    Stack,
    crawl_to_notes,
    dev_script,
    sql,
    vault_copy,
    well_cited,
)
from tests.support.vault import paper_notes

# The first test builds the images (about 2.5 minutes on a new checkout) and starts the stack.
pytestmark = pytest.mark.timeout(1800)

WORKER_QUEUES = {"crawler", "summarizer", "generator", "maintenance"}


# --- the stack up -------------------------------------------------------------------------------


def test_every_service_is_up_and_healthy_and_only_nginx_and_prometheus_publish(
    stack: Stack,
) -> None:
    containers = {c["Service"]: c for c in stack.compose.services()}
    assert set(containers) == {
        "nginx", "migrate", "api", "worker-crawler", "worker-summarizer", "worker-generator",
        "worker-maintenance", "beat", "flower", "postgres", "redis", "prometheus",
        "alertmanager", "node-exporter", "postgres-exporter", "redis-exporter", "nginx-exporter",
    }  # fmt: skip
    assert containers["migrate"]["State"] == "exited"
    assert containers["migrate"]["ExitCode"] == 0
    for name, container in containers.items():
        if name == "migrate":
            continue
        assert container["State"] == "running", (name, container["Status"])
        assert container["Health"] in ("healthy", ""), (name, container["Status"])
    with_health = {n for n, c in containers.items() if c["Health"] == "healthy"}
    assert {"nginx", "api", "beat", "flower", "postgres", "redis", "prometheus"} <= with_health
    assert {f"worker-{queue}" for queue in WORKER_QUEUES} <= with_health
    published = {
        name
        for name, container in containers.items()
        if any(p.get("PublishedPort") for p in container.get("Publishers") or [])
    }
    assert published == {"nginx", "prometheus"}  # Prometheus: on 127.0.0.1 only


def test_the_image_runs_as_its_own_user_with_no_build_tools(stack: Stack) -> None:
    inspected = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{json .Config}}", "refnet:latest"],
        env=stack.compose.env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    config = json.loads(inspected.stdout)
    assert config["User"] == "10001:10001"
    assert config["Healthcheck"]["Test"] == ["CMD", "refnet", "probe", "api"]
    assert config["Labels"]["org.opencontainers.image.title"] == "RefNet"
    looked = stack.compose.exec(
        "api", "sh", "-c", "id -u; for t in gcc cc make curl; do command -v $t || true; done"
    )
    assert looked.split() == ["10001"]


def test_https_health_answers_through_nginx_with_security_headers(stack: Stack) -> None:
    with stack.client() as client:
        answer = client.get("/health")
        metrics = client.get("/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": "ok"}
    assert answer.headers["strict-transport-security"].startswith("max-age=")
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-request-id"]
    assert metrics.status_code == 404  # never public


def test_plain_http_redirects_to_https(stack: Stack) -> None:
    answer = httpx.get(f"http://127.0.0.1:{stack.http_port}/health?check=1")
    assert answer.status_code == 301
    # To the standard HTTPS port: the redirect cannot know which host port Docker publishes.
    assert answer.headers["location"] == "https://127.0.0.1/health?check=1"


def test_flower_is_reached_through_nginx_only_with_its_password(stack: Stack) -> None:
    with stack.client() as client:
        refused = client.get("/flower/")
        wrong = client.get("/flower/", auth=("refnet", "not-the-password"))
        answered = client.get("/flower/", auth=("refnet", stack.secret("flower_password")))
        workers = client.get(
            "/flower/api/workers?refresh=1", auth=("refnet", stack.secret("flower_password"))
        )
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Basic")
    assert wrong.status_code == 401
    assert answered.status_code == 200
    assert "Flower" in answered.text
    assert workers.status_code == 200
    queues = {
        queue["name"]
        for worker in workers.json().values()
        for queue in worker.get("active_queues") or []
    }
    assert queues >= WORKER_QUEUES


def test_the_first_admin_logs_in_and_searches(stack: Stack) -> None:
    token = stack.admin_token()
    with stack.client(token) as client:
        me = client.get("/auth/me")
        search = client.get("/api/papers/search", params={"q": "test"})
    assert me.status_code == 200, me.text
    assert (me.json()["username"], me.json()["role"]) == (ADMIN, "admin")
    assert search.status_code == 200, search.text
    assert isinstance(search.json()["items"], list)


# --- the whole job, on the worker containers ----------------------------------------------------


@pytest.fixture(scope="module")
def first_crawl(stack: Stack, graph: SyntheticGraph) -> dict[str, Any]:
    """The first crawl of the stack (the tests that need data in it share it)."""
    stack.s2.reset_counters()
    return crawl_to_notes(stack, graph, well_cited(graph, 0))


def test_a_crawl_from_a_paper_url_ends_as_notes_in_the_vault_volume(
    stack: Stack, first_crawl: dict[str, Any]
) -> None:
    result = first_crawl

    assert result["job"]["progress"]["papers_collected"] > 1
    assert result["detail"]["summary"] is not None  # summarized on the summarizer's container
    vault = vault_copy(stack, "vault-after-crawl")
    notes = paper_notes(vault)
    note_path = vault / result["detail"]["note_path"]
    assert note_path.read_text() == result["note"]
    neighbours = set(notes[note_path.stem].links) & set(notes)
    assert len(neighbours) >= 2, notes[note_path.stem].links
    # Through the crawler's secret file, on every request.
    assert stack.s2.api_keys_seen == {stack.s2_api_key}


def test_semantic_scholar_503_then_429_are_retried_until_the_job_is_done(
    stack: Stack, graph: SyntheticGraph
) -> None:
    paper = well_cited(graph, 40)
    stack.s2.reset_counters()
    stack.s2.faults = Faults(opening=("503", "429"), retry_after=1.0)
    try:
        result = crawl_to_notes(stack, graph, paper)
    finally:
        stack.s2.faults = Faults()
    assert stack.s2.faulted_requests == 2
    assert stack.s2.total_requests > 2  # the failed requests were made again
    vault = vault_copy(stack, "vault-after-faults")
    assert (vault / result["detail"]["note_path"]).read_text() == result["note"]
    assert result["job"]["error"] is None


def test_postgres_keeps_statement_statistics_of_the_crawls(
    stack: Stack, first_crawl: dict[str, Any]
) -> None:
    calls = sql(
        stack,
        "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements "
        "WHERE query ILIKE '%INSERT INTO papers%' OR query ILIKE '%FROM papers%'",
    )
    assert int(calls) > 0


def test_the_load_test_runs_against_the_stack_and_samples_each_container(
    stack: Stack, first_crawl: dict[str, Any]
) -> None:
    """`benchmarks/load_test.py --target` on the running stack, briefly: a report with latency
    and rate, and CPU and memory of each of the project's containers. The stack's own rate
    limits apply to the one simulated address, so whether the levels are met is not asked."""
    env = {**stack.compose.env, "REFNET_LOAD_PASSWORD": stack.secret("bootstrap_admin_password")}
    done = subprocess.run(
        [
            sys.executable, "-m", "benchmarks.load_test", "--target", stack.https,
            "--ca", str(stack.tls_dir / "fullchain.pem"), "--username", ADMIN,
            "--compose-project", PROJECT, "--profile", "normal", "--duration", "10",
            "--processes", "1",
        ],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stdout[-2000:] + done.stderr[-3000:]
    report = json.loads(done.stdout.splitlines()[-1])
    resources = report["resources"]
    print(f"load on the stack: {report['rps']} requests/s, p95 {report['p95_ms']} ms, {resources}")
    assert {"api", "nginx", "postgres", "redis", "worker-crawler"} <= set(resources["cpu_pct"])
    assert resources["memory_mb"]["postgres"] > 0 and resources["memory_mb"]["api"] > 0
    assert report["requests"] > 0 and report["p95_ms"] is not None
    assert set(report["unmeasured"]) == {"pool_use", "query_p95_ms"}, report["unmeasured"]


# --- monitoring ---------------------------------------------------------------------------------


def test_prometheus_has_every_target_up(stack: Stack) -> None:
    url = f"http://127.0.0.1:{stack.prometheus_port}/api/v1/targets"

    def targets_up() -> list[dict[str, Any]] | None:
        targets: list[dict[str, Any]] = httpx.get(url).json()["data"]["activeTargets"]
        return targets if targets and all(t["health"] == "up" for t in targets) else None

    targets = wait_until(targets_up, "every target up in Prometheus", seconds=120, interval=3)
    jobs = {t["labels"]["job"] for t in targets}
    assert jobs >= REFNET_SCRAPE_JOBS
    assert {"node", "postgres", "redis", "nginx", "alertmanager", "prometheus"} <= jobs
    queues = {t["labels"].get("queue") for t in targets if t["labels"]["job"] == "refnet-worker"}
    assert queues == WORKER_QUEUES


# --- bad input ----------------------------------------------------------------------------------


def refused_run(stack: Stack, service: str, *arguments: str) -> str:
    """`docker compose run` of a service that must refuse to start: its output, checked to be
    a message and not a stack trace."""
    done = stack.compose.run(
        "run", "--rm", "--no-deps", "-T", *arguments, service, check=False, timeout=300
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "Traceback" not in output, output
    return output


def test_an_empty_database_stops_the_api_naming_the_migration_to_run(stack: Stack) -> None:
    stack.compose.exec(
        "postgres", "psql", "--username=refnet", "--dbname=refnet",
        "--command=CREATE DATABASE refnet_blank",
    )  # fmt: skip
    output = refused_run(
        stack, "api", "--env", "DATABASE_URL=postgresql+psycopg://refnet@postgres:5432/refnet_blank"
    )
    assert "has no RefNet schema" in output
    assert HEAD_REVISION in output
    assert "refnet db upgrade" in output


def test_an_unreachable_database_stops_migrate_with_the_reason(stack: Stack) -> None:
    output = refused_run(
        stack, "migrate", "--env", "DATABASE_URL=postgresql+psycopg://refnet@postgres:5433/refnet"
    )
    # Exit status 75 (try again later): Compose's restart policy starts it again.
    assert "database unavailable" in output
    assert "port 5433 failed: Connection refused" in output


def test_a_placeholder_secret_in_production_stops_the_api_naming_it(stack: Stack) -> None:
    placeholder = stack.workdir / "placeholder_jwt_secret"
    placeholder.write_text("changeme")
    placeholder.chmod(0o644)
    output = refused_run(
        stack,
        "api",
        "--volume", f"{placeholder}:/run/placeholder/jwt_secret:ro",
        "--env", "JWT_SECRET_FILE=/run/placeholder/jwt_secret",
    )  # fmt: skip
    assert "JWT_SECRET is a placeholder" in output


def other_project(stack: Stack, name: str, **env: str) -> Compose:
    """A project beside the test's stack, on networks of its own, for starts that must fail."""
    return Compose(
        f"{PROJECT}-{name}",
        {
            **stack.compose.env,
            "REFNET_FRONTEND_SUBNET": "172.30.130.0/24",
            "REFNET_BACKEND_SUBNET": "172.30.140.0/24",
            "REFNET_HTTP_PORT": str(free_port()),
            "REFNET_HTTPS_PORT": str(free_port()),
            **env,
        },
        files=("docker-compose.yml", "docker-compose.airgap.yml"),
        profiles=(),
    )


def refused_start(project: Compose, service: str) -> str:
    try:
        done = project.run("up", "--no-deps", "--detach", service, check=False, timeout=300)
    finally:
        project.down()
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    return output


def test_a_missing_secret_file_stops_the_start_naming_it(stack: Stack) -> None:
    partial = stack.workdir / "partial-secrets"
    shutil.copytree(stack.secrets_dir, partial)
    (partial / "flower_password").unlink()
    project = other_project(stack, "secret", REFNET_SECRETS_DIR=str(partial))
    output = refused_start(project, "flower")
    assert f"{partial}/flower_password" in output


def test_a_missing_certificate_stops_nginx_naming_the_file(stack: Stack) -> None:
    empty = stack.workdir / "no-tls"
    empty.mkdir()
    project = other_project(stack, "tls", REFNET_TLS_DIR=str(empty))
    output = refused_start(project, "nginx")
    assert f"{empty}/fullchain.pem" in output or f"{empty}/privkey.pem" in output


def test_a_taken_port_stops_nginx_naming_the_port(stack: Stack) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        project = other_project(stack, "port", REFNET_HTTPS_PORT=str(port))
        output = refused_start(project, "nginx")
    assert f"127.0.0.1:{port}" in output
    assert "address already in use" in output


# --- operations through scripts/docker-dev.sh ---------------------------------------------------


def test_the_dev_script_lists_the_services_and_migrates_once(stack: Stack) -> None:
    listed = dev_script(stack.compose.env, "ps")
    for service in ("nginx", "api", "worker-crawler", "beat", "flower", "postgres", "redis"):
        assert f"{PROJECT}-{service}-1" in listed
    migrated = dev_script(stack.compose.env, "migrate")
    assert f"Database already at revision {HEAD_REVISION}." in migrated


def test_the_dev_script_backs_up_and_restores_the_database(
    stack: Stack, first_crawl: dict[str, Any]
) -> None:
    citations = int(sql(stack, "SELECT count(*) FROM citations"))
    assert citations > 0

    output = dev_script(stack.compose.env, "backup")
    assert "Backups copied to" in output
    copied = stack.workdir / "backups"
    (dump,) = copied.glob("database-*.dump")
    assert list(copied.glob("vault-*.tar.gz"))

    sql(stack, "DELETE FROM citations")  # the accident the backup is for

    def restored() -> str | None:
        # A restore refuses while workers write (summaries of the crawls may still run).
        output = dev_script(stack.compose.env, "restore", dump.stem, check=False)
        if output.startswith("exit "):
            assert "work is writing to the database" in output, output
            return None
        return output

    output = wait_until(restored, "a restore once the workers are idle", seconds=300, interval=5)
    assert f"Restored the database from backup {dump.stem}" in output
    assert int(sql(stack, "SELECT count(*) FROM citations")) == citations
    beat = next(c for c in stack.compose.services() if c["Service"] == "beat")
    assert beat["State"] == "running"  # started again after the restore


# --- last: the data outlives the containers -----------------------------------------------------


def test_down_and_up_again_keeps_users_papers_and_notes(
    stack: Stack, first_crawl: dict[str, Any]
) -> None:
    paper = first_crawl["detail"]["s2_id"]
    with stack.client(stack.admin_token()) as client:
        before = client.get(f"/api/papers/{paper}").json()
        jobs_before = client.get("/api/jobs").json()["total"]
    stack.compose.run("down", "--timeout", "60")
    assert stack.compose.services() == []
    started = time.monotonic()
    stack.up()
    print(f"stack up again, every health check passing, in {time.monotonic() - started:.0f} s")

    with stack.client(stack.admin_token()) as client:  # the same admin, the same password
        after = client.get(f"/api/papers/{paper}").json()
        jobs_after = client.get("/api/jobs").json()["total"]
        note = client.get(f"/api/papers/{paper}/note")
    assert after["title"] == before["title"]
    assert after["summary"] == before["summary"]
    assert jobs_after == jobs_before
    assert note.status_code == 200
    vault = vault_copy(stack, "vault-after-restart")
    assert (vault / after["note_path"]).read_text() == note.text
