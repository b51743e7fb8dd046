"""Showing a paper and listing watched seeds cost a fixed number of queries, however many
neighbours or seeds there are (no query per row)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

from refnet.core.records import AuthorRecord, PaperRecord
from refnet.db.models import WatchedSeed
from refnet.db.queries.citations import EdgeRow, upsert_citations
from refnet.db.queries.crawl import list_watched_seeds
from refnet.db.queries.lookups import get_paper_with_neighbours
from refnet.db.queries.papers import upsert_papers
from refnet.db.session import get_engine, session_scope


@contextmanager
def counted(url: str) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    engine: Engine = get_engine(url)
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def paper(number: int, authors: int = 3) -> PaperRecord:
    return PaperRecord(
        s2_id=f"{number:040x}",
        title=f"Paper {number}",
        authors=[AuthorRecord(None, f"Author {number}-{a}") for a in range(authors)],
        complete=True,
    )


def store_star(url: str, neighbours: int) -> int:
    """A paper citing `neighbours` papers and cited by as many."""
    records = [paper(n) for n in range(1, 2 * neighbours + 2)]
    with session_scope(url) as session:
        ids = upsert_papers(session=session, records=records)
        hub = ids[records[0].s2_id]
        others = [ids[r.s2_id] for r in records[1:]]
        upsert_citations(
            session=session,
            edges=[EdgeRow(hub, o) for o in others[:neighbours]]
            + [EdgeRow(o, hub) for o in others[neighbours:]],
        )
    return hub


def show(url: str, paper_id: int) -> tuple[int, int]:
    with counted(url) as statements, session_scope(url) as session:
        shown = get_paper_with_neighbours(session=session, paper_id=paper_id)
        assert shown is not None
        touched = [a.author.name for a in shown.authors]
        touched += [e.cited.title or "" for e in shown.references]
        touched += [e.citing.title or "" for e in shown.citations]
    return len(statements), len(touched)


def test_showing_a_paper_costs_the_same_queries_for_5_or_50_neighbours(database_url: str) -> None:
    small = store_star(database_url, 5)
    small_queries, small_rows = show(database_url, small)
    with get_engine(database_url).begin() as connection:
        for table in ("citations", "paper_authors", "authors", "papers"):
            connection.execute(sa.text(f"DELETE FROM {table}"))
    large = store_star(database_url, 50)
    large_queries, large_rows = show(database_url, large)

    assert (small_rows, large_rows) == (13, 103)
    assert large_queries == small_queries <= 5


def test_watched_seeds_are_listed_in_one_query(database_url: str) -> None:
    with session_scope(database_url) as session:
        ids = upsert_papers(session=session, records=[paper(n, 0) for n in range(1, 8)])
        session.add_all(WatchedSeed(paper_id=row, params={}) for row in ids.values())
    with counted(database_url) as statements, session_scope(database_url) as session:
        watched = list_watched_seeds(session=session)

    assert len(watched) == 7
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1
