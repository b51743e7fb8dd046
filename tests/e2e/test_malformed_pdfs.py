"""A corpus of malformed and hostile PDFs through a real summarizer worker (prefork): truncated,
encrypted, a zip bomb, a content-operator bomb, an absurdly large page, too many pages, an empty
file, HTML served as a PDF, a PDF served as HTML, a body over the size cap. No worker process
dies, every paper is summarized (from its abstract where its PDF is unusable), and each PDF's
failure is recorded with its reason; one good PDF is read as a PDF all the same, and every
paper's note is written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from refnet.core.handoff import SUMMARIZE_PAPERS
from refnet.core.records import PaperRecord
from refnet.db.queries.papers import upsert_papers
from refnet.db.session import get_engine, session_scope
from tests.fakes.pdf_host import FakePdfHost, Route, html, huge, pdf
from tests.support.pdfs import (
    make_encrypted_pdf,
    make_flate_bomb_pdf,
    make_huge_page_pdf,
    make_operator_bomb_pdf,
    make_paper_pdf,
)
from tests.support.workers import REFNET, running_workers, stack_environment, tail, wait_idle

ABSTRACT = "We map citation networks. Our crawler ranks papers by centrality. It scales well."
MAX_PDF_BYTES = 2 * 1024 * 1024


def corpus(tmp_path: Path) -> dict[str, Route]:
    """Name: what the PDF host serves for that paper."""
    good = make_paper_pdf(tmp_path / "good.pdf", pages=3).path.read_bytes()

    def made(make: Callable[[Path], Path], name: str) -> bytes:
        return make(tmp_path / f"{name}.pdf").read_bytes()

    return {
        "good": pdf(good),
        "truncated": pdf(good[: len(good) // 2]),
        "encrypted": pdf(
            make_encrypted_pdf(tmp_path / "locked.pdf", password="s3cret").path.read_bytes()
        ),
        "zip_bomb": pdf(made(lambda p: make_flate_bomb_pdf(p, expanded=1 << 30), "zip")),
        "operator_bomb": pdf(made(lambda p: make_operator_bomb_pdf(p, pages=1), "ops")),
        "huge_page": pdf(made(make_huge_page_pdf, "huge")),
        "too_many_pages": pdf(make_paper_pdf(tmp_path / "long.pdf", pages=120).path.read_bytes()),
        "empty": pdf(b""),
        "html_as_pdf": pdf(b"<!DOCTYPE html><html><body>Sign in to download</body></html>"),
        "pdf_as_html": pdf(good, content_type="text/html; charset=utf-8"),
        "over_the_cap": huge(MAX_PDF_BYTES * 2),
        "landing_page": html("<html><body>Paper landing page</body></html>"),
    }


# What becomes of each: the text summarized, the PDF's record, and its page count or reason.
EXPECTED = {
    "good": ("pdf", "fetched", 3),
    "truncated": ("abstract", "failed", "unreadable PDF"),
    "encrypted": ("abstract", "failed", "needs a password"),
    "zip_bomb": ("abstract", "failed", "no page could be read"),
    "operator_bomb": ("abstract", "failed", "more than 256 MB of memory"),
    "huge_page": ("pdf", "fetched", 1),
    "too_many_pages": ("pdf", "fetched", 40),  # PDF__MAX_PAGES
    "empty": ("abstract", "unavailable", "not a PDF (empty body)"),
    "html_as_pdf": ("abstract", "unavailable", "not a PDF (no %PDF- header)"),
    "pdf_as_html": ("abstract", "unavailable", "not a PDF (text/html)"),
    "over_the_cap": ("abstract", "unavailable", "larger than 2 MB"),
    "landing_page": ("abstract", "unavailable", "not a PDF (text/html)"),
}


def add_papers(url: str, pdf_urls: dict[str, str]) -> dict[str, int]:
    records = [
        PaperRecord(
            s2_id=f"{number:040x}",
            title=f"Paper with a {name.replace('_', ' ')} PDF",
            abstract=ABSTRACT,
            open_access_pdf_url=pdf_url,
            complete=True,
        )
        for number, (name, pdf_url) in enumerate(pdf_urls.items(), start=1)
    ]
    with session_scope(url) as session:
        ids = upsert_papers(session=session, records=records)
    return {name: ids[record.s2_id] for name, record in zip(pdf_urls, records, strict=True)}


def outcomes(url: str) -> dict[int, dict[str, object]]:
    with get_engine(url).connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT s.paper_id, s.status, s.input_kind, d.status AS pdf, d.error, d.pages"
                " FROM summaries s LEFT JOIN pdf_documents d ON d.paper_id = s.paper_id"
            )
        ).mappings()
        return {row["paper_id"]: dict(row) for row in rows}


def pool_pids(app: object) -> dict[str, list[int]]:
    """Each worker's pool processes."""
    stats = app.control.inspect(timeout=2.0).stats() or {}  # type: ignore[attr-defined]
    return {name: sorted(worker["pool"]["processes"]) for name, worker in stats.items()}


@pytest.mark.timeout(600)
def test_no_malformed_pdf_crashes_a_worker_and_each_failure_is_recorded(
    pg_url: str, redis_url: str, tmp_path: Path
) -> None:
    with FakePdfHost() as host:
        routes = corpus(tmp_path)
        papers = add_papers(
            pg_url, {name: host.route(f"/{name}.pdf", r) for name, r in routes.items()}
        )
        env = stack_environment(
            pg_url,
            redis_url,
            tmp_path,
            s2_url="http://127.0.0.1:9/graph/v1",
            SUMMARIZER__FETCH_PDFS="true",
            SUMMARIZER__PAPERS_PER_TASK="1",
            PDF__ALLOWLIST="127.0.0.0/8",
            PDF__MAX_BYTES=str(MAX_PDF_BYTES),
            PDF__MAX_PAGES="40",
            PDF__EXTRACT_MEMORY_MB="256",
            PDF__EXTRACT_TIMEOUT="20",
            PDF__ATTEMPTS="1",
        )
        summarizer = [REFNET, "worker", "--queue", "summarizer", "--concurrency", "2"]
        generator = [REFNET, "worker", "--queue", "generator"]  # the notes summaries hand on
        with running_workers([summarizer, generator], env, tmp_path) as app:
            before = pool_pids(app)
            for paper_id in papers.values():
                app.send_task(SUMMARIZE_PAPERS, kwargs={"paper_ids": [paper_id]})
            wait_idle(app, redis_url, tmp_path)
            after = pool_pids(app)
        log = tail(tmp_path)

    assert after == before, f"a pool process was replaced: {before} -> {after}\n{log}"
    assert "WorkerLostError" not in log and "Traceback" not in log, log
    found = outcomes(pg_url)
    seen = {
        name: (
            row["input_kind"],
            row["pdf"],
            row["pages"] if row["pdf"] == "fetched" else row["error"],
        )
        for name, paper_id in papers.items()
        if (row := found.get(paper_id)) is not None and row["status"] == "done"
    }
    assert set(seen) == set(papers) == set(EXPECTED), f"not summarized: {set(papers) - set(seen)}"
    for name, (kind, status, detail) in EXPECTED.items():
        assert seen[name][:2] == (kind, status), (name, seen[name])
        assert str(detail) in str(seen[name][2]), (name, seen[name])
    notes = list((tmp_path / "vault").rglob("*.md"))
    assert len([note for note in notes if "with a" in note.read_text()]) >= len(papers)
