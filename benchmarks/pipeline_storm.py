"""The summary pipeline, in-process, over papers whose PDF hosts partly fail (see
`extractive_summarizer`, which reports it)."""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from refnet.core.config import settings_from
from refnet.core.handoff import SUMMARIZE_PENDING, enqueue, use_dispatcher
from refnet.db import migrate
from refnet.db.queries.papers import upsert_papers
from refnet.db.session import dispose_engines, get_engine, session_scope
from refnet.sources.records import parse_paper
from refnet.worker.celery_app import start_pipeline
from tests.fakes.pdf_host import FakePdfHost, pdf, status
from tests.support.papers import paper_json
from tests.support.pdfs import make_paper_pdf
from tests.support.vault import paper_notes


def run_storm(*, papers: int, failure_rate: float, pages: int = 6) -> dict[str, float]:
    """Summarize `papers` papers whose PDF hosts fail (503, always) at `failure_rate`."""
    rng = random.Random(7)
    down = set(rng.sample(range(1, papers + 1), round(papers * failure_rate)))
    with tempfile.TemporaryDirectory() as folder, FakePdfHost() as host:
        root = Path(folder)
        for number in range(1, papers + 1):
            route = f"/{number}.pdf"
            if number in down:
                host.route(route, status(503))
            else:
                made = make_paper_pdf(root / f"{number}.pdf", pages=pages, seed=number)
                host.route(route, pdf(made.path.read_bytes()))
        environment: dict[str, str | None] = {
            "REFNET_DATA_DIR": str(root / "data"),
            "VAULT_DIR": str(root / "vault"),
            "SUMMARIZER__PROVIDER": "extractive",
            "PDF__ALLOWLIST": '["127.0.0.0/8"]',
        }
        with settings_from(environment) as settings:
            url = settings.effective_database_url
            migrate.upgrade(url)
            records = [
                parse_paper(paper_json(n, pdf_url=host.url(f"/{n}.pdf")), complete=True)
                for n in range(1, papers + 1)
            ]
            with session_scope(url) as session:
                upsert_papers(session=session, records=records)
            previous = start_pipeline(settings)
            try:
                started = time.perf_counter()
                enqueue(SUMMARIZE_PENDING)
                seconds = time.perf_counter() - started
            finally:
                use_dispatcher(previous)
            figures = _figures(url, settings.vault_dir)
            dispose_engines()
        failing_requests = sum(
            1 for target in host.requests if int(target.strip("/").split(".")[0]) in down
        )
    return {
        "papers": papers,
        "hosts_down": len(down),
        **figures,
        "requests_to_hosts_down": failing_requests,
        "wall_s": round(seconds, 2),
        "papers_per_s": round(papers / seconds, 1),
    }


def _figures(url: str, vault: Path) -> dict[str, float]:
    with get_engine(url).connect() as connection:
        kinds = dict(
            connection.execute(
                sa.text(
                    "SELECT input_kind, count(*) FROM summaries WHERE status = 'done' "
                    "GROUP BY input_kind"
                )
            ).all()
        )
        retrying = connection.scalar(
            sa.text("SELECT count(*) FROM pdf_documents WHERE status = 'retrying'")
        )
    return {
        "summarized": sum(kinds.values()),
        "from_pdf": kinds.get("pdf", 0),
        "from_abstract": kinds.get("abstract", 0),
        "pdfs_to_retry_later": retrying or 0,
        "notes_written": len(paper_notes(vault)),
    }
