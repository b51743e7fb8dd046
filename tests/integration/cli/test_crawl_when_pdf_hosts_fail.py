"""`refnet crawl` on a bad day: one PDF host down must not cost the other papers or the vault.

The command runs as a user runs it (a process of its own), on the embedded default: the crawl,
the summaries and the vault update all happen in that process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from refnet.db.session import get_engine
from tests.fakes.pdf_host import FakePdfHost, pdf, status
from tests.support.papers import paper_json, s2_id, write_papers
from tests.support.pdfs import pdf_bytes
from tests.support.vault import paper_notes

REFNET = Path(sys.executable).parent / "refnet"
DOWN = 1  # the paper whose PDF host answers 503


@pytest.fixture
def host() -> Iterator[FakePdfHost]:
    with FakePdfHost() as server:
        for number in (2, 3, 4):
            server.route(f"/{number}.pdf", pdf(pdf_bytes(title=f"Served paper {number}")))
        server.route(f"/{DOWN}.pdf", status(503))
        yield server


@pytest.fixture
def snapshot(tmp_path: Path, host: FakePdfHost) -> Path:
    papers = [
        paper_json(1, references=[2, 3, 4], pdf_url=host.url("/1.pdf")),
        *(paper_json(n, pdf_url=host.url(f"/{n}.pdf")) for n in (2, 3, 4)),
    ]
    return write_papers(tmp_path / "papers.jsonl", papers)


def refnet(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "PDF__ALLOWLIST": '["127.0.0.0/8"]',
        "PDF__RETRY_LATER_HOURS": "1",
        "COLUMNS": "200",
        **env,
    }
    return subprocess.run(
        [str(REFNET), *args],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def sources(vault: Path) -> dict[str, str]:
    return {
        n.properties["s2_id"]: n.properties["summary_source"] for n in paper_notes(vault).values()
    }


def test_a_pdf_host_that_is_down_costs_only_its_own_paper(
    tmp_path: Path, host: FakePdfHost, snapshot: Path
) -> None:
    crawl = refnet(tmp_path, "crawl", "--source", f"snapshot:{snapshot}", s2_id(1), "--depth", "1")

    assert crawl.returncode == 0, crawl.stderr
    assert "Traceback" not in crawl.stdout + crawl.stderr
    assert "Summaries: 3 from PDFs, 1 from abstracts." in crawl.stdout
    assert "tried again later" in crawl.stdout
    made_from = sources(tmp_path / "vault")
    assert made_from == {s2_id(1): "abstract", **{s2_id(n): "pdf" for n in (2, 3, 4)}}
    # The failing host was asked a bounded number of times (PDF__ATTEMPTS, default 3).
    assert host.requests.count(f"/{DOWN}.pdf") == 3
    with get_engine(f"sqlite:///{tmp_path / 'data' / 'refnet.sqlite3'}").connect() as db:
        pdf_state = db.execute(
            sa.text(
                "SELECT status, attempts, retry_at IS NOT NULL FROM pdf_documents p "
                "JOIN papers ON papers.id = p.paper_id WHERE s2_id = :id"
            ),
            {"id": s2_id(DOWN)},
        ).one()
    assert tuple(pdf_state) == ("retrying", 3, True)


def test_the_pdf_is_tried_again_later_and_the_summary_remade_from_it(
    tmp_path: Path, host: FakePdfHost, snapshot: Path
) -> None:
    refnet(tmp_path, "crawl", "--source", f"snapshot:{snapshot}", s2_id(1), "--depth", "1")
    database = get_engine(f"sqlite:///{tmp_path / 'data' / 'refnet.sqlite3'}")

    nothing_due = refnet(tmp_path, "summarize", "--pending")  # its retry is an hour away
    assert nothing_due.returncode == 0 and "Summaries: none" in nothing_due.stdout
    assert host.requests.count(f"/{DOWN}.pdf") == 3

    with database.begin() as db:  # an hour later…
        db.execute(sa.text("UPDATE pdf_documents SET retry_at = '2000-01-01 00:00:00'"))
    still_down = refnet(tmp_path, "summarize", "--pending")
    assert still_down.returncode == 0, still_down.stderr
    assert sources(tmp_path / "vault")[s2_id(DOWN)] == "abstract"  # kept as it was
    assert host.requests.count(f"/{DOWN}.pdf") == 4

    host.route(f"/{DOWN}.pdf", pdf(pdf_bytes(title="Back online")))
    with database.begin() as db:
        db.execute(sa.text("UPDATE pdf_documents SET retry_at = '2000-01-01 00:00:00'"))
    recovered = refnet(tmp_path, "summarize", "--pending")

    assert recovered.returncode == 0, recovered.stderr
    assert "1 done" in recovered.stdout
    assert set(sources(tmp_path / "vault").values()) == {"pdf"}
    with database.connect() as db:
        assert (
            db.scalar(sa.text("SELECT count(*) FROM pdf_documents WHERE status != 'fetched'")) == 0
        )
