"""The whole pipeline on the stack: real PostgreSQL, a real Redis broker and real Celery
workers (one per queue), fed by fake Semantic Scholar, PDF hosts and an OpenAI-compatible LLM.

Some PDF hosts are down for good: their papers are retried by themselves through the queue,
then summarized from their abstracts, and nothing else waits for them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from celery import Celery

from refnet.core.handoff import CRAWL_SEEDS, GENERATE_VAULT, SUMMARIZE_JOB
from refnet.crawler.params import CrawlParams
from refnet.crawler.service import start_crawl
from refnet.db.session import get_engine
from refnet.summarizer.service import NOTHING_TO_SUMMARIZE
from tests.fakes.llm_servers import FakeOpenAI
from tests.fakes.pdf_host import FakePdfHost, pdf, status
from tests.fakes.s2_graph import SyntheticGraph, make_graph
from tests.fakes.s2_server import FakeSemanticScholar
from tests.support.network import stored_network
from tests.support.pdfs import pdf_bytes
from tests.support.vault import all_link_targets, paper_notes, read_note
from tests.support.workers import (
    CELERY,
    REFNET,
    running_workers,
    stack_environment,
    summarizer_on,
    wait_for,
    wait_idle,
)

CORRUPT = b"%PDF-1.4\n" + b"\x00garbage" * 64
DOWN = 7  # every 7th paper's PDF host answers 503, whatever we do


@pytest.fixture
def pdf_host() -> Iterator[FakePdfHost]:
    with FakePdfHost() as host:
        yield host


@pytest.fixture
def graph(pdf_host: FakePdfHost) -> SyntheticGraph:
    graph = make_graph(400, seed=21, pdf_base_url=pdf_host.url(""))
    for number, (paper_id, paper) in enumerate(graph.papers.items()):
        if not (paper.get("openAccessPdf") or {}).get("url"):
            continue
        if number % DOWN == 0:
            pdf_host.route(f"/{paper_id}.pdf", status(503, retry_after=0.1))
        else:
            body = CORRUPT if number % 5 == 0 else pdf_bytes(title=f"Synthetic paper {number}")
            pdf_host.route(f"/{paper_id}.pdf", pdf(body))
    return graph


@pytest.fixture
def llm() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key="llm-test-key") as server:
        yield server


@pytest.fixture
def stack_env(
    pg_url: str, redis_url: str, tmp_path: Path, graph: SyntheticGraph, llm: FakeOpenAI
) -> Iterator[dict[str, str]]:
    with FakeSemanticScholar(graph) as s2:
        yield stack_environment(
            pg_url,
            redis_url,
            tmp_path,
            s2_url=s2.base_url,
            **summarizer_on(llm),
            SUMMARIZER__FETCH_PDFS="true",
            PDF__ALLOWLIST='["127.0.0.0/8"]',
            PDF__ATTEMPTS="2",
            SUMMARIZER__RETRY_DELAY="0.2",
        )


@pytest.fixture
def workers(stack_env: dict[str, str], tmp_path: Path) -> Iterator[Celery]:
    """One worker per queue, started both ways the docs show."""
    commands = [
        [REFNET, "worker", "--queue", "crawler"],
        [CELERY, "-A", "refnet.worker", "worker", "-Q", "summarizer", "-c", "1"],
        [REFNET, "worker", "--queue", "generator"],
    ]
    with running_workers(commands, stack_env, tmp_path) as app:
        yield app


def scalar(url: str, sql: str) -> int:
    with get_engine(url).connect() as connection:
        return int(connection.scalar(sa.text(sql)) or 0)


def hub(graph: SyntheticGraph) -> str:
    citing = [p for p in graph.papers if sum(r is not None for r in graph.references[p]) >= 8]
    return max(citing, key=lambda p: (len(graph.citations_of(p)), p))


def test_crawl_summarize_generate_on_real_workers(
    workers: Celery,
    stack_env: dict[str, str],
    graph: SyntheticGraph,
    llm: FakeOpenAI,
    tmp_path: Path,
) -> None:
    url = stack_env["DATABASE_URL"]
    vault = Path(stack_env["VAULT_DIR"])
    app = workers
    redis_url = stack_env["REDIS_URL"]
    job_id, _ = start_crawl(
        database_url=url,
        seeds=[hub(graph)],
        params=CrawlParams(max_depth=1, max_papers=40),
        source_name="semantic_scholar",
    )
    app.send_task(CRAWL_SEEDS, kwargs={"job_id": job_id})

    def pipeline_done() -> bool:
        collected = scalar(url, "SELECT papers_collected FROM crawl_jobs WHERE status='completed'")
        settled = scalar(url, "SELECT count(*) FROM summaries WHERE status IN ('done', 'failed')")
        done = scalar(url, "SELECT count(*) FROM summaries WHERE status = 'done'")
        notes = list((vault / "papers").glob("*.md")) if vault.exists() else []
        from_llm = sum(read_note(p).properties.get("summary_provider") == "openai" for p in notes)
        return collected == 40 and settled == 40 and len(notes) == 40 and from_llm == done

    wait_for(pipeline_done, seconds=180, what="crawl, summaries and notes", logs=tmp_path)
    wait_idle(app, redis_url, tmp_path)

    # Every summary was paid for exactly once, from PDF text where a usable PDF existed; a
    # paper with neither PDF, abstract nor TL;DR failed with that reason.
    done = scalar(url, "SELECT count(*) FROM summaries WHERE status='done'")
    assert llm.request_count == done
    assert done >= 30
    with get_engine(url).connect() as connection:
        reasons = set(
            connection.scalars(sa.text("SELECT error FROM summaries WHERE status='failed'"))
        )
    assert reasons <= {NOTHING_TO_SUMMARIZE}
    assert scalar(url, "SELECT count(*) FROM summaries WHERE input_kind='pdf'") > 0
    assert scalar(url, "SELECT count(*) FROM pdf_documents WHERE status='failed'") > 0

    # Papers whose PDF host stayed down were tried twice, queued again by themselves, then
    # summarized from their abstracts; their PDFs wait for a later try.
    retrying = scalar(url, "SELECT count(*) FROM pdf_documents WHERE status='retrying'")
    assert retrying > 0
    assert retrying == scalar(
        url,
        "SELECT count(*) FROM summaries s JOIN pdf_documents p USING (paper_id) "
        "WHERE p.status = 'retrying' AND s.status = 'done' AND s.input_kind = 'abstract' "
        "AND p.attempts = 2",
    )

    # The vault is a faithful picture of the stored network.
    network = stored_network(url)
    notes = paper_notes(vault)
    by_s2 = {note.properties["s2_id"]: stem for stem, note in notes.items()}
    assert set(by_s2) == network.papers
    targets = all_link_targets(vault)
    for note in notes.values():
        assert set(note.links) <= targets
    linked = {
        (note.properties["s2_id"], target_s2)
        for note in notes.values()
        for target_s2, stem in by_s2.items()
        if stem in note.section_links("References")
    }
    assert linked == set(network.edges)

    # Running the summaries again pays nothing; a user's edit survives two regenerations.
    note_path = next(iter(notes.values())).path
    note_path.write_text(note_path.read_text() + "\nMy own thoughts on this paper.\n")
    app.send_task(SUMMARIZE_JOB, kwargs={"job_id": job_id})
    wait_idle(app, redis_url, tmp_path)
    for _ in range(2):
        app.send_task(GENERATE_VAULT, kwargs={"full": True})
        wait_idle(app, redis_url, tmp_path)
    assert llm.request_count == done
    assert "My own thoughts on this paper." in note_path.read_text()
    assert read_note(note_path).properties["s2_id"] in network.papers

    # Every line every worker wrote is one JSON object (Celery's own lines included).
    for log_file in sorted(tmp_path.glob("worker*.log")):
        lines = log_file.read_text().splitlines()
        assert lines, f"{log_file.name} is empty"
        for line in lines:
            entry = json.loads(line)
            assert {"event", "level", "timestamp"} <= set(entry), line
    events = {json.loads(line)["event"] for line in (tmp_path / "worker1.log").open()}
    assert "worker_started" in events
    assert any(str(event).startswith("Task refnet.summarizer") for event in events)
