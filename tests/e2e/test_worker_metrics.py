"""A prefork worker's exporter, as Prometheus scrapes it: every task its pool ran counted once,
however many pool processes ran them; counts from zero after a restart or a crash, never with
what the run before left in the multiprocess directory; a scrape during a restart answers whole
or not at all; and a worker whose exporter port is taken still does its work."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
from celery import Celery
from prometheus_client.parser import text_string_to_metric_families

from refnet.core.config import Settings
from refnet.core.handoff import REPORT_STATISTICS
from refnet.worker.celery_app import make_celery
from tests.support.api import free_port
from tests.support.workers import (
    REFNET,
    running_processes,
    stack_environment,
    tail,
    wait_for,
)

QUEUE = "maintenance"
WORKER = [REFNET, "worker", "--queue", QUEUE, "-c", "2"]
RECEIVED = "refnet_celery_tasks_received_total"
STARTED = "refnet_celery_tasks_started_total"
SUCCEEDED = "refnet_celery_tasks_succeeded_total"
RUNTIME = "refnet_celery_task_runtime_seconds_count"
FIGURES = (RECEIVED, STARTED, SUCCEEDED, RUNTIME)


@dataclass
class Host:
    """One machine's worker setup: its settings, its multiprocess base and its exporter port."""

    env: dict[str, str]
    base: Path
    port: int
    workdir: Path
    redis_url: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/metrics"

    def logs(self, run: str) -> Path:
        directory = self.workdir / run
        directory.mkdir()
        return directory

    def figures(self) -> dict[str, float]:
        """The statistics task's counts as the exporter serves them (summed over processes)."""
        answer = httpx.get(self.url, timeout=5)
        assert answer.status_code == 200, answer.text
        return task_figures(answer.text)

    def run_tasks(self, app: Celery, count: int, logs: Path) -> None:
        before = self.figures()[SUCCEEDED]
        for _ in range(count):
            app.send_task(REPORT_STATISTICS, queue=QUEUE)
        wait_for(
            lambda: self.figures()[SUCCEEDED] >= before + count,
            seconds=30,
            what=f"{count} tasks counted as succeeded",
            logs=logs,
        )
        broker = redis.Redis.from_url(self.redis_url)
        wait_for(  # every message acknowledged too: none is handed out again after a kill
            lambda: broker.llen(QUEUE) == 0 and broker.hlen("unacked") == 0,
            seconds=10,
            what="every message acknowledged",
            logs=logs,
        )
        broker.close()


@pytest.fixture
def host(pg_url: str, redis_url: str, tmp_path: Path) -> Host:
    base, port = tmp_path / "metrics", free_port()
    base.mkdir()  # made by the operator (test_metrics_dir: a missing one stops every command)
    env = stack_environment(
        pg_url,
        redis_url,
        tmp_path,
        s2_url="http://127.0.0.1:9",  # no task here calls it
        PROMETHEUS_MULTIPROC_DIR=str(base),
        METRICS__WORKER_PORT=str(port),
    )
    return Host(env, base, port, tmp_path, redis_url)


def task_figures(exposition: str) -> dict[str, float]:
    found: dict[str, float] = defaultdict(float)
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name in FIGURES and sample.labels.get("task") == REPORT_STATISTICS:
                assert sample.labels["queue"] == QUEUE
                found[sample.name] += sample.value
    return found


def counting_processes(directory: Path) -> set[str]:
    """Pids of the processes that wrote counters in `directory` (counter_<pid>.db)."""
    return {file.stem.rpartition("_")[2] for file in directory.glob("counter_*.db")}


@contextmanager
def worker(
    host: Host, logs: Path, *, exporting: bool = True
) -> Iterator[tuple[subprocess.Popen[bytes], Celery]]:
    """`refnet worker` with two pool processes, once it answers a ping (and, if `exporting`, its
    exporter a scrape); stopped with SIGTERM at the end."""
    with running_processes([WORKER], host.env, logs) as [process]:
        app = make_celery(Settings(database_url=host.env["DATABASE_URL"], redis_url=host.redis_url))

        def answers() -> bool:
            assert process.poll() is None, "the worker exited:\n" + tail(logs)
            return bool(app.control.ping(timeout=1.0))

        try:
            wait_for(answers, seconds=60, what="a ping", logs=logs)
            if exporting:
                wait_exporting(host, logs)
            yield process, app
        finally:
            app.close()


def process_directories(host: Host) -> list[str]:
    return sorted(path.name for path in host.base.iterdir() if path.is_dir())


def wait_exporting(host: Host, logs: Path) -> None:
    def answers() -> bool:
        try:
            return httpx.get(host.url, timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    wait_for(answers, seconds=20, what="the worker's exporter", logs=logs)


def test_a_prefork_worker_counts_every_task_its_pool_ran(host: Host) -> None:
    """Pool processes replaced every two tasks: the counts of those that exited still count."""
    host.env["WORKERS__MAINTENANCE__MAX_TASKS_PER_CHILD"] = "2"
    logs = host.logs("run")
    with worker(host, logs) as (process, app):
        assert host.figures() == dict.fromkeys((RECEIVED, STARTED, SUCCEEDED), 0.0)

        host.run_tasks(app, 8, logs)

        assert host.figures() == dict.fromkeys(FIGURES, 8.0)
        own = host.base / f"worker-{process.pid}"
        assert len(counting_processes(own)) >= 1 + 4  # the main process and 4+ pool processes


def test_a_restarted_worker_counts_from_zero(host: Host) -> None:
    first_logs = host.logs("first")
    with worker(host, first_logs) as (_, app):
        host.run_tasks(app, 4, first_logs)
        assert host.figures()[SUCCEEDED] == 4
    second_logs = host.logs("second")
    with worker(host, second_logs) as (process, app):
        assert host.figures() == dict.fromkeys((RECEIVED, STARTED, SUCCEEDED), 0.0)
        assert process_directories(host) == [f"worker-{process.pid}"]
        host.run_tasks(app, 2, second_logs)
        assert host.figures() == dict.fromkeys(FIGURES, 2.0)


def test_a_crashed_worker_leaves_nothing_counted_twice(host: Host) -> None:
    crashed_logs = host.logs("crashed")
    with worker(host, crashed_logs) as (process, app):
        host.run_tasks(app, 4, crashed_logs)
        pool = subprocess.run(
            ["pgrep", "-P", str(process.pid)], capture_output=True, text=True, check=False
        ).stdout.split()
        assert len(pool) == 2, tail(crashed_logs)
        for pid in [process.pid, *map(int, pool)]:
            os.kill(pid, signal.SIGKILL)
        process.wait()  # reaped: its pid is free, as after a crash
    crashed_dir = host.base / f"worker-{process.pid}"
    assert counting_processes(crashed_dir)  # its counts are still on disk

    logs = host.logs("after")
    with worker(host, logs) as (restarted, app):
        assert process_directories(host) == [f"worker-{restarted.pid}"]  # the crashed one's gone
        assert host.figures() == dict.fromkeys((RECEIVED, STARTED, SUCCEEDED), 0.0)
        host.run_tasks(app, 1, logs)
        assert host.figures() == dict.fromkeys(FIGURES, 1.0)


class Scraper(threading.Thread):
    """Scrapes the exporter as fast as it answers until stopped: what each scrape got, in order
    (None for a scrape that failed: refused, or cut off mid-answer)."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.outcomes: list[httpx.Response | None] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self.stopped.is_set():
                try:
                    self.outcomes.append(client.get(self.url))
                except httpx.TransportError:
                    self.outcomes.append(None)
                    self.stopped.wait(0.02)

    def answered(self) -> int:
        return sum(outcome is not None for outcome in self.outcomes)

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=10)


def test_a_scrape_during_a_restart_answers_whole_or_not_at_all(host: Host) -> None:
    first_logs, second_logs = host.logs("first"), host.logs("second")
    scraper = Scraper(host.url)
    try:
        with worker(host, first_logs) as (_, app):
            host.run_tasks(app, 2, first_logs)
            scraper.start()
            wait_for(lambda: scraper.answered() > 5, seconds=10, what="scrapes", logs=first_logs)
        # stopped with SIGTERM, then started again, while the scrapes go on
        with worker(host, second_logs):
            served = scraper.answered()
            wait_for(
                lambda: scraper.answered() > served + 5,
                seconds=10,
                what="scrapes of the new worker",
                logs=second_logs,
            )
            scraper.stop()
    finally:
        scraper.stop()

    answers = [outcome for outcome in scraper.outcomes if outcome is not None]
    assert [answer.status_code for answer in answers] == [200] * len(answers)
    seen: list[float | str] = []  # successive outcomes, repeats folded: succeeded count or down
    for outcome in scraper.outcomes:
        figures = {} if outcome is None else task_figures(outcome.text)  # parses in full
        # every answer has every series the worker made at start
        assert outcome is None or set(figures) >= {RECEIVED, STARTED, SUCCEEDED}, outcome.text
        now = "down" if outcome is None else figures[SUCCEEDED]
        if not seen or seen[-1] != now:
            seen.append(now)
    assert seen == [2.0, "down", 0.0]


def test_a_worker_whose_exporter_port_is_taken_still_works(host: Host) -> None:
    logs = host.logs("run")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", host.port))
        taken.listen()
        with worker(host, logs, exporting=False) as (_, app):
            app.send_task(REPORT_STATISTICS, queue=QUEUE)
            log = logs / "worker0.log"
            wait_for(
                lambda: "statistics_report" in log.read_text(errors="replace"),
                seconds=30,
                what="the statistics task to run",
                logs=logs,
            )
    events = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    [refused] = [line for line in events if line["event"] == "metrics_exporter_not_started"]
    assert refused["port"] == host.port
