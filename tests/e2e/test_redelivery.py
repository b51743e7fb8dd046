"""No work lost or done twice when a process dies or a message comes twice: real workers on a real
Redis broker and PostgreSQL, fed by fake Semantic Scholar and a fake OpenAI-compatible model.

A worker's pool process killed with SIGKILL in the middle of a crawl, a summary or a backup: its
message is handed out again (late acknowledgement, reject-on-worker-lost), the new delivery takes
its own lease, claim or lock back (a backup's lock once it lapses), and the end state is the one a
run without the kill leaves.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from celery import Celery

from refnet.core.config import Settings
from refnet.core.handoff import BACKUP_DATABASE, CRAWL_SEEDS, SUMMARIZE_PAPERS
from refnet.crawler.params import CrawlParams
from refnet.crawler.service import run_crawl, start_crawl
from refnet.db.session import get_engine
from refnet.sources.factory import open_source
from refnet.summarizer.service import NOTHING_TO_SUMMARIZE
from tests.fakes.llm_servers import FakeOpenAI
from tests.fakes.s2_graph import SyntheticGraph, make_graph
from tests.fakes.s2_server import FakeSemanticScholar
from tests.support.api import free_port
from tests.support.network import stored_network
from tests.support.vault import paper_notes
from tests.support.workers import (
    REFNET,
    running_workers,
    stack_environment,
    summarizer_on,
    tail,
    wait_for,
    wait_idle,
)

PARAMS = CrawlParams(max_depth=3, max_papers=250)  # six requests: seed, expand, collect…


@pytest.fixture
def graph() -> SyntheticGraph:
    return make_graph(300, seed=33)


@pytest.fixture
def s2(graph: SyntheticGraph) -> Iterator[FakeSemanticScholar]:
    with FakeSemanticScholar(graph) as server:
        yield server


@pytest.fixture
def llm() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key="llm-test-key", latency=0.6) as server:
        yield server


@pytest.fixture
def env(
    pg_url: str, redis_url: str, tmp_path: Path, s2: FakeSemanticScholar, llm: FakeOpenAI
) -> dict[str, str]:
    return stack_environment(
        pg_url,
        redis_url,
        tmp_path,
        s2_url=s2.base_url,
        SEMANTIC_SCHOLAR_RATE="1",  # one request a second: a kill lands in the middle of the crawl
        **summarizer_on(llm),
    )


def scalar(url: str, sql: str) -> int:
    with get_engine(url).connect() as connection:
        return int(connection.scalar(sa.text(sql)) or 0)


def hub(graph: SyntheticGraph) -> str:
    return max(graph.papers, key=lambda p: (len(graph.citations_of(p)), p))


def kill_running(app: Celery, task_name: str) -> int:
    """SIGKILL the pool process running `task_name` (as the OOM killer would); its pid."""
    for tasks in (app.control.inspect(timeout=1.0).active() or {}).values():
        for task in tasks:
            if task["name"] == task_name:
                pid = int(task["worker_pid"])
                os.kill(pid, signal.SIGKILL)
                return pid
    raise AssertionError(f"{task_name} is not running")


def reference_network(graph: SyntheticGraph, s2: FakeSemanticScholar, tmp_path: Path) -> object:
    """The same crawl run to the end without interruption, in this process, on SQLite."""
    url = f"sqlite:///{tmp_path / 'reference.sqlite3'}"
    from refnet.db import migrate

    migrate.upgrade(url)
    settings = Settings(semantic_scholar_api_url=s2.base_url, semantic_scholar_rate=100)
    source = open_source(None, settings)
    try:
        job_id, _ = start_crawl(
            database_url=url, seeds=[hub(graph)], params=PARAMS, source_name=source.name
        )
        assert run_crawl(job_id, database_url=url, source=source).status == "completed"
    finally:
        source.close()
    return stored_network(url)


def no_duplicates(url: str) -> None:
    for table, key in (
        ("papers", "s2_id"),
        ("citations", "citing_id, cited_id"),
        ("summaries", "paper_id"),
        ("vault_files", "path"),
    ):
        assert scalar(url, f"SELECT count(*) FROM {table}") == scalar(
            url, f"SELECT count(*) FROM (SELECT DISTINCT {key} FROM {table}) AS keys"
        ), table


def crawl_under_way(app: Celery, url: str, graph: SyntheticGraph, logs: Path, papers: int) -> int:
    """The hub's crawl (PARAMS) sent to the workers; its job id once `papers` are collected."""
    job_id, _ = start_crawl(
        database_url=url, seeds=[hub(graph)], params=PARAMS, source_name="semantic_scholar"
    )
    app.send_task(CRAWL_SEEDS, kwargs={"job_id": job_id})
    collected = f"SELECT papers_collected FROM crawl_jobs WHERE id={job_id}"
    wait_for(
        lambda: scalar(url, collected) >= papers, seconds=60, what="the crawl under way", logs=logs
    )
    return job_id


def test_a_crawl_killed_midway_is_redelivered_and_ends_as_an_uninterrupted_one(
    env: dict[str, str], graph: SyntheticGraph, s2: FakeSemanticScholar, tmp_path: Path
) -> None:
    url = env["DATABASE_URL"]
    env = {**env, "SUMMARIZER__PROVIDER": "extractive"}
    commands = [
        [REFNET, "worker", "--queue", queue] for queue in ("crawler", "summarizer", "generator")
    ]
    with running_workers(commands, env, tmp_path) as app:
        job_id = crawl_under_way(app, url, graph, tmp_path, papers=100)
        killed = kill_running(app, CRAWL_SEEDS)
        assert scalar(url, "SELECT count(*) FROM crawl_jobs WHERE status='running'") == 1

        def finished() -> bool:
            done = scalar(
                url, f"SELECT count(*) FROM crawl_jobs WHERE id={job_id} AND status='completed'"
            )
            notes = len(list((Path(env["VAULT_DIR"]) / "papers").glob("*.md")))
            return bool(done) and notes == PARAMS.max_papers

        wait_for(finished, seconds=180, what="the crawl, summaries and notes", logs=tmp_path)
        wait_idle(app, env["REDIS_URL"], tmp_path)
    assert f"Process {killed}" in tail(tmp_path) or "WorkerLostError" in tail(tmp_path)

    assert stored_network(url) == reference_network(graph, s2, tmp_path)
    no_duplicates(url)
    # Every paper summarized once; those with no text at all failed with that reason.
    assert scalar(url, "SELECT count(*) FROM summaries") == PARAMS.max_papers
    with get_engine(url).connect() as connection:
        outcomes = set(connection.execute(sa.text("SELECT status, error FROM summaries")).all())
    assert outcomes <= {("done", None), ("failed", NOTHING_TO_SUMMARIZE)}
    assert len(paper_notes(Path(env["VAULT_DIR"]))) == PARAMS.max_papers
    assert scalar(url, "SELECT count(*) FROM task_failures") == 0


def crawled_papers(env: dict[str, str], graph: SyntheticGraph, max_papers: int) -> list[int]:
    """Papers stored by a crawl run here, before any worker starts."""
    url = env["DATABASE_URL"]
    settings = Settings(
        semantic_scholar_api_url=env["SEMANTIC_SCHOLAR_API_URL"], semantic_scholar_rate=100
    )
    source = open_source(None, settings)
    try:
        job_id, _ = start_crawl(
            database_url=url,
            seeds=[hub(graph)],
            params=CrawlParams(max_depth=1, max_papers=max_papers),
            source_name=source.name,
        )
        run_crawl(job_id, database_url=url, source=source)
    finally:
        source.close()
    with get_engine(url).connect() as connection:
        return list(
            connection.scalars(
                sa.text("SELECT id FROM papers WHERE crawl_state <> 'discovered' ORDER BY id")
            )
        )


def test_a_summary_chunk_killed_midway_is_redelivered_and_pays_no_answer_twice(
    env: dict[str, str], graph: SyntheticGraph, llm: FakeOpenAI, tmp_path: Path
) -> None:
    url = env["DATABASE_URL"]
    papers = crawled_papers(env, graph, 10)
    commands = [[REFNET, "worker", "--queue", queue] for queue in ("summarizer", "generator")]
    with running_workers(commands, env, tmp_path) as app:
        app.send_task(SUMMARIZE_PAPERS, kwargs={"paper_ids": papers})
        wait_for(
            lambda: scalar(url, "SELECT count(*) FROM summaries WHERE status='done'") >= 3,
            seconds=60,
            what="summaries under way",
            logs=tmp_path,
        )
        kill_running(app, SUMMARIZE_PAPERS)
        killed_at = llm.request_count

        def all_done() -> bool:
            settled = scalar(
                url, "SELECT count(*) FROM summaries WHERE status IN ('done','failed')"
            )
            done = scalar(url, "SELECT count(*) FROM summaries WHERE status='done'")
            notes = paper_notes(Path(env["VAULT_DIR"])) if Path(env["VAULT_DIR"]).exists() else {}
            summarized = sum(
                n.properties.get("summary_provider") == "openai" for n in notes.values()
            )
            return settled == len(papers) and summarized == done

        # Well before a claim would go stale (30 minutes): the redelivered chunk took it back.
        wait_for(all_done, seconds=90, what="every paper summarized", logs=tmp_path)
        wait_idle(app, env["REDIS_URL"], tmp_path)
    no_duplicates(url)
    # Only the answer the killed process was waiting for can have been asked for again.
    done = scalar(url, "SELECT count(*) FROM summaries WHERE status='done'")
    assert done >= len(papers) - 3
    assert done <= llm.request_count <= done + 1
    assert killed_at < done
    assert scalar(url, "SELECT count(*) FROM task_failures") == 0


def test_the_same_summaries_asked_twice_at_once_are_paid_once(
    env: dict[str, str], graph: SyntheticGraph, llm: FakeOpenAI, tmp_path: Path
) -> None:
    url = env["DATABASE_URL"]
    papers = crawled_papers(env, graph, 8)
    env = {**env, "WORKERS__SUMMARIZER__CONCURRENCY": "2"}
    commands = [[REFNET, "worker", "--queue", queue] for queue in ("summarizer", "generator")]
    with running_workers(commands, env, tmp_path) as app:
        for _ in range(2):  # a double-clicked trigger, a duplicated message
            app.send_task(SUMMARIZE_PAPERS, kwargs={"paper_ids": papers})
        wait_for(
            lambda: (
                scalar(url, "SELECT count(*) FROM summaries WHERE status IN ('done','failed')")
                == len(papers)
            ),
            seconds=90,
            what="every paper summarized",
            logs=tmp_path,
        )
        wait_idle(app, env["REDIS_URL"], tmp_path)
    assert llm.request_count == scalar(url, "SELECT count(*) FROM summaries WHERE status='done'")
    no_duplicates(url)


def test_sigterm_lets_the_running_task_finish(
    env: dict[str, str], graph: SyntheticGraph, llm: FakeOpenAI, tmp_path: Path
) -> None:
    """A warm shutdown (what `docker stop` sends): the chunk being summarized is finished, not
    dropped, and the worker exits cleanly."""
    url = env["DATABASE_URL"]
    papers = crawled_papers(env, graph, 4)
    llm.latency = 1.5
    with running_workers([[REFNET, "worker", "--queue", "summarizer"]], env, tmp_path) as app:
        app.send_task(SUMMARIZE_PAPERS, kwargs={"paper_ids": papers})
        wait_for(
            lambda: llm.request_count >= 1, seconds=30, what="the first request", logs=tmp_path
        )
        [stats] = (app.control.inspect(timeout=1.0).stats() or {}).values()
        os.kill(int(stats["pid"]), signal.SIGTERM)
        wait_for(
            lambda: not app.control.ping(timeout=0.5),
            seconds=60,
            what="the worker to stop",
            logs=tmp_path,
        )
    settled = "SELECT count(*) FROM summaries WHERE status IN ('done','failed')"
    assert scalar(url, settled) == len(papers)
    assert llm.request_count == scalar(url, "SELECT count(*) FROM summaries WHERE status='done'")
    assert '"worker_stopping"' in tail(tmp_path)


def test_a_restore_waits_for_the_task_a_worker_is_running(
    env: dict[str, str], graph: SyntheticGraph, llm: FakeOpenAI, tmp_path: Path
) -> None:
    """The database cannot see a summary chunk in flight; the broker's workers can say."""
    import subprocess

    papers = crawled_papers(env, graph, 4)
    run = {**os.environ, **env}
    made = subprocess.run([REFNET, "backup", "create"], env=run, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    name = next((Path(env["REFNET_DATA_DIR"]) / "backups").glob("database-*.json")).stem
    llm.latency = 2.0
    with running_workers([[REFNET, "worker", "--queue", "summarizer"]], env, tmp_path) as app:
        app.send_task(SUMMARIZE_PAPERS, kwargs={"paper_ids": papers})
        wait_for(lambda: llm.request_count >= 1, seconds=30, what="a summary", logs=tmp_path)
        refused = subprocess.run(
            [REFNET, "backup", "restore", name], env=run, capture_output=True, text=True
        )
    assert refused.returncode != 0
    message = " ".join(refused.stderr.split())
    assert f"task {SUMMARIZE_PAPERS} on summarizer@" in message, refused.stderr
    assert "--force" in message and "Traceback" not in refused.stderr


@contextmanager
def table_locked(url: str, table: str) -> Iterator[None]:
    """`table` locked against every reader until the block ends: a backup's dump waits on it."""
    with get_engine(url).connect() as connection, connection.begin():
        connection.execute(sa.text(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
        yield


def test_a_backup_killed_midway_is_made_once_by_the_redelivered_task(
    env: dict[str, str], graph: SyntheticGraph, tmp_path: Path
) -> None:
    url = env["DATABASE_URL"]
    crawled_papers(env, graph, 4)
    backups = Path(env["REFNET_DATA_DIR"]) / "backups"
    waiting_on_lock = (
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        " AND datname = current_database()"
    )
    with running_workers([[REFNET, "worker", "--queue", "maintenance"]], env, tmp_path) as app:
        with table_locked(url, "papers"):
            app.send_task(BACKUP_DATABASE)
            wait_for(
                lambda: scalar(url, waiting_on_lock) > 0,
                seconds=60,
                what="the backup under way",
                logs=tmp_path,
            )
            killed = kill_running(app, BACKUP_DATABASE)
        killed_at = time.monotonic()
        # The dead run's lock lapses within a minute; the redelivered task then makes the backup.
        wait_for(
            lambda: len(list(backups.glob("database-*.json"))) == 1,
            seconds=150,
            what="the backup made by the redelivered task",
            logs=tmp_path,
        )
        made_after = time.monotonic() - killed_at
        wait_idle(app, env["REDIS_URL"], tmp_path)
    assert f"Process {killed}" in tail(tmp_path) or "WorkerLostError" in tail(tmp_path)
    assert len(list(backups.glob("database-*.json"))) == 1, sorted(backups.iterdir())
    assert made_after < 120
    assert scalar(url, "SELECT count(*) FROM task_failures") == 0


@contextmanager
def private_redis(workdir: Path) -> Iterator[tuple[str, Callable[[], None], Callable[[], None]]]:
    """A Redis server of the test's own, keeping an append-only file as the stack's does; its
    URL, and how to stop it (a clean shutdown) and start it again on the same port and files."""
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    command = [
        "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
        "--appendonly", "yes", "--appendfsync", "everysec", "--dir", str(workdir),
    ]  # fmt: skip
    server: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        server.append(subprocess.Popen(command, stdout=subprocess.DEVNULL))
        client = redis.Redis(port=port)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "the test's Redis did not start"
                time.sleep(0.1)

    def stop() -> None:
        server[-1].terminate()  # SIGTERM: Redis writes its append-only file and exits
        server[-1].wait(timeout=20)

    start()
    try:
        yield f"redis://127.0.0.1:{port}/0", stop, start
    finally:
        if server[-1].poll() is None:
            stop()


def test_a_crawl_whose_broker_restarts_midway_ends_as_an_uninterrupted_one(
    env: dict[str, str], graph: SyntheticGraph, s2: FakeSemanticScholar, tmp_path: Path
) -> None:
    """Redis (the broker, and the crawl's shared rate limiter) stopped mid-crawl: the crawl
    pauses, cannot hand itself to the broker while it is away, and goes on once it is back."""
    url = env["DATABASE_URL"]
    with private_redis(tmp_path / "redis") as (redis_url, stop_redis, start_redis):
        env = {**env, "REDIS_URL": redis_url, "SUMMARIZER__PROVIDER": "extractive"}
        commands = [[REFNET, "worker", "--queue", "crawler"]]
        with running_workers(commands, env, tmp_path) as app:
            job_id = crawl_under_way(app, url, graph, tmp_path, papers=1)
            stop_redis()
            time.sleep(8)  # longer than a request at one a second: the crawl meets the outage
            start_redis()
            wait_for(
                lambda: bool(
                    scalar(
                        url,
                        f"SELECT count(*) FROM crawl_jobs WHERE id={job_id} AND status='completed'",
                    )
                ),
                seconds=180,
                what="the crawl finished after the broker came back",
                logs=tmp_path,
            )
    assert stored_network(url) == reference_network(graph, s2, tmp_path)
    no_duplicates(url)
    assert scalar(url, "SELECT count(*) FROM task_failures") == 0
