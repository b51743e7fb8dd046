"""Beat on a compressed clock: every entry fires at its interval (seconds instead of days, from
settings) and its work gets done by real workers; two beats started together fire each entry
once per interval, and the second takes over when the first dies.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
import sqlalchemy as sa

from refnet.core.config import Settings
from refnet.crawler.params import CrawlParams
from refnet.crawler.service import run_crawl, start_crawl
from refnet.crawler.watch import watch_seeds
from refnet.db.queries.operations import ScheduleRunView, list_findings, list_schedule_runs
from refnet.db.session import get_engine, session_scope
from refnet.sources.factory import open_source
from tests.fakes.s2_graph import SyntheticGraph, make_graph
from tests.fakes.s2_server import FakeSemanticScholar
from tests.support.workers import (
    REFNET,
    running_processes,
    running_workers,
    stack_environment,
    tail,
    wait_for,
    wait_idle,
)

# Seconds between runs of each entry on the compressed clock.
INTERVALS = {
    "health": 3,
    "statistics": 4,
    "summary_sweep": 4,
    "regenerate": 5,
    "backup_database": 6,
    "backup_vault": 6,
    "recrawl": 8,
    "retention": 8,
}
ALL_QUEUES = ("crawler", "summarizer", "generator", "maintenance")


@pytest.fixture
def graph() -> SyntheticGraph:
    return make_graph(120, seed=8)


@pytest.fixture
def env(
    pg_url: str, redis_url: str, tmp_path: Path, graph: SyntheticGraph
) -> Iterator[dict[str, str]]:
    with FakeSemanticScholar(graph) as s2:
        yield stack_environment(
            pg_url,
            redis_url,
            tmp_path,
            s2_url=s2.base_url,
            SCHEDULE__LOCK_TIMEOUT="5",
            BACKUP__KEEP_DAILY="1",
            BACKUP__KEEP_WEEKLY="0",
            BACKUP__KEEP_MONTHLY="0",
        )


def compressed(env: dict[str, str], intervals: dict[str, int]) -> dict[str, str]:
    """`env` with each entry of `intervals` every so many seconds, and every other one off."""
    timings = {}
    for entry in INTERVALS:
        if entry in intervals:
            timings[f"SCHEDULE__{entry.upper()}__TIMING"] = f"{intervals[entry]}s"
        else:
            timings[f"SCHEDULE__{entry.upper()}__ENABLED"] = "false"
    return {**env, **timings, "SCHEDULE__SUMMARY_SWEEP__BATCH": "10"}


def beats(
    count: int, env: dict[str, str], logs: Path
) -> AbstractContextManager[list[subprocess.Popen[bytes]]]:
    """`count` beat processes, logs in `logs/beat<i>.log`."""
    return running_processes([[REFNET, "beat"]] * count, env, logs, name="beat")


def runs(url: str) -> dict[str, ScheduleRunView]:
    with session_scope(url) as session:
        return {run.entry: run for run in list_schedule_runs(session=session)}


def holds_lock(log: Path) -> bool:
    return "beat: Acquired lock" in log.read_text(errors="replace")


def scalar(url: str, sql: str) -> int:
    with get_engine(url).connect() as connection:
        return int(connection.scalar(sa.text(sql)) or 0)


def seed_network(env: dict[str, str], graph: SyntheticGraph) -> str:
    """A small crawl stored before beat starts, its seed watched for new citations."""
    settings = Settings(
        semantic_scholar_api_url=env["SEMANTIC_SCHOLAR_API_URL"], semantic_scholar_rate=100
    )
    seed = max(graph.papers, key=lambda p: (len(graph.citations_of(p)), p))
    source = open_source(None, settings)
    try:
        job_id, _ = start_crawl(
            database_url=env["DATABASE_URL"],
            seeds=[seed],
            params=CrawlParams(max_depth=1, max_papers=25),
            source_name=source.name,
        )
        run_crawl(job_id, database_url=env["DATABASE_URL"], source=source)
    finally:
        source.close()
    watch_seeds(database_url=env["DATABASE_URL"], seeds=[seed])
    return seed


def fires_expected(seconds: float, interval: int) -> range:
    """Runs of an entry in `seconds` of beat: the first comes one interval after start; one
    either way for start-up and the moment beat was stopped."""
    expected = int(seconds // interval)
    return range(max(1, expected - 1), expected + 2)


def test_each_entry_fires_at_its_interval_and_does_its_work(
    env: dict[str, str], graph: SyntheticGraph, tmp_path: Path
) -> None:
    url = env["DATABASE_URL"]
    seed_network(env, graph)
    env = compressed(env, INTERVALS)
    commands = [[REFNET, "worker", "--queue", queue] for queue in ALL_QUEUES]
    with running_workers(commands, env, tmp_path) as app:
        with beats(1, env, tmp_path):
            wait_for(
                lambda: holds_lock(tmp_path / "beat0.log"), seconds=30, what="beat", logs=tmp_path
            )
            started = time.monotonic()
            time.sleep(25)
        ran_for = time.monotonic() - started
        wait_idle(app, env["REDIS_URL"], tmp_path)

    recorded = runs(url)
    assert set(recorded) == set(INTERVALS)
    for entry, interval in INTERVALS.items():
        run = recorded[entry]
        assert run.fired_count in fires_expected(ran_for, interval), (entry, run, ran_for)
        # A run whose message waited longer than one interval was dropped, not piled up.
        assert 1 <= run.completed_count <= run.fired_count, (entry, run)
        assert run.last_outcome == "ok", (entry, run.last_detail, tail(tmp_path))

    # And each did its work.
    assert (
        scalar(
            url, "SELECT count(*) FROM crawl_jobs WHERE kind='incremental' AND status='completed'"
        )
        >= 1
    )
    assert scalar(url, "SELECT count(*) FROM watched_seeds WHERE last_crawled_at IS NOT NULL") == 1
    assert scalar(url, "SELECT count(*) FROM summaries WHERE status='done'") >= 10
    notes = list((Path(env["VAULT_DIR"]) / "papers").glob("*.md"))
    assert len(notes) == scalar(
        url, "SELECT count(*) FROM papers WHERE crawl_state <> 'discovered'"
    )
    backups = Path(env["REFNET_DATA_DIR"]) / "backups"
    kinds = {path.name.split("-")[0] for path in backups.glob("*.json")}
    assert kinds == {"database", "vault"}
    # Retention kept one per kind (the newest good one), plus what was made after it last ran.
    made = recorded["backup_database"].completed_count + recorded["backup_vault"].completed_count
    assert len(list(backups.glob("*.json"))) < made
    with session_scope(url) as session:
        findings = {finding.part: finding for finding in list_findings(session=session)}
    assert findings["database"].ok and findings["worker_crawler"].ok
    assert findings["backup_database"].ok, findings["backup_database"].detail
    statistics = json.loads(recorded["statistics"].last_detail or "{}")
    assert statistics["papers_collected"] + statistics.get("papers_expanded", 0) >= 25


def test_two_beats_fire_each_entry_once_per_interval_and_hand_over(
    env: dict[str, str], tmp_path: Path
) -> None:
    url = env["DATABASE_URL"]
    env = compressed(env, {"health": 2})
    with running_workers([[REFNET, "worker", "--queue", "maintenance"]], env, tmp_path) as app:
        with beats(2, env, tmp_path) as processes:
            logs = [tmp_path / "beat0.log", tmp_path / "beat1.log"]
            wait_for(lambda: any(map(holds_lock, logs)), seconds=30, what="a beat", logs=tmp_path)
            started = time.monotonic()
            time.sleep(12)
            first = runs(url)["health"].fired_count
            assert first in fires_expected(time.monotonic() - started, 2), first
            assert [holds_lock(log) for log in logs].count(True) == 1  # the other one waits

            active = next(i for i, log in enumerate(logs) if holds_lock(log))
            processes[active].kill()  # no goodbye: its lock has to run out
            killed = time.monotonic()
            standby = logs[1 - active]
            wait_for(lambda: holds_lock(standby), seconds=30, what="the take-over", logs=tmp_path)
            took_over = time.monotonic() - killed
            time.sleep(8)
            after = runs(url)["health"].fired_count - first
            since_kill = time.monotonic() - killed
        wait_idle(app, env["REDIS_URL"], tmp_path)
    assert took_over <= 5 + 5 + 2  # the lock's timeout and one wait for it
    # The new beat goes on from the last runs the dead one left in Redis: a run overdue by the
    # hand-over fires once, then one per interval; never two beats' worth.
    assert 3 <= after <= since_kill / 2 + 2, (after, since_kill)
    total = runs(url)["health"]
    assert total.completed_count <= total.fired_count
