"""Two crawls of overlapping neighbourhoods at once on PostgreSQL, as two crawler workers run
them: both complete without a single deadlock, and every paper and link is stored once."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from structlog.testing import capture_logs

from refnet.crawler.params import CrawlParams
from refnet.crawler.service import run_crawl, start_crawl
from refnet.db.session import get_engine
from refnet.sources.snapshot import SnapshotSource
from tests.fakes.s2_graph import make_graph
from tests.support.network import expected_edges, stored_network, write_snapshot

ROUNDS = 3


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_overlapping_crawls_at_once_both_complete(pg_url: str, tmp_path: Path, round_: int) -> None:
    graph = make_graph(4000, seed=40 + round_)
    path = write_snapshot(graph, tmp_path / "graph.jsonl")
    by_citations = sorted(graph.papers, key=lambda p: (-len(graph.citations_of(p)), p))
    seeds = [[by_citations[0]], [by_citations[1]]]  # hubs share many neighbours
    jobs = [
        start_crawl(
            database_url=pg_url,
            seeds=job_seeds,
            params=CrawlParams(max_depth=2, max_papers=1500),
            source_name="snapshot:test",
        )[0]
        for job_seeds in seeds
    ]
    outcomes: dict[int, object] = {}
    start = threading.Barrier(len(jobs))

    def run(job_id: int) -> None:
        source = SnapshotSource(path)  # each worker reads its own copy
        start.wait()
        try:
            outcomes[job_id] = run_crawl(job_id, database_url=pg_url, source=source).status
        except Exception as exc:
            outcomes[job_id] = exc

    threads = [threading.Thread(target=run, args=(job_id,)) for job_id in jobs]
    with capture_logs() as logs:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)

    assert outcomes == {job_id: "completed" for job_id in jobs}
    # Writes in key order leave nothing to deadlock on: no step even had to be retried.
    assert [entry for entry in logs if entry["event"] == "crawl_step_retried"] == []
    network = stored_network(pg_url)
    assert network.edges == expected_edges(graph, network.papers)
    with get_engine(pg_url).connect() as connection:
        duplicates = connection.scalar(
            sa.text("SELECT count(*) - count(DISTINCT s2_id) FROM papers")
        )
        per_job = connection.execute(
            sa.text(
                "SELECT job_id, count(*) FROM crawl_frontier "
                "WHERE state IN ('collected', 'expanded') GROUP BY job_id"
            )
        ).all()
    assert duplicates == 0
    assert dict(per_job) == {job_id: 1500 for job_id in jobs}
