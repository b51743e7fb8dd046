"""The whole pipeline on the stack: real PostgreSQL, a real Redis broker and real Celery
workers (one per queue), fed by fake Semantic Scholar, PDF hosts and an OpenAI-compatible LLM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from celery import Celery

from refnet.core.config import Settings
from refnet.core.tasks import CRAWL_SEEDS, GENERATE_VAULT, SUMMARIZE_JOB
from refnet.crawler.params import CrawlParams
from refnet.crawler.service import start_crawl
from refnet.db.session import get_engine
from refnet.summarizer.service import NOTHING_TO_SUMMARIZE
from refnet.worker.celery_app import make_celery
from refnet.worker.queues import QueueName
from tests.fakes.llm_servers import FakeOpenAI
from tests.fakes.pdf_host import FakePdfHost, pdf
from tests.fakes.s2_graph import SyntheticGraph, make_graph
from tests.fakes.s2_server import FakeSemanticScholar
from tests.support.network import stored_network
from tests.support.pdfs import pdf_bytes
from tests.support.vault import all_link_targets, paper_notes, read_note

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
CORRUPT = b"%PDF-1.4\n" + b"\x00garbage" * 64


@pytest.fixture
def pdf_host() -> Iterator[FakePdfHost]:
    with FakePdfHost() as host:
        yield host


@pytest.fixture
def graph(pdf_host: FakePdfHost) -> SyntheticGraph:
    graph = make_graph(400, seed=21, pdf_base_url=pdf_host.url(""))
    for number, (paper_id, paper) in enumerate(graph.papers.items()):
        if (paper.get("openAccessPdf") or {}).get("url"):
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
        yield {
            "DATABASE_URL": pg_url,
            "REDIS_URL": redis_url,
            "REFNET_DATA_DIR": str(tmp_path / "data"),
            "VAULT_DIR": str(tmp_path / "vault"),
            "SEMANTIC_SCHOLAR_API_URL": s2.base_url,
            "SEMANTIC_SCHOLAR_RATE": "100",
            "SUMMARIZER__PROVIDER": "openai",
            "SUMMARIZER__MODEL": "local-model",
            "OPENAI_BASE_URL": llm.base_url,
            "OPENAI_API_KEY": "llm-test-key",
            "PDF__ALLOWLIST": '["127.0.0.0/8"]',
            "LOG_LEVEL": "INFO",
        }


@pytest.fixture
def workers(stack_env: dict[str, str], tmp_path: Path) -> Iterator[Settings]:
    """One worker per queue, started both ways the docs show."""
    env = {**os.environ, **stack_env}
    commands = [
        [str(VENV_BIN / "refnet"), "worker", "--queue", "crawler"],
        [str(VENV_BIN / "celery"), "-A", "refnet.worker", "worker", "-Q", "summarizer", "-c", "1"],
        [str(VENV_BIN / "refnet"), "worker", "--queue", "generator"],
    ]
    logs = [open(tmp_path / f"worker{i}.log", "wb") for i in range(len(commands))]  # noqa: SIM115
    processes = [
        subprocess.Popen(command, env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
        for command, log in zip(commands, logs, strict=True)
    ]
    settings = Settings(
        **{"database_url": stack_env["DATABASE_URL"], "redis_url": stack_env["REDIS_URL"]}
    )
    app = make_celery(settings)
    try:
        deadline = time.monotonic() + 60
        while len(app.control.ping(timeout=1.0)) < len(commands):
            assert time.monotonic() < deadline, "workers did not start: " + _tail(tmp_path)
        yield settings
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in logs:
            log.close()


def _tail(tmp_path: Path) -> str:
    return "\n".join(p.read_text()[-3000:] for p in sorted(tmp_path.glob("worker*.log")))


def wait_for(condition: Callable[[], bool], *, seconds: float, what: str, logs: Path) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}\n{_tail(logs)}"
        time.sleep(0.5)


def wait_idle(app: Celery, settings: Settings, logs: Path) -> None:
    """Until every queue is empty and no worker is running a task, twice in a row."""
    client = redis.Redis.from_url(str(settings.redis_url))
    quiet = 0
    deadline = time.monotonic() + 60
    while quiet < 2:
        assert time.monotonic() < deadline, "workers never went idle\n" + _tail(logs)
        queued = sum(int(client.llen(queue.value)) for queue in QueueName)
        active = app.control.inspect(timeout=1.0).active() or {}
        busy = queued or any(tasks for tasks in active.values())
        quiet = 0 if busy else quiet + 1
        time.sleep(0.3)
    client.close()


def scalar(url: str, sql: str) -> int:
    with get_engine(url).connect() as connection:
        return int(connection.scalar(sa.text(sql)) or 0)


def hub(graph: SyntheticGraph) -> str:
    citing = [p for p in graph.papers if sum(r is not None for r in graph.references[p]) >= 8]
    return max(citing, key=lambda p: (len(graph.citations_of(p)), p))


def test_crawl_summarize_generate_on_real_workers(
    workers: Settings,
    stack_env: dict[str, str],
    graph: SyntheticGraph,
    llm: FakeOpenAI,
    tmp_path: Path,
) -> None:
    url = stack_env["DATABASE_URL"]
    vault = Path(stack_env["VAULT_DIR"])
    app = make_celery(workers)
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
        from_llm = sum(read_note(p).properties.get("summary_source") == "llm" for p in notes)
        return collected == 40 and settled == 40 and len(notes) == 40 and from_llm == done

    wait_for(pipeline_done, seconds=180, what="crawl, summaries and notes", logs=tmp_path)
    wait_idle(app, workers, tmp_path)

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
    wait_idle(app, workers, tmp_path)
    for _ in range(2):
        app.send_task(GENERATE_VAULT, kwargs={"full": True})
        wait_idle(app, workers, tmp_path)
    assert llm.request_count == done
    assert "My own thoughts on this paper." in note_path.read_text()
    assert read_note(note_path).properties["s2_id"] in network.papers
