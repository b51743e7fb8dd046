"""The search box's syntax as FTS5 expressions, and match marks as safe HTML."""

from __future__ import annotations

import re

import pytest

from refnet.core.errors import InvalidInput
from refnet.db.queries.search import marked_html
from refnet.db.queries.search_syntax import MAX_QUERY_LENGTH, fts5_query

# What a translated query may contain: quoted runs of letters/digits, operators, parentheses.
SAFE = re.compile(r'^(?:"[^\W_]+(?: [^\W_]+)*"|AND|OR|NOT|[() ])+$')


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("graph", '("graph")'),
        ("graph kernels", '("graph" AND "kernels")'),
        ('"graph kernels" survey', '("graph kernels" AND "survey")'),
        ("graph -kernels", '(("graph") NOT ("kernels"))'),
        ('graph -"neural nets" -x', '(("graph") NOT ("neural nets" OR "x"))'),
        ("graph OR citation counts", '("graph") OR ("citation" AND "counts")'),
        ("graph or citation", '("graph") OR ("citation")'),
        ("OR graph OR OR citation OR", '("graph") OR ("citation")'),
        ("state-of-the-art", '("state of the art")'),
        ('"unclosed phrase here', '("unclosed phrase here")'),
        ("NEAR(graph, kernels)", '("NEAR graph" AND "kernels")'),
        ("title:graph^ *", '("title graph")'),
        ("graph - kernels", '(("graph") NOT ("kernels"))'),
        ("Gödel ﬁnite", '("Gödel" AND "finite")'),
    ],
)
def test_queries_translate_to_fts5(query: str, expected: str) -> None:
    assert fts5_query(query) == expected


@pytest.mark.parametrize(
    "query",
    [
        "'; DROP TABLE papers; --",
        'a" OR 1=1 --',
        "NEAR(a b, 2) AND {title abstract}: c* ^d",
        '"""graph',
        "-(a) b OR (c",
        "\x00\x1f graph \x7f",
        "x" * MAX_QUERY_LENGTH,
    ],
)
def test_hostile_queries_become_quoted_words_only(query: str) -> None:
    assert SAFE.match(fts5_query(query))


@pytest.mark.parametrize(
    "query", ["", " ", "*:^()", "-graph", "graph OR -kernels", "OR", '-"a b"', "x" * 501]
)
def test_queries_with_nothing_to_look_for_are_refused(query: str) -> None:
    with pytest.raises(InvalidInput, match=r"Use words|at most 500"):
        fts5_query(query)


def test_marks_become_tags_after_escaping() -> None:
    assert (
        marked_html("<b>\x02Graph\x03</b> & co") == "&lt;b&gt;<mark>Graph</mark>&lt;/b&gt; &amp; co"
    )


def test_stray_marks_never_leave_a_tag_open() -> None:
    assert marked_html("\x03a \x02b \x02c") == "a <mark>b c</mark>"
    assert marked_html(None) == ""
