"""`refnet probe api|worker|beat`, run as a container health check runs them: exit 0 while the
process answers, 1 with one line saying what failed when it does not."""

from __future__ import annotations

import re
import subprocess
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, cast

from tests.fakes.loopback import LoopbackServer, OwnedHTTPServer
from tests.support.api import api_server, clean_environment, free_port
from tests.support.workers import REFNET, running_workers

EXPOSITION = """\
# HELP refnet_beat_tick_timestamp_seconds Unix time of the beat's last scheduler tick.
# TYPE refnet_beat_tick_timestamp_seconds gauge
refnet_beat_tick_timestamp_seconds {tick}
"""


def probe(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [REFNET, "probe", *args],
        env={**clean_environment(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def failed(done: subprocess.CompletedProcess[str], code: int = 1) -> str:
    """The one line a failed probe printed, once its exit code is checked."""
    assert done.returncode == code, done.stdout + done.stderr
    [line] = done.stderr.splitlines()
    return line


class FakeBeatExporter(LoopbackServer):
    """Beat's metrics endpoint: /metrics answers `exposition`; /slow never answers in time."""

    exposition = ""


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        exporter: FakeBeatExporter = cast(OwnedHTTPServer, self.server).owner
        if self.path == "/slow":
            exporter.stall(5)
        if self.path != "/metrics":
            self.send_error(404)
            return
        body = exporter.exposition.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


FakeBeatExporter.handler_class = _Handler


def test_the_api_probe_passes_while_the_api_answers(tmp_path: Path) -> None:
    with api_server(tmp_path, {}) as server:
        assert probe("api", "--url", server.base_url + "/health").returncode == 0
        line = failed(probe("api", "--url", server.base_url + "/no-such-route"))
    assert line == f"api probe failed: {server.base_url}/no-such-route answered status 404"


def test_the_api_probe_fails_on_a_closed_port() -> None:
    url = f"http://127.0.0.1:{free_port()}/health"
    assert failed(probe("api", "--url", url)) == f"api probe failed: {url}: connection refused"


def test_a_probe_refuses_a_url_it_cannot_fetch() -> None:
    line = failed(probe("api", "--url", "file:///etc/passwd"), code=2)
    assert (
        line
        == "api probe failed: --url must be an http:// or https:// URL, not 'file:///etc/passwd'"
    )


def test_the_worker_probe_pings_this_hosts_worker_of_its_queue(
    pg_url: str, redis_url: str, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": pg_url, "REDIS_URL": redis_url, "REFNET_DATA_DIR": str(tmp_path)}
    with running_workers([[REFNET, "worker", "--queue", "maintenance"]], env, tmp_path):
        alive = probe("worker", "--queue", "maintenance", env=env)
        absent = probe("worker", "--queue", "crawler", "--timeout", "1", env=env)
    assert alive.returncode == 0, alive.stderr
    assert "crawler@" in failed(absent) and "did not answer a ping within 1 s" in failed(absent)


def test_the_worker_probe_needs_a_broker() -> None:
    line = failed(probe("worker", "--queue", "crawler"), code=2)
    assert "set REDIS_URL or CELERY_BROKER_URL" in line


def test_the_beat_probe_passes_while_the_scheduler_ticks() -> None:
    with FakeBeatExporter() as exporter:
        url = f"http://127.0.0.1:{exporter.port}/metrics"
        exporter.exposition = EXPOSITION.format(tick=time.time() - 30)
        fresh = probe("beat", "--url", url)
        stale = probe("beat", "--url", url, "--max-age", "10")
        exporter.exposition = EXPOSITION.format(tick=time.time() - 3600)
        stopped = probe("beat", "--url", url)  # the default --max-age: 600 s
    assert fresh.returncode == 0, fresh.stderr
    assert re.search(r"last ticked 3\d s ago \(more than 10 s\)$", failed(stale))
    assert re.search(r"last ticked 36\d\d s ago \(more than 600 s\)$", failed(stopped))


def test_the_beat_probe_fails_without_a_tick() -> None:
    with FakeBeatExporter() as exporter:
        base = f"http://127.0.0.1:{exporter.port}"
        exporter.exposition = "# TYPE refnet_other gauge\nrefnet_other 1\n"
        absent = probe("beat", "--url", base + "/metrics")
        exporter.exposition = "<html>a login page</html>\n"
        garbled = probe("beat", "--url", base + "/metrics")
        slow = probe("beat", "--url", base + "/slow", "--timeout", "0.5")
    assert failed(absent).endswith("publishes no refnet_beat_tick_timestamp_seconds")
    assert failed(garbled).endswith("does not answer in the Prometheus text format")
    assert failed(slow) == f"beat probe failed: {base}/slow did not answer within 0.5 s"
    closed = f"http://127.0.0.1:{free_port()}/metrics"
    assert failed(probe("beat", "--url", closed)).endswith(f"{closed}: connection refused")
