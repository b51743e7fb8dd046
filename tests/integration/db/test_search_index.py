"""The search index follows every write the crawler and the summarizer make, and the migration
indexes what was stored before it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from refnet.db import migrate
from refnet.db.base import utcnow
from refnet.db.models import Paper, SummaryStatus
from refnet.db.queries.papers import stage_papers
from refnet.db.queries.summaries import SummaryKey, end_remake, get_summary
from refnet.db.session import dispose_engines, get_engine, session_scope
from tests.integration.db.search_support import KEY, found, paper, store, store_filler, summarize

S2_ID = f"{1:040x}"


@pytest.fixture
def url(database_url: str) -> str:
    store_filler(database_url)
    return database_url


def test_a_crawler_upsert_that_changes_a_title_changes_what_finds_it(url: str) -> None:
    store(url, [paper(1, "Preliminary heuristics", abstract="First draft.")])

    store(url, [paper(1, "Definitive heuristics", abstract="Final version.")])

    assert found(url, "definitive") == ["Definitive heuristics"]
    assert found(url, "final") == ["Definitive heuristics"]
    assert found(url, "preliminary") == []
    assert found(url, "draft") == []


def test_a_stub_becomes_searchable_when_a_listing_gives_its_title(url: str) -> None:
    store(url, [paper(1, None, complete=False)])
    assert found(url, "hypergraphs") == []

    with session_scope(url) as session:  # a listing row naming the stub, as a crawl step has it
        stage_papers(session=session, records=[paper(1, "Hypergraphs", complete=False)])

    assert found(url, "hypergraphs") == ["Hypergraphs"]


def test_a_summary_is_searchable_once_done_and_follows_a_remake(url: str) -> None:
    paper_id = store(url, [paper(1, "Maps of science")])[S2_ID]

    summarize(url, paper_id, status=SummaryStatus.RUNNING, keywords=["bibliometrics"])
    assert found(url, "bibliometrics") == []

    summarize(url, paper_id, status=SummaryStatus.DONE, keywords=["bibliometrics"])
    assert found(url, "bibliometrics") == ["Maps of science"]

    with session_scope(url) as session:  # remade from the PDF: the new text replaces the old
        summary = get_summary(session=session, paper_id=paper_id, key=KEY)
        assert summary is not None
        end_remake(
            session=session,
            summary_id=summary.id,
            values={"keywords": ["scientometrics"], "summary": "Read from the full text."},
        )
    assert found(url, "scientometrics") == ["Maps of science"]
    assert found(url, "bibliometrics") == []


def test_the_newest_done_summary_is_the_one_searched(url: str) -> None:
    paper_id = store(url, [paper(1, "Maps of science")])[S2_ID]
    summarize(url, paper_id, keywords=["bibliometrics"])
    newer = SummaryKey(KEY.provider, "newer-model", KEY.prompt_version, KEY.language)

    summarize(url, paper_id, keywords=["scientometrics"], key=newer)

    assert found(url, "scientometrics") == ["Maps of science"]
    assert found(url, "bibliometrics") == []


def test_a_failed_summary_adds_nothing(url: str) -> None:
    paper_id = store(url, [paper(1, "Maps of science")])[S2_ID]

    summarize(url, paper_id, status=SummaryStatus.FAILED, summary="Spurious hallucination.")

    assert found(url, "hallucination") == []


def test_a_deleted_paper_is_no_longer_found(url: str) -> None:
    paper_id = store(url, [paper(1, "Maps of science")])[S2_ID]
    summarize(url, paper_id, keywords=["bibliometrics"])

    with session_scope(url) as session:  # its summaries go with it (ON DELETE CASCADE)
        session.delete(session.get_one(Paper, paper_id))

    assert found(url, "maps") == []
    assert found(url, "bibliometrics") == []


def summary_stored_before(
    url: str, paper_id: int, key: SummaryKey, status: str, **values: object
) -> None:
    """A summary row written at the database's (older) revision: only the columns it has then,
    whatever the code's model has since."""
    engine = get_engine(url)
    table = sa.Table("summaries", sa.MetaData(), autoload_with=engine)
    now = utcnow()
    row = {
        "paper_id": paper_id,
        "provider": key.provider,
        "model": key.model,
        "prompt_version": key.prompt_version,
        "language": key.language,
        "status": status,
        "key_points": [],
        "keywords": [],
        "input_tokens": 0,
        "output_tokens": 0,
        "attempts": 1,
        "created_at": now,
        "updated_at": now,
        **values,
    }
    with engine.begin() as connection:
        connection.execute(table.insert().values({k: v for k, v in row.items() if k in table.c}))


def test_upgrading_indexes_papers_and_summaries_stored_before(database_url: str) -> None:
    migrate.downgrade(database_url, "0003")
    try:
        dispose_engines()
        paper_id = store(database_url, [paper(1, "Maps of science", abstract="Old rows.")])[S2_ID]
        summary_stored_before(database_url, paper_id, KEY, "done", keywords=["bibliometrics"])
        other = SummaryKey(KEY.provider, "other-model", KEY.prompt_version, KEY.language)
        summary_stored_before(database_url, paper_id, other, "failed", summary="Spurious.")
    finally:
        migrate.upgrade(database_url)
        dispose_engines()

    assert found(database_url, "rows") == ["Maps of science"]
    assert found(database_url, "bibliometrics") == ["Maps of science"]
    assert found(database_url, "spurious") == []

    migrate.downgrade(database_url, "0003")
    migrate.upgrade(database_url)
    dispose_engines()
    assert found(database_url, "bibliometrics maps") == ["Maps of science"]
