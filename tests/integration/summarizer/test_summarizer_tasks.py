"""The summary chunk task: every paper's outcome is its own, and no paper is ever dropped.

Tasks run through the in-process dispatcher (the embedded default), so a task that queues more
work sees it done before `enqueue` returns.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from celery.exceptions import SoftTimeLimitExceeded

from refnet.core.config import get_settings
from refnet.core.handoff import SUMMARIZE_PAPERS, enqueue, use_dispatcher
from refnet.db import migrate
from refnet.db.queries.papers import upsert_papers
from refnet.db.session import get_engine, session_scope
from refnet.sources.records import parse_paper
from refnet.summarizer.paper_text import ChosenText, PaperText
from refnet.summarizer.service import Summarizer
from refnet.worker.celery_app import start_pipeline
from tests.support.papers import paper_json
from tests.support.vault import paper_notes


@pytest.fixture
def embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("REFNET_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VAULT_DIR", str(tmp_path / "vault"))
    get_settings.cache_clear()
    url = get_settings().effective_database_url
    migrate.upgrade(url)
    previous = use_dispatcher(None)
    start_pipeline(get_settings())
    yield url
    use_dispatcher(previous)


def add_papers(url: str, count: int) -> list[int]:
    records = [parse_paper(paper_json(n), complete=True) for n in range(1, count + 1)]
    with session_scope(url) as session:
        ids = upsert_papers(session=session, records=records)
    return sorted(ids.values())


def statuses(url: str) -> list[str]:
    with get_engine(url).connect() as connection:
        return list(connection.scalars(sa.text("SELECT status FROM summaries ORDER BY paper_id")))


def test_a_soft_time_limit_hands_the_rest_of_the_chunk_to_a_fresh_task(
    embedded: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paper_ids = add_papers(embedded, 4)
    interrupted = paper_ids[1]
    real = Summarizer.best_text
    asked: list[int] = []

    def time_runs_out_once(self: Summarizer, paper: PaperText) -> ChosenText | None:
        asked.append(paper.id)
        if paper.id == interrupted and asked.count(paper.id) == 1:
            raise SoftTimeLimitExceeded()  # while the paper is claimed
        return real(self, paper)

    monkeypatch.setattr(Summarizer, "best_text", time_runs_out_once)

    enqueue(SUMMARIZE_PAPERS, paper_ids=paper_ids)

    assert asked == [*paper_ids[:2], *paper_ids[1:]]  # the rest, from the interrupted paper
    assert statuses(embedded) == ["done"] * 4
    assert len(paper_notes(tmp_path / "vault")) == 4  # and the vault was brought up to date


def test_a_paper_that_fails_for_good_does_not_stop_the_chunk(embedded: str, tmp_path: Path) -> None:
    paper_ids = add_papers(embedded, 3)
    with get_engine(embedded).begin() as connection:  # nothing left to summarize it from
        connection.execute(
            sa.text("UPDATE papers SET abstract = NULL, tldr = NULL WHERE id = :id"),
            {"id": paper_ids[0]},
        )

    enqueue(SUMMARIZE_PAPERS, paper_ids=paper_ids)

    assert statuses(embedded) == ["failed", "done", "done"]
    assert len(paper_notes(tmp_path / "vault")) == 3
