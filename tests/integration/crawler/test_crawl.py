"""The crawler on real databases (SQLite and PostgreSQL), fed by a snapshot of a synthetic graph."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from refnet.core.errors import NotFound, TransientError
from refnet.core.records import CitationRecord, PaperRecord
from refnet.crawler import run as crawl_run
from refnet.crawler import steps
from refnet.crawler.params import CrawlParams
from refnet.crawler.plan import Request
from refnet.crawler.prefetch import Prefetcher
from refnet.crawler.scoring import score_paper
from refnet.crawler.service import JobBusy, run_crawl, start_crawl
from refnet.db.base import utcnow
from refnet.db.models import JobStatus
from refnet.db.queries import crawl as crawl_q
from refnet.db.queries import ranking as ranking_q
from refnet.db.session import get_engine
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
    """Passes calls to a source until the `fail_at`-th call; from then on the source is down.

    (A single failed call may be absorbed: a request made ahead in the background that fails is
    simply made again.)"""

    def __init__(self, inner: SnapshotSource, fail_at: int, error: BaseException) -> None:
        self.inner, self.fail_at, self.error, self.calls = inner, fail_at, error, 0
        self.name = inner.name
        self._lock = threading.Lock()

    def _tick(self) -> None:
        with self._lock:
            self.calls += 1
            calls = self.calls
        if self.fail_at and calls >= self.fail_at:
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
            sa.text("UPDATE crawl_jobs SET status = 'running', heartbeat_at = :now"),
            {"now": utcnow()},
        )
    with pytest.raises(JobBusy, match="already running"):
        run_crawl(job_id, database_url=database_url, source=snapshot)
    assert snapshot.requests_made == 0

    with get_engine(database_url).begin() as connection:  # the other process died long ago
        connection.execute(
            sa.text("UPDATE crawl_jobs SET heartbeat_at = :then"),
            {"then": utcnow() - timedelta(hours=1)},
        )
    assert run_crawl(job_id, database_url=database_url, source=snapshot).status == "completed"


class LeaseClock:
    """The clock the lease is kept by (the crawl's and the lease queries'), moved by hand."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = utcnow()
        for module in (crawl_run, crawl_q):
            monkeypatch.setattr(module, "utcnow", lambda: self.now)

    def advance(self, by: timedelta) -> None:
        self.now += by


class StallingSource(FlakySource):
    """Passes calls through, but the `stall_at`-th batch lookup waits until `release` is set."""

    def __init__(self, inner: SnapshotSource, stall_at: int) -> None:
        super().__init__(inner, fail_at=0, error=TransientError("unused"))
        self.stall_at, self.lookups = stall_at, 0
        self.release = threading.Event()

    def get_papers(self, ids: Sequence[str]) -> list[PaperRecord | None]:
        self._tick()
        self.lookups += 1
        if self.lookups == self.stall_at:
            self.release.wait(30)
        return self.inner.get_papers(ids)


def waits_for_a_batch(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once a crawl waits for a batch of papers requested ahead: it has committed its last
    step and is idle until the answer comes."""
    waiting = threading.Event()
    real = Prefetcher.take

    def take(self: Prefetcher, request: Request) -> object:
        if request[0] == "papers":
            waiting.set()
        return real(self, request)

    monkeypatch.setattr(Prefetcher, "take", take)
    return waiting


def test_a_process_that_outlives_its_lease_loses_the_job_and_writes_nothing_more(
    database_url: str,
    graph: SyntheticGraph,
    snapshot: SnapshotSource,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed = most_cited(graph)[0]
    crawl(database_url, snapshot, [seed], max_depth=2, max_papers=400)
    clean, clean_counts = stored_network(database_url), row_counts(database_url)
    with get_engine(database_url).begin() as connection:
        for table in ("crawl_frontier", "crawl_jobs", "citations", "paper_authors", "papers"):
            connection.execute(sa.text(f"DELETE FROM {table}"))

    clock = LeaseClock(monkeypatch)
    job_id, _ = start_crawl(
        database_url=database_url,
        seeds=[seed],
        params=CrawlParams(max_depth=2, max_papers=400),
        source_name="snapshot:test",
    )
    slow = StallingSource(snapshot, stall_at=2)  # the first batch of candidates never comes
    waiting = waits_for_a_batch(monkeypatch)
    outcome: list[BaseException | str] = []

    def first_process() -> None:
        try:
            outcome.append(run_crawl(job_id, database_url=database_url, source=slow).status)  # type: ignore[arg-type]
        except BaseException as exc:
            outcome.append(exc)

    first = threading.Thread(target=first_process)
    first.start()
    assert waiting.wait(30)  # the first process committed its last step and waits for the batch
    clock.advance(crawl_run.LEASE + timedelta(minutes=1))  # … for longer than its lease
    second = run_crawl(job_id, database_url=database_url, source=snapshot)
    slow.release.set()
    first.join(30)

    assert second.status == JobStatus.COMPLETED
    assert isinstance(outcome[0], JobBusy) and "taken over" in str(outcome[0])
    assert stored_network(database_url) == clean
    assert row_counts(database_url) == clean_counts
    with get_engine(database_url).connect() as connection:
        status = connection.scalar(sa.text("SELECT status FROM crawl_jobs"))
    assert status == JobStatus.COMPLETED  # the first process did not mark it paused


class TakeoverAttempts(FlakySource):
    """Every call takes four minutes (on the lease clock), and meanwhile another process tries
    to take the job over."""

    def __init__(self, inner: SnapshotSource, clock: LeaseClock, attempt: Callable[[], None]):
        super().__init__(inner, fail_at=0, error=TransientError("unused"))
        self.clock, self.attempt = clock, attempt

    def _tick(self) -> None:
        super()._tick()
        self.clock.advance(timedelta(minutes=4))
        other = threading.Thread(target=self.attempt)  # a process of its own, as it were
        other.start()
        other.join(30)


def test_a_crawl_longer_than_its_lease_keeps_it_by_renewing_at_every_step(
    database_url: str,
    graph: SyntheticGraph,
    snapshot: SnapshotSource,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = LeaseClock(monkeypatch)
    started = clock.now
    job_id, _ = start_crawl(
        database_url=database_url,
        seeds=[most_cited(graph)[0]],
        params=CrawlParams(max_depth=2, max_papers=400),
        source_name="snapshot:test",
    )
    refusals: list[str] = []

    def take_over() -> None:
        try:
            run_crawl(job_id, database_url=database_url, source=snapshot)
            refusals.append("taken over")
        except JobBusy:
            refusals.append("busy")

    slow = TakeoverAttempts(snapshot, clock, take_over)
    outcome = run_crawl(job_id, database_url=database_url, source=slow)  # type: ignore[arg-type]

    assert outcome.status == JobStatus.COMPLETED
    assert clock.now - started > 2 * crawl_run.LEASE  # the crawl outlasted its lease twice
    assert refusals and set(refusals) == {"busy"}  # nobody could take it over meanwhile


def fresh_ranking(session: Session, job_id: int) -> list[tuple[float, str]]:
    """Every candidate scored from scratch, best first: what incremental scoring must equal."""
    links = ranking_q.links_to_collected(session=session, job_id=job_id)
    rows = session.execute(
        sa.text(
            "SELECT p.id, p.s2_id, f.depth, p.citation_count, p.influential_citation_count "
            "FROM crawl_frontier f JOIN papers p ON p.id = f.paper_id "
            "WHERE f.job_id = :job AND f.state = 'candidate'"
        ),
        {"job": job_id},
    )
    scored = [
        (
            score_paper(
                citation_count=c, influential_citation_count=i, links=links.get(pid, 0), depth=d
            ),
            s2,
        )
        for pid, s2, d, c, i in rows
    ]
    return sorted(scored, key=lambda item: (-item[0], item[1]))


def test_incremental_scores_pick_what_scoring_everything_afresh_would(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = make_graph(3000, seed=11)  # large enough for two collects in a row
    snapshot = SnapshotSource(write_snapshot(big, tmp_path / "big.jsonl"))
    real = steps.pick_candidates
    picks = 0

    def checked(*, session: Session, job_id: int, limit: int) -> list[ranking_q.CandidateRow]:
        nonlocal picks
        expected = fresh_ranking(session, job_id)
        chosen = real(session=session, job_id=job_id, limit=limit)
        assert [(c.score, c.s2_id) for c in chosen] == expected[: len(chosen)]
        stored = ranking_q.best_candidates(session=session, job_id=job_id, limit=10**6)
        assert [(c.score, c.s2_id) for c in stored] == expected  # every candidate, not only these
        picks += 1
        return chosen

    monkeypatch.setattr(steps, "pick_candidates", checked)
    _, status = crawl(database_url, snapshot, most_cited(big, 1), max_depth=2, max_papers=1600)

    assert status == JobStatus.COMPLETED
    assert picks >= 4


def test_forgetting_stored_rows_past_the_limit_changes_nothing(
    database_url: str,
    graph: SyntheticGraph,
    snapshot: SnapshotSource,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seeds = most_cited(graph, 2)
    crawl(database_url, snapshot, seeds, max_depth=2, max_papers=500)
    remembered, counts = stored_network(database_url), row_counts(database_url)
    with get_engine(database_url).begin() as connection:
        for table in ("crawl_frontier", "crawl_jobs", "citations", "paper_authors", "papers"):
            connection.execute(sa.text(f"DELETE FROM {table}"))

    monkeypatch.setattr(crawl_run, "KNOWN_ROWS_LIMIT", 100)
    sizes: list[int] = []
    real = crawl_run.JobRun._remember

    def remember(run: crawl_run.JobRun, stored: dict[str, int]) -> None:
        real(run, stored)
        sizes.append(len(run.known_rows))

    monkeypatch.setattr(crawl_run.JobRun, "_remember", remember)
    crawl(database_url, snapshot, seeds, max_depth=2, max_papers=500)

    assert sizes and max(sizes) <= 100
    assert stored_network(database_url) == remembered
    assert row_counts(database_url) == counts
