"""Crawling through the real HTTP client against the fake Semantic Scholar server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from refnet.cli import app
from refnet.core.config import get_settings
from refnet.crawler.params import CrawlParams
from refnet.crawler.service import run_crawl, start_crawl
from refnet.db.models import JobStatus
from refnet.db.session import get_engine
from refnet.sources.rate_limit import MemoryRateLimiter
from refnet.sources.semantic_scholar import SemanticScholarClient
from tests.fakes.s2_graph import SyntheticGraph, make_graph
from tests.fakes.s2_server import FakeSemanticScholar, Faults
from tests.support.network import expected_edges, stored_network

API_KEY = "crawl-test-key-0123456789"


@pytest.fixture(scope="module")
def graph() -> SyntheticGraph:
    return make_graph(3000, seed=11)


@pytest.fixture
def fake(graph: SyntheticGraph) -> Iterator[FakeSemanticScholar]:
    with FakeSemanticScholar(graph, required_api_key=API_KEY) as server:
        yield server


def client(fake: FakeSemanticScholar) -> SemanticScholarClient:
    return SemanticScholarClient(
        base_url=fake.base_url,
        api_key=API_KEY,
        rate_limiter=MemoryRateLimiter(500.0),
        timeout=1.0,
        max_retries=6,
        backoff_base=0.01,
        backoff_cap=0.05,
    )


def hub(graph: SyntheticGraph) -> str:
    citing = [p for p in graph.papers if sum(r is not None for r in graph.references[p]) >= 10]
    return max(citing, key=lambda p: (len(graph.citations_of(p)), p))


@contextmanager
def goes_down_after(fake: FakeSemanticScholar, *, requests: int) -> Iterator[None]:
    """The fake answers 503 to everything once it has served `requests` requests."""
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set() and fake.total_requests < requests:
            time.sleep(0.0005)
        fake.down = not stop.is_set()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()
        fake.down = False


def crawl(url: str, fake: FakeSemanticScholar, seeds: list[str], papers: int) -> str:
    job_id, _ = start_crawl(
        database_url=url,
        seeds=seeds,
        params=CrawlParams(max_depth=2, max_papers=papers),
        source_name="semantic_scholar",
    )
    with client(fake) as source:
        return run_crawl(job_id, database_url=url, source=source).status


def test_crawl_uses_batches_and_one_listing_per_expanded_paper(
    database_url: str, graph: SyntheticGraph, fake: FakeSemanticScholar
) -> None:
    status = crawl(database_url, fake, [hub(graph)], papers=1200)

    network = stored_network(database_url)
    with get_engine(database_url).connect() as connection:
        expanded = connection.scalar(
            sa.text("SELECT count(*) FROM papers WHERE crawl_state = 'expanded'")
        )
        stored = connection.scalar(sa.text("SELECT requests_made FROM crawl_jobs"))
    assert status == JobStatus.COMPLETED
    assert len(network.papers) == 1200
    assert network.edges == expected_edges(graph, network.papers)
    assert fake.requests["paper"] == 0  # never one request per paper
    assert fake.requests["citations"] == expanded
    assert fake.requests["batch"] <= 1 + 1200 // 500 + 1
    assert len(network.papers) / fake.total_requests >= 50
    assert stored == fake.total_requests
    assert fake.api_keys_seen == {API_KEY}


def test_faulty_api_yields_the_identical_network(
    database_url: str, graph: SyntheticGraph, fake: FakeSemanticScholar
) -> None:
    seeds = [hub(graph)]
    crawl(database_url, fake, seeds, papers=800)
    clean = stored_network(database_url)
    with get_engine(database_url).begin() as connection:
        for table in ("crawl_frontier", "crawl_jobs", "citations", "paper_authors", "papers"):
            connection.execute(sa.text(f"DELETE FROM {table}"))

    fake.faults = Faults(rate=0.3, retry_after=0.01, timeout_seconds=1.5, seed=3)
    fake.reset_counters()
    status = crawl(database_url, fake, seeds, papers=800)

    assert status == JobStatus.COMPLETED
    assert fake.faulted_requests > 0
    assert stored_network(database_url) == clean


def test_api_that_stays_down_pauses_and_a_rerun_continues(
    tmp_path: Path,
    graph: SyntheticGraph,
    fake: FakeSemanticScholar,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {
        "SEMANTIC_SCHOLAR_API_URL": fake.base_url,
        "SEMANTIC_SCHOLAR_API_KEY": API_KEY,
        "SEMANTIC_SCHOLAR_RATE": "200",
        "SEMANTIC_SCHOLAR_MAX_RETRIES": "1",
    }.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    seed = hub(graph)
    args = ["crawl", seed, "--depth", "2", "--max-papers", "700"]

    get_settings.cache_clear()
    with goes_down_after(fake, requests=2):
        down = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert down.exit_code == 75
    assert "Semantic Scholar did not answer after 2 attempts" in down.output
    assert "run the same crawl again" in down.output.lower()
    url = f"sqlite:///{tmp_path / 'data' / 'refnet.sqlite3'}"
    kept = stored_network(url)
    assert kept.papers  # what was collected before the outage stays

    get_settings.cache_clear()
    rerun = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert rerun.exit_code == 0, rerun.output
    assert "Resuming crawl job 1" in rerun.output
    network = stored_network(url)
    assert kept.papers < network.papers
    assert len(network.papers) == 700
    assert network.edges == expected_edges(graph, network.papers)


@pytest.mark.parametrize("refusal", [401, 403, 400])
def test_a_refused_citations_listing_fails_the_job_with_what_to_fix(
    database_url: str, graph: SyntheticGraph, fake: FakeSemanticScholar, refusal: int
) -> None:
    fake.refused = {"citations": refusal}  # e.g. a key without access to that endpoint

    status = crawl(database_url, fake, [hub(graph)], papers=300)

    with get_engine(database_url).connect() as connection:
        error = connection.scalar(sa.text("SELECT error FROM crawl_jobs"))
        expanded = connection.scalar(
            sa.text("SELECT count(*) FROM papers WHERE crawl_state = 'expanded'")
        )
    assert status == JobStatus.FAILED
    assert f"listing the citations of {hub(graph)} failed" in error
    assert f"HTTP {refusal}" in error
    if refusal in (401, 403):
        assert "check the API key" in error
    assert expanded == 0  # no paper is marked expanded as if it had no citations
