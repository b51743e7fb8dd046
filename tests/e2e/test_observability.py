"""The monitoring as shipped, against the running system: a crawl asked for over HTTP goes through
real workers, then every metric a rule or a dashboard names is in what the API, the workers and
the beat export, and a real Prometheus started with the shipped configuration (its targets moved
to loopback) scrapes every RefNet target, loads the rules without an error and answers the
dashboards' queries with data."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import yaml
from prometheus_client.parser import text_string_to_metric_families

from refnet.core.config import Settings
from refnet.ops.backup import create_backup
from refnet.security.roles import Role
from refnet.worker.queues import QueueName
from tests.conftest import REDIS_URL, truncate_all
from tests.fakes.llm_servers import FakeOpenAI
from tests.fakes.s2_graph import make_graph
from tests.fakes.s2_server import FakeSemanticScholar
from tests.support.api import ApiServer, api_server, free_port
from tests.support.flower import flower
from tests.support.processes import serving
from tests.support.promql import dashboard_expressions, dashboards, metric_names, panels
from tests.support.workers import (
    REFNET,
    running_processes,
    running_workers,
    stack_environment,
    summarizer_on,
    wait_for,
    wait_idle,
)

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "monitoring" / "prometheus"
RULES = PROMETHEUS_DIR / "rules" / "refnet.rules.yml"
FLOWER_PASSWORD = "observability-flower-password-0123"
# Jobs of third-party exporters (and Prometheus' own neighbours): checked by promtool only, as
# their binaries are not part of this test. Their metrics are theirs, not RefNet's to export.
THIRD_PARTY_JOBS = {"node", "postgres", "redis", "nginx", "alertmanager"}
THIRD_PARTY_PREFIXES = ("node_", "pg_", "redis_", "nginx_")


@dataclass
class Stack:
    api: ApiServer
    worker_ports: dict[str, int]
    beat_port: int
    flower_base: str
    logs: Path

    def exporters(self) -> dict[str, str]:
        found = {"api": self.api.base_url + "/metrics"}
        for queue, port in self.worker_ports.items():
            found[f"worker-{queue}"] = f"http://127.0.0.1:{port}/metrics"
        found["beat"] = f"http://127.0.0.1:{self.beat_port}/metrics"
        return found


def self_signed_certificate(directory: Path) -> Path:
    certificate = directory / "fullchain.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30"),
            *("-subj", "/CN=refnet.test", "-keyout", str(directory / "key.pem")),
            *("-out", str(certificate)),
        ],
        check=True,
        capture_output=True,
    )
    return certificate


@pytest.fixture(scope="module")
def stack(pg_migrated: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """API (two processes), a worker per queue, beat and Flower, each exporting on its own port,
    after one crawl asked for over HTTP has been crawled, summarized and written to the vault."""
    pg_url, redis_url = pg_migrated, REDIS_URL
    truncate_all(pg_url)
    redis.Redis.from_url(redis_url).flushdb()
    workdir = tmp_path_factory.mktemp("observability")
    graph = make_graph(80, seed=9)
    seed = max(graph.papers, key=lambda p: (len(graph.citations_of(p)), p))
    worker_ports = {queue.value: free_port() for queue in QueueName}
    beat_port = free_port()
    with FakeSemanticScholar(graph) as s2, FakeOpenAI() as llm:
        env = stack_environment(
            pg_url,
            redis_url,
            workdir,
            s2_url=s2.base_url,
            **summarizer_on(llm),
            METRICS__BEAT_PORT=str(beat_port),
            METRICS__TLS_CERTIFICATE_FILE=str(self_signed_certificate(workdir)),
            SCHEDULE__HEALTH__TIMING="5s",
            FLOWER_USER="refnet",  # the user the shipped scrape configuration logs in as
            FLOWER_PASSWORD=FLOWER_PASSWORD,
        )
        # `env` gives each worker its own exporter port; they share everything else.
        commands = [
            ["env", f"METRICS__WORKER_PORT={port}", REFNET, "worker", "--queue", queue]
            for queue, port in worker_ports.items()
        ]
        with (
            running_workers(commands, env, workdir) as app,
            running_processes([[REFNET, "beat"]], env, workdir, name="beat"),
            api_server(workdir, env, workers=2) as api,
            flower(workdir, env) as flower_base,
        ):
            tokens = api.login(api.new_user(Role.ADMIN))
            with api.client(tokens["access_token"]) as client:
                answer = client.post(
                    "/api/papers/crawl", json={"paper_id": seed, "depth": 1, "max_papers": 15}
                )
                assert answer.status_code == 202, answer.text
                for _ in range(20):
                    searched = client.get("/api/papers/search", params={"q": "network"})
                    assert searched.status_code == 200, searched.text
            notes = workdir / "vault" / "papers"
            wait_for(
                lambda: notes.exists() and len(list(notes.glob("*.md"))) == 15,
                seconds=120,
                what="the crawl's notes",
                logs=workdir,
            )
            # A malformed message (an argument the task does not take) fails for good and waits
            # for a person: the failure counters and the failed-tasks gauge have something.
            app.send_task("refnet.maintenance.report_statistics", kwargs={"bogus": 1})
            wait_idle(app, redis_url, workdir)
            settings = Settings(database_url=pg_url, data_dir=workdir / "data")
            create_backup(settings=settings, kind="database")
            stack = Stack(api, worker_ports, beat_port, flower_base, workdir)
            wait_for(
                lambda: "refnet_health_check_ok{" in _scrape(stack.exporters()["api"]),
                seconds=60,
                what="the scheduled health check's findings",
                logs=workdir,
            )
            yield stack


def _scrape(url: str) -> str:
    try:
        return httpx.get(url, timeout=10).text
    except httpx.TransportError:
        return ""


def exported_names(stack: Stack) -> dict[str, set[str]]:
    """The sample names each exporter serves."""
    found = {}
    for name, url in stack.exporters().items():
        answer = httpx.get(url, timeout=10)
        assert answer.status_code == 200, f"{name}: {answer.status_code}"
        found[name] = {
            sample.name
            for family in text_string_to_metric_families(answer.text)
            for sample in family.samples
        }
    return found


def rule_expressions() -> list[str]:
    document = yaml.safe_load(RULES.read_text())
    return [rule["expr"] for group in document["groups"] for rule in group["rules"]]


def recorded_names() -> set[str]:
    document = yaml.safe_load(RULES.read_text())
    return {
        rule["record"]
        for group in document["groups"]
        for rule in group["rules"]
        if "record" in rule
    }


def refnet_names(expressions: list[str]) -> set[str]:
    names = {name for expression in expressions for name in metric_names(expression)}
    return {
        name
        for name in names - recorded_names() - {"up"}
        if not name.startswith(THIRD_PARTY_PREFIXES)
    }


def test_every_metric_a_rule_or_dashboard_names_is_exported(stack: Stack) -> None:
    exported = exported_names(stack)
    everything = set().union(*exported.values())
    used = refnet_names(rule_expressions() + dashboard_expressions())
    assert len(used) > 30, sorted(used)
    assert used <= everything, f"named but exported by no process: {sorted(used - everything)}"
    # Each part exports what it counts: tasks in the workers, the beat's loop in the beat.
    assert "refnet_celery_tasks_succeeded_total" in exported["worker-crawler"]
    assert "refnet_s2_requests_total" in exported["worker-crawler"]
    assert "refnet_llm_tokens_total" in exported["worker-summarizer"]
    assert "refnet_vault_notes_written_total" in exported["worker-generator"]
    assert "refnet_beat_tick_timestamp_seconds" in exported["beat"]
    assert "refnet_celery_tasks_sent_total" in exported["api"]


def test_labels_stay_low_cardinality(stack: Stack) -> None:
    """Paths and methods a client makes up are counted under fixed labels, never as new ones."""
    with httpx.Client(base_url=stack.api.base_url) as client:
        for number in range(50):
            client.request("PROPFIND" if number % 2 else "GET", f"/no/such/path/{number}")
    text = httpx.get(stack.exporters()["api"], timeout=10).text
    requests = [
        sample
        for family in text_string_to_metric_families(text)
        if family.name == "refnet_http_requests"
        for sample in family.samples
    ]
    assert not any("/no/such/path" in sample.labels["route"] for sample in requests)
    assert {sample.labels["method"] for sample in requests} <= {"GET", "POST", "other"}
    assert {sample.labels["status"] for sample in requests} <= {"2xx", "3xx", "4xx", "5xx"}
    assert len(requests) < 40, [sample.labels for sample in requests]


@pytest.fixture(scope="module")
def prometheus(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Prometheus with the shipped configuration, every RefNet job pointed at this stack."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is not installed: `apt-get install -y prometheus` (Debian)")
    workdir = tmp_path_factory.mktemp("prometheus")
    port = free_port()
    (workdir / "flower_password").write_text(FLOWER_PASSWORD)
    config = loopback_configuration(stack, port, workdir)
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    command = [
        binary,
        f"--config.file={workdir / 'prometheus.yml'}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    base = f"http://127.0.0.1:{port}"
    with serving(command, log=workdir / "prometheus.log", ready_url=base + "/-/ready"):
        yield base


def loopback_configuration(stack: Stack, port: int, workdir: Path) -> dict[str, Any]:
    """The shipped prometheus.yml with each RefNet target moved to its process here, scraped
    every second; labels, paths and authentication as shipped."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    config["global"] |= {
        "scrape_interval": "1s",
        "scrape_timeout": "1s",
        "evaluation_interval": "1s",
    }
    config["rule_files"] = [str(PROMETHEUS_DIR / pattern) for pattern in config["rule_files"]]
    config.pop("alerting")
    flower_port = httpx.URL(stack.flower_base).port
    here = {
        "refnet-api": [httpx.URL(stack.api.base_url).netloc.decode()],
        "refnet-beat": [f"127.0.0.1:{stack.beat_port}"],
        "flower": [f"127.0.0.1:{flower_port}"],
        "prometheus": [f"127.0.0.1:{port}"],
    }
    jobs = []
    for job in config["scrape_configs"]:
        name = job["job_name"]
        if name in THIRD_PARTY_JOBS:
            continue
        if "basic_auth" in job:
            job["basic_auth"]["password_file"] = str(workdir / "flower_password")
        for group in job["static_configs"]:
            queue = group.get("labels", {}).get("queue")
            group["targets"] = [f"127.0.0.1:{stack.worker_ports[queue]}"] if queue else here[name]
        jobs.append(job)
    config["scrape_configs"] = jobs
    return config


def query(base: str, expression: str) -> list[dict[str, Any]]:
    answer = httpx.get(base + "/api/v1/query", params={"query": expression}, timeout=10)
    assert answer.status_code == 200, (expression, answer.text)
    result: list[dict[str, Any]] = answer.json()["data"]["result"]
    return result


def test_prometheus_scrapes_every_target_and_loads_every_rule(prometheus: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        targets = httpx.get(prometheus + "/api/v1/targets", timeout=10).json()["data"]
        active = targets["activeTargets"]
        down = [
            (t["labels"]["job"], t["scrapeUrl"], t["lastError"])
            for t in active
            if t["health"] != "up"
        ]
        if not down and active:
            break
        assert time.monotonic() < deadline, f"targets not up: {down}"
        time.sleep(1)
    jobs = {target["labels"]["job"] for target in active}
    assert jobs == {"refnet-api", "refnet-worker", "refnet-beat", "flower", "prometheus"}
    assert len([t for t in active if t["labels"]["job"] == "refnet-worker"]) == len(QueueName)
    groups = httpx.get(prometheus + "/api/v1/rules", timeout=10).json()["data"]["groups"]
    loaded = [rule for group in groups for rule in group["rules"]]
    assert len(loaded) == len(rule_expressions())
    broken = [(rule["name"], rule.get("lastError")) for rule in loaded if rule["health"] == "err"]
    assert not broken, broken


def test_the_dashboards_queries_return_data(prometheus: str) -> None:
    """After a few scrapes (rates need two samples), every RefNet panel has something to draw."""
    time.sleep(6)
    empty = []
    for name, dashboard in dashboards().items():
        if name == "refnet-system.json":
            continue  # host, PostgreSQL, Redis and nginx: the exporters' own figures
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                expression = target.get("expr", "")
                if not expression or expression.startswith("{"):
                    continue
                if not query(prometheus, expression):
                    empty.append(f"{name}: {panel['title']}: {expression}")
    assert not empty, "\n".join(empty)
    tls_days = query(
        prometheus, "(refnet_tls_certificate_expiry_timestamp_seconds - time()) / 86400"
    )
    assert 29 < float(tls_days[0]["value"][1]) <= 30
    up = query(prometheus, 'up{job=~"refnet-.*|flower"}')
    assert up and all(sample["value"][1] == "1" for sample in up)


def test_the_liveness_probes_pass_on_the_running_stack(stack: Stack) -> None:
    """What a container's health check runs, against the real worker, beat and API."""
    probes = [
        ["api", "--url", stack.api.base_url + "/health"],
        ["worker", "--queue", QueueName.CRAWLER.value],
        ["beat", "--url", stack.exporters()["beat"], "--max-age", "60"],
    ]
    for probe in probes:
        finished = subprocess.run(
            [REFNET, "probe", *probe], env=stack.api.env, capture_output=True, text=True, timeout=60
        )
        assert finished.returncode == 0, (probe, finished.stderr)
