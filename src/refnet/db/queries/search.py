"""Full-text search over stored papers: title, abstract and TL;DR, and the text, TL;DR, key points
and keywords of the paper's newest done summary.

Every paper with a title is searched, stubs (titles only) included; `SearchHit.collected` tells
them apart. Hits come best first: by relevance (a title match outweighs a TL;DR or keyword
match, which outweighs one in the abstract or summary), then the most cited, then by S2 id.

At most `MAX_RESULTS` hits are served per query, and `total` counts matches only up to that
cap (`total_is_exact` is False above it): counting or ranking every match of a very common
word would cost more than the whole page. On PostgreSQL a query with more matches than that is
ranked among its `MAX_RESULTS` most cited matches; on SQLite among all of them.

Snippets and titles come back HTML-escaped, with matches wrapped in `<mark>…</mark>`: the
databases mark matches with control characters, escaping happens here, and only then do the
marks become tags, so markup stored in a title never reaches a client as markup.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from sqlalchemy.orm import Session

from refnet.core.errors import InvalidInput
from refnet.db.models import COLLECTED_STATES
from refnet.db.queries import _search_postgres, _search_sqlite, _steps
from refnet.db.queries._search_rows import MARK_END, MARK_START, SearchRow
from refnet.db.queries._steps import Steps
from refnet.db.queries.search_syntax import MAX_QUERY_LENGTH, check_length

__all__ = [
    "MAX_LIMIT",
    "MAX_QUERY_LENGTH",
    "MAX_RESULTS",
    "SearchHit",
    "SearchPage",
    "postgres_search",
    "search_papers",
]

MAX_LIMIT = 100
# Enough for twenty pages of ten; counting or ranking more is what makes a search slow.
MAX_RESULTS = 200
_STRAY_MARKS = re.compile(f"[{MARK_START}{MARK_END}]")


@dataclass(frozen=True, slots=True)
class SearchHit:
    paper_id: int
    s2_id: str
    title: str | None
    year: int | None
    citation_count: int | None
    rank: float  # higher is better; comparable within one answer only
    snippet: str  # the best matching passage, HTML-escaped, matches in <mark>…</mark>
    title_highlighted: str  # the title, HTML-escaped, matches in <mark>…</mark>
    collected: bool  # full metadata stored (else a stub known by its title)


@dataclass(frozen=True, slots=True)
class SearchPage:
    total: int  # matches, counted up to MAX_RESULTS
    hits: list[SearchHit]
    total_is_exact: bool  # False when there are more than MAX_RESULTS matches


def search_papers(*, session: Session, query: str, limit: int, offset: int) -> SearchPage:
    """One page of the papers matching `query` (see `search_syntax` for what is accepted).

    Raises InvalidInput for a query with nothing to search for or longer than
    MAX_QUERY_LENGTH characters, and for a limit outside 1..MAX_LIMIT or a negative offset.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return _steps.run(session, postgres_search(query=query, limit=limit, offset=offset))
    if dialect != "sqlite":
        raise NotImplementedError(f"RefNet supports PostgreSQL and SQLite, not {dialect}")
    page_size, start = _page_bounds(query, limit, offset)
    counted, rows = _search_sqlite.SqliteMatches(session, query).page(
        limit=page_size, offset=start, cap=MAX_RESULTS
    )
    return _search_page(counted, rows)


def postgres_search(*, query: str, limit: int, offset: int) -> Steps[SearchPage]:
    """`search_papers` on PostgreSQL as a read that `_steps` runs, on a session or async."""
    page_size, start = _page_bounds(query, limit, offset)
    counted, rows = yield from _search_postgres.matches(
        query, limit=page_size, offset=start, cap=MAX_RESULTS
    )
    return _search_page(counted, rows)


def _page_bounds(query: str, limit: int, offset: int) -> tuple[int, int]:
    """The page's size and start among the first MAX_RESULTS matches; InvalidInput for a
    query, limit or offset that is not accepted."""
    check_length(query)
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}, not {limit}.")
    if offset < 0:
        raise InvalidInput(f"offset must be 0 or more, not {offset}.")
    return max(0, min(limit, MAX_RESULTS - offset)), min(offset, MAX_RESULTS)


def _search_page(counted: int, rows: list[SearchRow]) -> SearchPage:
    hits = [
        SearchHit(
            paper_id=row.paper_id,
            s2_id=row.s2_id,
            title=row.title,
            year=row.year,
            citation_count=row.citation_count,
            rank=row.rank,
            snippet=marked_html(row.snippet),
            title_highlighted=marked_html(row.title_highlighted),
            collected=row.crawl_state in COLLECTED_STATES,
        )
        for row in rows
    ]
    return SearchPage(
        total=min(counted, MAX_RESULTS), hits=hits, total_is_exact=counted <= MAX_RESULTS
    )


def marked_html(text: str | None) -> str:
    """Escape text for HTML and turn the database's match marks into <mark> tags."""
    escaped = html.escape(text or "", quote=True)
    opened = False
    parts = []
    for piece in re.split(f"([{MARK_START}{MARK_END}])", escaped):
        if piece == MARK_START and not opened:
            parts.append("<mark>")
            opened = True
        elif piece == MARK_END and opened:
            parts.append("</mark>")
            opened = False
        else:
            parts.append(_STRAY_MARKS.sub("", piece))
    if opened:
        parts.append("</mark>")
    return "".join(parts)
