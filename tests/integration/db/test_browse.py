"""Browsing stored papers: filters, every sort both ways, keyset and offset pages with a total,
and a message saying what is accepted for every malformed request."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from refnet.core.errors import InvalidInput
from refnet.core.records import PaperRecord
from refnet.db.models import JobKind
from refnet.db.queries.browse import (
    SORTS,
    STATES,
    PaperFilter,
    PaperPage,
    PaperSummary,
    list_papers,
)
from refnet.db.queries.crawl import add_to_frontier, create_job, mark_expanded
from refnet.db.queries.jobs import unwatch_seed, watch_seed
from refnet.db.queries.papers import upsert_papers
from refnet.db.session import session_scope

TITLES = ["alpha beam", "Alpha beam", "Beta", "beta", "gamma", "Zeta", "zeta", "omega", "Omega"]
FIELDS = [["Computer Science"], ["Biology", "Computer Science"], ["Medicine"], []]


def record(number: int) -> PaperRecord:
    """Papers with ties on every key and some keys unknown."""
    complete = number % 5 != 0  # every fifth is a stub known from a listing
    return PaperRecord(
        s2_id=f"{number:040x}",
        title=None if number % 11 == 0 else TITLES[number % len(TITLES)] + f" {number % 3}",
        year=None if number % 7 == 0 else 2015 + number % 4,
        citation_count=None if number % 6 == 0 else (number * 7) % 5 * 10,
        fields_of_study=FIELDS[number % len(FIELDS)] if complete else [],
        doi=f"10.5555/{number}",
        complete=complete,
    )


@dataclass(frozen=True)
class Library:
    url: str
    ids: dict[int, int]  # paper number -> row id
    seeds: set[int]  # row ids of papers that are seeds (crawl seeds or watched)


@pytest.fixture
def library(database_url: str) -> Library:
    """31 papers stored in three batches (so `added` has ties and differences), one expanded,
    one crawl seed, one watched seed and one watched then unwatched (not a seed)."""
    ids: dict[int, int] = {}
    for numbers in (range(1, 12), range(12, 25), range(25, 32)):
        records = [record(n) for n in numbers]
        with session_scope(database_url) as session:
            stored = upsert_papers(session=session, records=records)
        ids.update({n: stored[r.s2_id] for n, r in zip(numbers, records, strict=True)})
    with session_scope(database_url) as session:
        mark_expanded(session=session, paper_id=ids[3])
        job = create_job(session=session, seeds=["x"], params={}, source="test", kind=JobKind.FULL)
        add_to_frontier(session=session, job_id=job.id, depths={ids[3]: 0}, is_seed=True)
        add_to_frontier(session=session, job_id=job.id, depths={ids[4]: 1})
        watch_seed(session=session, paper_id=ids[8])
        gone, _ = watch_seed(session=session, paper_id=ids[9])
        unwatch_seed(session=session, seed_id=gone["id"])
    return Library(database_url, ids, {ids[3], ids[8]})


def everything(url: str, sort: str, filters: PaperFilter = PaperFilter()) -> PaperPage:
    with session_scope(url) as session:
        return list_papers(session=session, filters=filters, sort=sort, limit=100)


def page(url: str, sort: str = "-citations", **kwargs: Any) -> PaperPage:
    kwargs.setdefault("filters", PaperFilter())
    kwargs.setdefault("limit", 10)
    with session_scope(url) as session:
        return list_papers(session=session, sort=sort, **kwargs)


def null_lowest(value: Any, lowest: Any) -> Any:
    return lowest if value is None else value


KEYS: dict[str, Callable[[PaperSummary], Any]] = {
    "citations": lambda p: null_lowest(p.citation_count, -1),
    "year": lambda p: null_lowest(p.year, -1),
    "title": lambda p: (p.title or "").lower(),
    "added": lambda p: p.added_at,
}


def expected_order(items: list[PaperSummary], sort: str) -> list[int]:
    key = KEYS[sort.lstrip("-")]
    ordered = sorted(items, key=lambda p: (key(p), p.id), reverse=sort.startswith("-"))
    return [p.id for p in ordered]


@pytest.mark.parametrize("sort", SORTS)
def test_each_sort_orders_by_its_key_then_id_with_unknown_values_lowest(
    library: Library, sort: str
) -> None:
    listed = everything(library.url, sort)

    assert listed.total == len(listed.items) == 31
    assert listed.next_cursor is None
    assert [p.id for p in listed.items] == expected_order(listed.items, sort)
    key = KEYS[sort.lstrip("-")]
    assert len({key(p) for p in listed.items}) < 31, "the data must have ties on the key"


def test_the_default_sort_puts_the_most_cited_first_and_unknown_counts_last(
    library: Library,
) -> None:
    with session_scope(library.url) as session:
        listed = list_papers(session=session, filters=PaperFilter(), limit=100)

    counts = [p.citation_count for p in listed.items]
    known = [c for c in counts if c is not None]
    assert counts == sorted(known, reverse=True) + [None] * (len(counts) - len(known))


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("size", [1, 4, 10])
def test_keyset_pages_join_up_to_the_whole_list(library: Library, sort: str, size: int) -> None:
    whole = [p.id for p in everything(library.url, sort).items]
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        current = page(library.url, sort, limit=size, cursor=cursor)
        assert current.total == 31
        assert len(current.items) == min(size, 31 - len(seen))
        seen += [p.id for p in current.items]
        pages += 1
        cursor = current.next_cursor
        if cursor is None:
            break

    assert seen == whole
    assert pages == -(-31 // size)


@pytest.mark.parametrize("sort", ["-citations", "title", "-added"])
def test_offset_pages_join_up_to_the_whole_list_and_offer_a_cursor(
    library: Library, sort: str
) -> None:
    whole = [p.id for p in everything(library.url, sort).items]
    pages = [page(library.url, sort, limit=8, offset=offset) for offset in (0, 8, 16, 24, 32)]

    assert [p.id for current in pages for p in current.items] == whole
    assert [p.total for p in pages] == [31] * 5
    assert [p.next_cursor is not None for p in pages] == [True, True, True, False, False]
    after_second = page(library.url, sort, limit=8, cursor=pages[1].next_cursor)
    assert after_second.items == pages[2].items


def test_a_page_exactly_at_the_end_has_no_next_cursor(database_url: str) -> None:
    with session_scope(database_url) as session:
        upsert_papers(session=session, records=[record(n) for n in (1, 2, 3, 4)])

    first = page(database_url, limit=2)
    second = page(database_url, limit=2, cursor=first.next_cursor)

    assert (len(first.items), len(second.items), second.next_cursor) == (2, 2, None)


def test_an_empty_library_has_an_empty_first_page(database_url: str) -> None:
    assert page(database_url) == PaperPage(total=0, items=[], next_cursor=None)


def matching(library: Library, filters: PaperFilter, keep: Callable[[PaperSummary], bool]) -> None:
    """The filtered list is exactly the papers `keep` selects, in order, with their total."""
    whole = everything(library.url, "-citations").items
    filtered = everything(library.url, "-citations", filters)
    assert [p.id for p in filtered.items] == [p.id for p in whole if keep(p)]
    assert filtered.total == len(filtered.items) > 0
    assert filtered.total < len(whole)


def test_year_range_keeps_papers_of_those_years_only(library: Library) -> None:
    matching(
        library,
        PaperFilter(year_min=2016, year_max=2017),
        lambda p: p.year is not None and 2016 <= p.year <= 2017,
    )
    matching(library, PaperFilter(year_min=2017), lambda p: (p.year or 0) >= 2017)
    matching(library, PaperFilter(year_max=2015), lambda p: p.year == 2015)


def test_min_citations_keeps_papers_cited_at_least_that_often(library: Library) -> None:
    matching(library, PaperFilter(min_citations=20), lambda p: (p.citation_count or -1) >= 20)
    matching(library, PaperFilter(min_citations=0), lambda p: p.citation_count is not None)


@pytest.mark.parametrize("typed", ["Computer Science", "computer science", " COMPUTER  science "])
def test_field_of_study_matches_one_field_ignoring_case(library: Library, typed: str) -> None:
    matching(
        library,
        PaperFilter(field_of_study=typed),
        lambda p: "Computer Science" in p.fields_of_study,
    )


def test_field_of_study_matches_whole_fields_only(library: Library) -> None:
    for partial in ("Computer", "Science", "Computer Science Biology"):
        assert everything(library.url, "title", PaperFilter(field_of_study=partial)).total == 0


def test_state_keeps_papers_in_that_crawl_state(library: Library) -> None:
    matching(library, PaperFilter(state="discovered"), lambda p: p.state == "discovered")
    matching(library, PaperFilter(state="expanded"), lambda p: p.id == library.ids[3])
    assert {p.state for p in everything(library.url, "title").items} == set(STATES)


def test_seed_filter_splits_crawl_and_watched_seeds_from_the_rest(library: Library) -> None:
    matching(library, PaperFilter(seed=True), lambda p: p.id in library.seeds)
    matching(library, PaperFilter(seed=False), lambda p: p.id not in library.seeds)


def test_filters_combine_and_keyset_pages_keep_them(library: Library) -> None:
    filters = PaperFilter(year_min=2016, seed=False, state="collected")
    whole = everything(library.url, "year", filters)
    seen: list[int] = []
    cursor = None
    while True:
        current = page(library.url, "year", filters=filters, limit=3, cursor=cursor)
        assert current.total == whole.total
        seen += [p.id for p in current.items]
        if (cursor := current.next_cursor) is None:
            break

    assert seen == [p.id for p in whole.items]
    assert all(p.state == "collected" and (p.year or 0) >= 2016 for p in whole.items)


def test_summaries_carry_what_a_listing_shows(library: Library) -> None:
    listed = {p.id: p for p in everything(library.url, "title").items}
    first = listed[library.ids[1]]

    assert first.s2_id == f"{1:040x}"
    assert (first.title, first.year, first.doi, first.arxiv) == (
        "Alpha beam 1",
        2016,
        "10.5555/1",
        None,
    )
    assert first.fields_of_study == ["Biology", "Computer Science"]
    assert first.state == "collected"
    assert isinstance(first.added_at, datetime) and first.added_at.utcoffset() is not None
    assert listed[library.ids[5]].state == "discovered"


def cursor_of(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


INVALID: list[tuple[dict[str, Any], str]] = [
    ({"sort": "citations_desc"}, "accepted: -citations, citations"),
    ({"filters": PaperFilter(state="done")}, "accepted: discovered, collected, expanded"),
    ({"filters": PaperFilter(year_min=2020, year_max=2019)}, "year_min (2020) is after"),
    ({"filters": PaperFilter(min_citations=-1)}, "min_citations must be between 0 and"),
    ({"filters": PaperFilter(min_citations=2**40)}, "min_citations must be between 0 and"),
    ({"filters": PaperFilter(year_min=-5)}, "year_min must be a year between 0 and 9999"),
    ({"filters": PaperFilter(year_max=10**20)}, "year_max must be a year between 0 and 9999"),
    ({"filters": PaperFilter(field_of_study="  ")}, "field_of_study must be 1 to 100"),
    ({"filters": PaperFilter(field_of_study="x" * 101)}, "field_of_study must be 1 to 100"),
    ({"limit": 0}, "limit must be between 1 and 100"),
    ({"limit": 101}, "limit must be between 1 and 100"),
    ({"offset": -1}, "offset must be between 0 and 1000000000"),
    ({"offset": 10**20}, "offset must be between 0 and 1000000000"),
    ({"offset": 0, "cursor": cursor_of({"sort": "-citations", "key": 1, "id": 1})}, "not both"),
    ({"cursor": "not a cursor!"}, "start again without it"),
    ({"cursor": "bm90IGpzb24"}, "start again without it"),  # base64 of "not json"
    ({"cursor": cursor_of([1, 2])}, "start again without it"),
    ({"cursor": cursor_of({"sort": "-citations", "key": "many", "id": 1})}, "without it"),
    ({"cursor": cursor_of({"sort": "-citations", "key": 1, "id": "1"})}, "without it"),
    ({"cursor": cursor_of({"sort": "-citations", "key": 1, "id": 2**70})}, "without it"),
    ({"cursor": cursor_of({"sort": "-citations", "key": 2**70, "id": 1})}, "without it"),
    ({"cursor": cursor_of({"sort": "-citations", "key": 1.5, "id": 1})}, "without it"),
    ({"cursor": cursor_of({"sort": "-citations", "key": True, "id": 1})}, "without it"),
    ({"cursor": cursor_of({"sort": "-citations", "key": None, "id": 1})}, "without it"),
    ({"sort": "title", "cursor": cursor_of({"sort": "title", "key": "a\x00", "id": 1})}, "it"),
    (
        {"sort": "-added", "cursor": cursor_of({"sort": "-added", "key": "yesterday", "id": 1})},
        "it",
    ),
    ({"sort": "added", "cursor": cursor_of({"sort": "added", "key": "2024-01-01", "id": 1})}, "it"),
    ({"cursor": "A" * 5000}, "start again without it"),
]


@pytest.mark.parametrize(("arguments", "message"), INVALID)
def test_a_malformed_request_is_refused_saying_what_is_accepted(
    database_url: str, arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        page(database_url, **arguments)

    assert message in str(refused.value)


def test_a_cursor_from_another_sort_is_refused(library: Library) -> None:
    cursor = page(library.url, "-citations", limit=2).next_cursor

    with pytest.raises(InvalidInput, match="belongs to sort '-citations', not 'citations'"):
        page(library.url, "citations", cursor=cursor)
    with pytest.raises(InvalidInput, match="belongs to sort '-citations', not 'year'"):
        page(library.url, "year", cursor=cursor)


def test_an_added_cursor_names_an_instant_whatever_its_offset(library: Library) -> None:
    first = page(library.url, "-added", limit=5)
    data = json.loads(base64.urlsafe_b64decode(str(first.next_cursor) + "=="))
    instant = datetime.fromisoformat(data["key"])
    shifted = instant.astimezone(timezone(timedelta(hours=5)))
    same = cursor_of({**data, "key": shifted.isoformat()})

    assert shifted.hour != instant.hour
    assert page(library.url, "-added", limit=5, cursor=same) == page(
        library.url, "-added", limit=5, cursor=first.next_cursor
    )
