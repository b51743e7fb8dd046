"""The crawler on real databases (SQLite and PostgreSQL), fed by a snapshot of a synthetic graph."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from refnet.core.errors import NotFound, TransientError
from refnet.crawler import steps
from refnet.crawler.params import CrawlParams
from refnet.crawler.service import JobBusy, run_crawl, start_crawl
from refnet.db.base import utcnow
from refnet.db.models import JobStatus
from refnet.db.session import get_engine
from refnet.sources.records import CitationRecord, PaperRecord
from refnet.sources.snapshot import SnapshotSource
from tests.fakes.s2_graph import SyntheticGraph, make_graph
from tests.support.network import expected_edges, row_counts, stored_network, write_snapshot


@pytest.fixture(scope="module")
def graph() -> SyntheticGraph:
    return make_graph(600, seed=7)


@pytest.fixture
def snapshot(graph: SyntheticGraph, tmp_path: Path) -> SnapshotSource:
    return SnapshotSource(write_snapshot(graph, tmp_path / "graph.jsonl"))


def most_cited(graph: SyntheticGraph, n: int = 1) -> list[str]:
    """The most cited papers among those that cite at least five others."""
    citing = [pid for pid in graph.papers if sum(r is not None for r in graph.references[pid]) >= 5]
    return sorted(citing, key=lambda pid: (-len(graph.citations_of(pid)), pid))[:n]


def crawl(url: str, source: object, seeds: Sequence[str], **params: int) -> tuple[int, str]:
    job_id, _ = start_crawl(
        database_url=url,
        seeds=seeds,
        params=CrawlParams(**params),
        source_name="snapshot:test",
    )
    outcome = run_crawl(job_id, database_url=url, source=source)  # type: ignore[arg-type]
    return job_id, outcome.status


def depths(url: str) -> dict[str, int]:
    with get_engine(url).connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT p.s2_id, f.depth FROM crawl_frontier f JOIN papers p ON p.id = f.paper_id "
                "WHERE f.state IN ('collected', 'expanded')"
            )
        )
        return dict(rows.all())


def test_crawl_stores_the_true_links_among_collected_papers(
    database_url: str, graph: SyntheticGraph, snapshot: SnapshotSource
) -> None:
    seed = most_cited(graph)[0]
    _, status = crawl(database_url, snapshot, [seed], max_depth=2, max_papers=150)

    network = stored_network(database_url)
    assert status == JobStatus.COMPLETED
    assert seed in network.papers
    assert len(network.papers) == 150
    assert network.edges == expected_edges(graph, network.papers)


def test_crawl_respects_depth_and_paper_limits(
    database_url: str, graph: SyntheticGraph, snapshot: SnapshotSource
) -> None:
    seed = most_cited(graph)[0]
    crawl(database_url, snapshot, [seed], max_depth=1, max_papers=10_000)

    found = depths(database_url)
    neighbours = set(graph.citations_of(seed)) | {r for r in graph.references[seed] if r}
    assert found[seed] == 0
    assert set(found) == neighbours | {seed}
    assert all(depth == (0 if pid == seed else 1) for pid, depth in found.items())


def test_fan_out_caps_limit_the_neighbours_followed(
    database_url: str, graph: SyntheticGraph, snapshot: SnapshotSource
) -> None:
    seed = most_cited(graph)[0]
    crawl(
        database_url,
        snapshot,
        [seed],
        max_depth=1,
        max_papers=10_000,
        max_citations_per_paper=5,
        max_references_per_paper=3,
    )

    assert len(depths(database_url)) == 1 + 5 + 3


def test_crawl_twice_changes_nothing(
    database_url: str, graph: SyntheticGraph, snapshot: SnapshotSource
) -> None:
    seeds = most_cited(graph, 2)
    crawl(database_url, snapshot, seeds, max_depth=2, max_papers=120)
    first, counts = stored_network(database_url), row_counts(database_url)

    crawl(database_url, snapshot, seeds, max_depth=2, max_papers=120)

    assert stored_network(database_url) == first
    assert row_counts(database_url) == counts


def test_seeds_sharing_papers_store_each_paper_once(
    database_url: str, graph: SyntheticGraph, snapshot: SnapshotSource
) -> None:
    first, second = most_cited(graph, 2)
    crawl(database_url, snapshot, [first], max_depth=1, max_papers=10_000)
    crawl(database_url, snapshot, [second], max_depth=1, max_papers=10_000)

    with get_engine(database_url).connect() as connection:
        duplicates = connection.scalar(
            sa.text("SELECT count(*) - count(DISTINCT s2_id) FROM papers")
        )
    shared = (set(graph.citations_of(first)) & set(graph.citations_of(second))) - {None}
    network = stored_network(database_url)
    assert shared and shared <= network.papers
    assert duplicates == 0
    assert network.edges == expected_edges(graph, network.papers)


class FlakySource:
    """Passes calls to a source, but fails the `fail_at`-th call once."""

    def __init__(self, inner: SnapshotSource, fail_at: int, error: BaseException) -> None:
        self.inner, self.fail_at, self.error, self.calls = inner, fail_at, error, 0
        self.name = inner.name

    def _tick(self) -> None:
        self.calls += 1
        if self.calls == self.fail_at:
            raise self.error

    def get_papers(self, ids: Sequence[str]) -> list[PaperRecord | None]:
        self._tick()
        return self.inner.get_papers(ids)

    def get_citations(
        self, paper_id: str, *, limit: int, published_since: str | None = None
    ) -> list[CitationRecord]:
        self._tick()
        return self.inner.get_citations(paper_id, limit=limit, published_since=published_since)

    def match_title(self, title: str) -> PaperRecord | None:
        self._tick()
        return self.inner.match_title(title)

    def close(self) -> None:
        return None


@pytest.mark.parametrize("fail_at", range(1, 9))
def test_interrupted_crawl_resumes_to_the_same_network(
    database_url: str, graph: SyntheticGraph, snapshot: SnapshotSource, fail_at: int
) -> None:
    seeds = most_cited(graph, 2)
    flaky = FlakySource(snapshot, fail_at, TransientError("Semantic Scholar is down"))
    job_id, status = crawl(database_url, flaky, seeds, max_depth=2, max_papers=500)
    assert status == JobStatus.PAUSED

    resumed_id, status = crawl(database_url, snapshot, seeds, max_depth=2, max_papers=500)
    assert (resumed_id, status) == (job_id, JobStatus.COMPLETED)
    resumed, counts = stored_network(database_url), row_counts(database_url)

    with get_engine(database_url).begin() as connection:
        for table in ("crawl_frontier", "crawl_jobs", "citations", "paper_authors", "papers"):
            connection.execute(sa.text(f"DELETE FROM {table}"))
    crawl(database_url, snapshot, seeds, max_depth=2, max_papers=500)
    assert stored_network(database_url) == resumed
    assert row_counts(database_url)["citations"] == counts["citations"]


def test_crash_inside_a_step_rolls_back_and_resumes(
    database_url: str,
    graph: SyntheticGraph,
    snapshot: SnapshotSource,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed = most_cited(graph)[0]
    real = steps.upsert_citations
    calls = {"n": 0}

    def crash_on_third(**kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # the process dies between two writes of one step
        real(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(steps, "upsert_citations", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        crawl(database_url, snapshot, [seed], max_depth=2, max_papers=150)
    monkeypatch.setattr(steps, "upsert_citations", real)

    _, status = crawl(database_url, snapshot, [seed], max_depth=2, max_papers=150)

    network = stored_network(database_url)
    assert status == JobStatus.COMPLETED
    assert len(network.papers) == 150
    assert network.edges == expected_edges(graph, network.papers)


class RefusesOneListing(FlakySource):
    """The source answers 404 to the citations listing of one paper."""

    def __init__(self, inner: SnapshotSource, refused: str) -> None:
        super().__init__(inner, fail_at=0, error=NotFound("gone"))
        self.refused = refused

    def get_citations(
        self, paper_id: str, *, limit: int, published_since: str | None = None
    ) -> list[CitationRecord]:
        if paper_id == self.refused:
            raise NotFound(
                f"Semantic Scholar /paper/{{paper_id}}/citations: not found ({paper_id})"
            )
        return self.inner.get_citations(paper_id, limit=limit, published_since=published_since)


def test_one_unlistable_paper_does_not_fail_the_crawl(
    database_url: str, graph: SyntheticGraph, snapshot: SnapshotSource
) -> None:
    first, second = most_cited(graph, 2)
    _, status = crawl(
        database_url, RefusesOneListing(snapshot, second), [first, second], max_depth=1
    )

    network = stored_network(database_url)
    assert status == JobStatus.COMPLETED
    assert set(graph.citations_of(first)) <= network.papers
    assert second in network.papers


def test_a_job_running_elsewhere_is_not_run_twice(
    database_url: str, graph: SyntheticGraph, snapshot: SnapshotSource
) -> None:
    seed = most_cited(graph)[0]
    job_id, _ = start_crawl(
        database_url=database_url,
        seeds=[seed],
        params=CrawlParams(max_depth=1),
        source_name="snapshot:test",
    )
    with get_engine(database_url).begin() as connection:
        connection.execute(
            sa.text("UPDATE crawl_jobs SET status = 'running', updated_at = :now"),
            {"now": utcnow()},
        )
    with pytest.raises(JobBusy, match="already running"):
        run_crawl(job_id, database_url=database_url, source=snapshot)
    assert snapshot.requests_made == 0

    with get_engine(database_url).begin() as connection:  # the other process died long ago
        connection.execute(
            sa.text("UPDATE crawl_jobs SET updated_at = :then"),
            {"then": utcnow() - timedelta(hours=1)},
        )
    assert run_crawl(job_id, database_url=database_url, source=snapshot).status == "completed"
