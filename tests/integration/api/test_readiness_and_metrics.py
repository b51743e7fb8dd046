"""`/ready` with an AMQP broker (RabbitMQ), and `/metrics` summed over several server processes."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.integration.api.conftest import API_PG_URL, API_REDIS_URL
from tests.support.api import ApiServer, api_server

RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"


@pytest.mark.parametrize(
    ("broker", "ready", "says"),
    [(RABBITMQ, 200, "reachable"), ("amqp://guest:guest@127.0.0.1:9//", 503, "unreachable")],
)
def test_ready_checks_an_amqp_broker(
    tmp_path: Path, stack_api: ApiServer, broker: str, ready: int, says: str
) -> None:
    env = {"DATABASE_URL": API_PG_URL, "REDIS_URL": API_REDIS_URL, "CELERY_BROKER_URL": broker}
    with api_server(tmp_path, env, wait_ready=False) as server:
        answer = server.client().get("/ready")
    assert answer.status_code == ready, answer.text
    assert says in answer.json()["checks"]["broker"]
    if ready == 503:
        assert "broker" in answer.json()["status"]


def test_metrics_count_the_requests_of_every_server_process(tmp_path: Path) -> None:
    with api_server(tmp_path, {}, workers=2) as server:
        for _ in range(60):  # a new connection each time, so both processes take some
            assert httpx.get(server.base_url + "/health").status_code == 200
        text = httpx.get(server.base_url + "/metrics").text
    counted = re.search(
        r'refnet_http_requests_total\{method="GET",route="/health",status="2xx"\} (\S+)', text
    )
    assert counted is not None, text[:2000]
    assert float(counted.group(1)) >= 60


def test_a_restarted_api_counts_only_its_own_requests(tmp_path: Path) -> None:
    """One server process and PROMETHEUS_MULTIPROC_DIR set by the operator: the files of the run
    before a restart are not added to this run's counts."""
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    counts = []
    for _run in range(2):
        with api_server(tmp_path, env) as server:
            assert httpx.get(server.base_url + "/health").status_code == 200
            text = httpx.get(server.base_url + "/metrics").text
        found = re.search(
            r'refnet_http_requests_total\{method="GET",route="/health",status="2xx"\} (\S+)', text
        )
        assert found is not None, text[:2000]
        counts.append(float(found.group(1)))
    assert counts == [1.0, 1.0]
