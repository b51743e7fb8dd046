"""A crawl told to wait (Semantic Scholar's Retry-After, or the shared rate limiter pushed back by
another worker) is queued again with that countdown; the crawler worker is not held meanwhile."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from celery import Celery

from refnet.core.handoff import CRAWL_SEEDS
from refnet.crawler.params import CrawlParams
from refnet.crawler.service import start_crawl
from refnet.db.session import get_engine
from refnet.sources.rate_limit import RedisRateLimiter
from tests.fakes.s2_graph import SyntheticGraph, make_graph
from tests.fakes.s2_server import FakeSemanticScholar
from tests.support.network import write_snapshot
from tests.support.workers import REFNET, running_workers, wait_for

HOUR = 3600.0


@pytest.fixture
def graph() -> SyntheticGraph:
    return make_graph(300, seed=5)


@pytest.fixture
def crawler(
    pg_url: str, redis_url: str, tmp_path: Path, graph: SyntheticGraph
) -> Iterator[tuple[Celery, dict[str, str]]]:
    with FakeSemanticScholar(graph) as s2:
        env = {
            "DATABASE_URL": pg_url,
            "REDIS_URL": redis_url,
            "REFNET_DATA_DIR": str(tmp_path / "data"),
            "SEMANTIC_SCHOLAR_API_URL": s2.base_url,
            "SEMANTIC_SCHOLAR_RATE": "50",
            "SEMANTIC_SCHOLAR_MAX_WAIT": "5",
            "LOG_LEVEL": "INFO",
        }
        with running_workers([[REFNET, "worker", "--queue", "crawler"]], env, tmp_path) as app:
            yield app, env


def job_state(url: str, job_id: int) -> tuple[str, str | None]:
    with get_engine(url).connect() as connection:
        row = connection.execute(
            sa.text("SELECT status, error FROM crawl_jobs WHERE id = :id"), {"id": job_id}
        ).one()
    return row[0], row[1]


def test_a_long_wait_requeues_the_crawl_and_frees_the_worker(
    crawler: tuple[Celery, dict[str, str]], graph: SyntheticGraph, tmp_path: Path
) -> None:
    app, env = crawler
    url = env["DATABASE_URL"]
    RedisRateLimiter(env["REDIS_URL"], rate_per_second=50).penalize(HOUR)  # another worker got 429
    seed = next(iter(graph.papers))
    waiting, _ = start_crawl(
        database_url=url,
        seeds=[seed],
        params=CrawlParams(max_depth=1, max_papers=50),
        source_name="semantic_scholar",
    )
    sent = datetime.now(UTC)
    app.send_task(CRAWL_SEEDS, kwargs={"job_id": waiting})

    def scheduled() -> list[dict[str, object]]:
        answers = app.control.inspect(timeout=1.0).scheduled() or {}
        return [task for tasks in answers.values() for task in tasks]

    wait_for(lambda: bool(scheduled()), seconds=30, what="a rescheduled crawl", logs=tmp_path)
    [retry] = scheduled()
    countdown = (datetime.fromisoformat(str(retry["eta"])) - sent).total_seconds()
    assert 1790 <= countdown <= 1810  # the hour asked for, capped at the longest retry delay
    status, error = job_state(url, waiting)
    assert status == "paused" and "rate limit asks us to wait" in str(error)

    # The worker is free: another crawl (from a snapshot, no rate limit) runs to the end now.
    snapshot = write_snapshot(graph, tmp_path / "graph.jsonl")
    other, _ = start_crawl(
        database_url=url,
        seeds=[seed],
        params=CrawlParams(max_depth=1, max_papers=20),
        source_name=f"snapshot:{snapshot}",
    )
    app.send_task(CRAWL_SEEDS, kwargs={"job_id": other})
    wait_for(
        lambda: job_state(url, other)[0] == "completed",
        seconds=30,
        what="the second crawl",
        logs=tmp_path,
    )
    assert job_state(url, waiting)[0] == "paused"  # still waiting for its countdown
