"""Whatever a person types into the search box gives results or a message saying what is
accepted, never a database error."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from refnet.core.errors import InvalidInput
from refnet.db.queries.search import MAX_LIMIT, MAX_QUERY_LENGTH, SearchPage
from refnet.db.session import get_engine
from tests.integration.db.search_support import found, paper, search, store, store_filler

HOSTILE = [
    "'; DROP TABLE papers; --",
    'papers"; DELETE FROM papers; --',
    "graph*",
    "*",
    "title:graph",
    "^graph",
    "NEAR(graph kernels)",
    "NEAR(graph",
    '"unbalanced graph',
    'graph"',
    '"',
    '""',
    "(graph",
    "graph)",
    "graph AND kernels",
    "graph NOT kernels",
    "graph & kernels | !x <-> y:*",
    "{title}: graph",
    "graph + kernels",
    "%_%",
    "\\",
    "graph\x00kernels",
    "\x02graph\x03",
    "graph OR",
    "OR graph",
    "graph -",
    "grâph kérnels",
    "グラフ",
    "😀 graph",
    "graph " * 80,
]


@pytest.fixture
def url(database_url: str) -> str:
    store_filler(database_url)
    store(database_url, [paper(1, "Graph kernels"), paper(2, "Drop tables")])
    return database_url


@pytest.mark.parametrize("query", HOSTILE)
def test_a_hostile_query_gives_results_or_a_clear_refusal(url: str, query: str) -> None:
    try:
        page = search(url, query)
    except InvalidInput as exc:
        assert "Use words" in str(exc) or "characters" in str(exc)
    else:
        assert isinstance(page, SearchPage)
    with get_engine(url).connect() as connection:
        assert connection.scalar(sa.text("SELECT count(*) FROM papers")) == 10


def test_sql_in_a_query_is_only_words(url: str) -> None:
    assert found(url, "'; DROP TABLE papers; --") == []
    assert found(url, "drop tables") == ["Drop tables"]
    assert found(url, "graph*") == ["Graph kernels"]
    assert found(url, '"unbalanced graph') == []
    assert found(url, "(graph) ^kernels*") == ["Graph kernels"]
    assert found(url, 'NEAR("graph kernels"') == []  # "near" is a word to find, like any other


@pytest.mark.parametrize(
    "query", ["", "   ", "***", "-graph", '-"graph kernels"', "OR", "graph OR -kernels"]
)
def test_a_query_with_nothing_to_look_for_is_refused(url: str, query: str) -> None:
    with pytest.raises(InvalidInput, match=r'Use words .*"quoted phrases", -word to exclude'):
        search(url, query)


def test_a_query_of_common_words_only_is_refused_on_postgresql(pg_url: str) -> None:
    with pytest.raises(InvalidInput, match="common words"):
        search(pg_url, "the and of")


def test_a_query_of_10000_characters_is_refused(url: str) -> None:
    with pytest.raises(InvalidInput, match=f"at most {MAX_QUERY_LENGTH}"):
        search(url, "graph " * 2000)


def test_a_query_of_the_longest_accepted_length_is_searched(url: str) -> None:
    query = "graph".ljust(MAX_QUERY_LENGTH)

    assert [hit.title for hit in search(url, query).hits] == ["Graph kernels"]


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (MAX_LIMIT + 1, 0), (10, -1)])
def test_a_limit_or_offset_out_of_range_is_refused(url: str, limit: int, offset: int) -> None:
    with pytest.raises(InvalidInput, match=r"^(limit|offset) must be"):
        search(url, "graph", limit=limit, offset=offset)
