"""Listing stored papers: filters, a sort, and keyset or offset pages, each with the total.

Sorts (`SORTS`) order by one key, then by row id in the same direction, so the order is total
and a keyset cursor names an exact position. A key the paper does not have (unknown citation
count or year, no title) counts as lower than any value: last in a descending sort, first in an
ascending one. `title` compares the first `TITLE_KEY_LENGTH` characters, lower-cased, by code
point (the same on PostgreSQL and SQLite, whatever the database's collation).

Every key is a non-null expression (see `_KEYS`), so the next page is one row comparison,
`(key, id) < (last key, last id)`, which an index on the same expression answers by a range
scan (the indexes it wants are listed in `_KEYS`). A cursor is opaque to clients (see
`refnet.db.queries._cursor`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Integer,
    Text,
    cast,
    exists,
    func,
    literal,
    literal_column,
    select,
    tuple_,
    union,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from refnet.core.errors import InvalidInput
from refnet.db.base import as_utc
from refnet.db.models import CrawlJob, CrawlState, FrontierEntry, Paper, WatchedSeed
from refnet.db.queries._cursor import decode_cursor, encode_cursor

SORTS = ("-citations", "citations", "-year", "year", "title", "-title", "-added", "added")
DEFAULT_SORT = "-citations"
STATES = tuple(state.value for state in CrawlState)
MAX_LIMIT = 100
TITLE_KEY_LENGTH = 200
MAX_FIELD_LENGTH = 100
MAX_OFFSET = 1_000_000_000
MAX_YEAR = 9999
MAX_COUNT = 2**31 - 1
_MAX_ROW_ID = 2**63 - 1


def check_page_size(limit: int, offset: int | None, max_limit: int = MAX_LIMIT) -> None:
    """InvalidInput unless 1 <= limit <= max_limit and 0 <= offset <= MAX_OFFSET."""
    if not 1 <= limit <= max_limit:
        raise InvalidInput(f"limit must be between 1 and {max_limit}, not {limit}")
    if offset is not None and not 0 <= offset <= MAX_OFFSET:
        raise InvalidInput(f"offset must be between 0 and {MAX_OFFSET}, not {offset}")


def is_row_id(value: int) -> bool:
    """Whether `value` can be a row id at all (a larger number would overflow the database's
    integers rather than find nothing)."""
    return 0 < value <= _MAX_ROW_ID


# Constants are written into the SQL, not bound: an index on an expression serves a query
# only when the query has the same expression, constants included (a prepared statement's
# generic plan would not see a bound -1 as the index's -1).
_MINUS_ONE: ColumnElement[int] = literal_column("-1", Integer())


def citation_key() -> ColumnElement[Any]:
    """The citation count, unknown counting as lower than 0."""
    return func.coalesce(Paper.citation_count, _MINUS_ONE)


def _title_key(session: Session) -> ColumnElement[Any]:
    start: ColumnElement[int] = literal_column("1", Integer())
    length: ColumnElement[int] = literal_column(str(TITLE_KEY_LENGTH), Integer())
    key = func.coalesce(func.lower(func.substr(Paper.title, start, length)), literal_column("''"))
    if session.get_bind().dialect.name == "postgresql":
        return key.collate("C")
    return key


# The key of each sort, never NULL. Indexes serving them on PostgreSQL (one per key: a backward
# scan serves the other direction):
#   ((coalesce(citation_count, -1)), id), ((coalesce(year, -1)), id), (created_at, id),
#   ((coalesce(lower(substr(title, 1, 200)), '')) COLLATE "C", id)
_KEYS: dict[str, Callable[[Session], Any]] = {
    "citations": lambda _: citation_key(),
    "year": lambda _: func.coalesce(Paper.year, _MINUS_ONE),
    "title": _title_key,
    "added": lambda _: Paper.created_at,
}


@dataclass(frozen=True, slots=True)
class PaperFilter:
    year_min: int | None = None
    year_max: int | None = None
    min_citations: int | None = None
    field_of_study: str | None = None  # one of the paper's fields, case-insensitive
    seed: bool | None = None  # a seed of any crawl job, or an actively watched one (or not)
    state: str | None = None  # one of STATES


@dataclass(frozen=True, slots=True)
class PaperSummary:
    id: int
    s2_id: str
    title: str | None
    year: int | None
    venue: str | None
    citation_count: int | None
    reference_count: int | None
    fields_of_study: list[str]
    state: str
    doi: str | None
    arxiv: str | None
    added_at: datetime


@dataclass(frozen=True, slots=True)
class PaperPage:
    total: int  # papers matching the filters, on every page
    items: list[PaperSummary]
    next_cursor: str | None  # None on the last page


def summary_columns() -> tuple[Any, ...]:
    """The columns of a `PaperSummary`, in its field order."""
    return (
        Paper.id,
        Paper.s2_id,
        Paper.title,
        Paper.year,
        Paper.venue,
        Paper.citation_count,
        Paper.reference_count,
        Paper.fields_of_study,
        Paper.crawl_state,
        Paper.doi,
        Paper.arxiv_id,
        Paper.created_at,
    )


def summary_fields(row: Any) -> dict[str, Any]:
    """The fields of a `PaperSummary` from a row selected with `summary_columns()`."""
    return {
        "id": row.id,
        "s2_id": row.s2_id,
        "title": row.title,
        "year": row.year,
        "venue": row.venue,
        "citation_count": row.citation_count,
        "reference_count": row.reference_count,
        "fields_of_study": list(row.fields_of_study or []),
        "state": row.crawl_state,
        "doi": row.doi,
        "arxiv": row.arxiv_id,
        "added_at": as_utc(row.created_at),
    }


def seed_paper_ids() -> Any:
    """Ids of papers that seed any crawl job, or that are watched (actively)."""
    return union(
        select(FrontierEntry.paper_id).where(FrontierEntry.is_seed),
        select(WatchedSeed.paper_id).where(WatchedSeed.active),
    )


def is_seed(paper_id: Any) -> ColumnElement[bool]:
    """Whether one paper is a seed, for a select of a few rows.

    The crawl frontier has no index on `paper_id` alone; going through the (few) crawl jobs
    probes its primary key (job_id, paper_id) instead of scanning it.
    """
    frontier = exists().where(
        CrawlJob.id == FrontierEntry.job_id,
        FrontierEntry.paper_id == paper_id,
        FrontierEntry.is_seed,
    )
    watched = exists().where(WatchedSeed.paper_id == paper_id, WatchedSeed.active)
    return frontier | watched


def list_papers(
    *,
    session: Session,
    filters: PaperFilter,
    sort: str = DEFAULT_SORT,
    limit: int,
    cursor: str | None = None,
    offset: int | None = None,
) -> PaperPage:
    """One page of stored papers matching `filters`, in `sort` order.

    Give a `cursor` (from the previous page's `next_cursor`) or an `offset`, not both; neither
    is the first page. `next_cursor` is set on every page but the last, offset pages included.
    """
    _check_page(sort, limit, cursor, offset)
    conditions = _conditions(session, filters)
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    key = _KEYS[name](session)
    query = select(*summary_columns(), key.label("sort_key")).where(*conditions)
    if cursor is not None:
        last_key, last_id = decode_cursor(cursor, sort)
        position = tuple_(key, Paper.id)
        bound = tuple_(literal(last_key, type_=key.type), literal(last_id, type_=Paper.id.type))
        query = query.where(position < bound if descending else position > bound)
    order = (key.desc(), Paper.id.desc()) if descending else (key.asc(), Paper.id.asc())
    query = query.order_by(*order).limit(limit + 1).offset(offset or None)
    rows = session.execute(query).all()
    total = session.scalar(select(func.count()).select_from(Paper).where(*conditions)) or 0
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(sort, rows[-1].sort_key, rows[-1].id) if more else None
    return PaperPage(
        total=total,
        items=[PaperSummary(**summary_fields(row)) for row in rows],
        next_cursor=next_cursor,
    )


def _check_page(sort: str, limit: int, cursor: str | None, offset: int | None) -> None:
    if sort not in SORTS:
        raise InvalidInput(f"unknown sort {sort!r}; accepted: {', '.join(SORTS)}")
    check_page_size(limit, offset)
    if cursor is not None and offset is not None:
        raise InvalidInput("give a cursor or an offset, not both")


def _conditions(session: Session, filters: PaperFilter) -> list[Any]:
    conditions: list[Any] = []
    low, high = filters.year_min, filters.year_max
    for name, year in (("year_min", low), ("year_max", high)):
        if year is not None and not 0 <= year <= MAX_YEAR:
            raise InvalidInput(f"{name} must be a year between 0 and {MAX_YEAR}, not {year}")
    if low is not None and high is not None and low > high:
        raise InvalidInput(f"year_min ({low}) is after year_max ({high})")
    if filters.year_min is not None:
        conditions.append(Paper.year >= filters.year_min)
    if filters.year_max is not None:
        conditions.append(Paper.year <= filters.year_max)
    if filters.min_citations is not None:
        if not 0 <= filters.min_citations <= MAX_COUNT:
            raise InvalidInput(
                f"min_citations must be between 0 and {MAX_COUNT}, not {filters.min_citations}"
            )
        conditions.append(Paper.citation_count >= filters.min_citations)
    if filters.state is not None:
        if filters.state not in STATES:
            raise InvalidInput(f"unknown state {filters.state!r}; accepted: {', '.join(STATES)}")
        conditions.append(Paper.crawl_state == filters.state)
    if filters.field_of_study is not None:
        conditions.append(_has_field(session, filters.field_of_study))
    if filters.seed is not None:
        seeds = seed_paper_ids()
        conditions.append(Paper.id.in_(seeds) if filters.seed else Paper.id.not_in(seeds))
    return conditions


def _has_field(session: Session, field: str) -> ColumnElement[bool]:
    """One element of `fields_of_study` equals `field`, ignoring case.

    On PostgreSQL a containment test on the lower-cased document, which a GIN index on
    `(lower(fields_of_study::text)::jsonb)` answers.
    """
    wanted = " ".join(field.split()).lower()
    if not wanted or len(wanted) > MAX_FIELD_LENGTH:
        raise InvalidInput(
            f'field_of_study must be 1 to {MAX_FIELD_LENGTH} characters, e.g. "Computer Science"'
        )
    if session.get_bind().dialect.name == "postgresql":
        document = cast(func.lower(cast(Paper.fields_of_study, Text)), JSONB)
        return document.op("@>")(literal([wanted], type_=JSONB))
    element = func.json_each(Paper.fields_of_study).table_valued("value")
    return exists(select(1).select_from(element).where(func.lower(element.c.value) == wanted))
