"""Full-text search over stored papers, on SQLite and PostgreSQL: what a user would notice."""

from __future__ import annotations

import pytest

from refnet.db.queries import _search_postgres
from refnet.db.queries.search import MAX_RESULTS, SearchPage
from tests.integration.db.search_support import (
    found,
    paper,
    search,
    store,
    store_filler,
    summarize,
)


@pytest.fixture
def url(database_url: str) -> str:
    store_filler(database_url)
    return database_url


def test_a_paper_is_found_by_words_of_its_title_abstract_and_tldr(url: str) -> None:
    store(
        url,
        [
            paper(
                1,
                "Citation graphs of physics",
                abstract="We measure obsolescence in journals.",
                tldr="Older papers are cited less over time.",
            )
        ],
    )

    assert found(url, "citation") == ["Citation graphs of physics"]
    assert found(url, "obsolescence") == ["Citation graphs of physics"]
    assert found(url, "older") == ["Citation graphs of physics"]
    assert found(url, "unrelatedword") == []


@pytest.mark.parametrize(
    ("field", "query"),
    [
        ("summary", "centrality"),
        ("tldr", "shortcut"),
        ("keywords", "bibliometrics"),
        ("key_points", "reproducible"),
    ],
)
def test_a_paper_is_found_by_words_of_its_done_summary(url: str, field: str, query: str) -> None:
    texts = {
        "summary": "Ranks papers by centrality.",
        "tldr": "A shortcut to the key papers.",
        "keywords": ["bibliometrics", "graphs"],
        "key_points": ["The method is reproducible."],
    }
    ids = store(url, [paper(1, "Maps of science")])
    summarize(url, ids[f"{1:040x}"], **{field: texts[field]})  # type: ignore[arg-type]

    assert found(url, query) == ["Maps of science"]


def test_words_of_a_query_may_match_in_different_fields(url: str) -> None:
    ids = store(url, [paper(1, "Maps of science", abstract="Drawn from journal citations.")])
    summarize(url, ids[f"{1:040x}"], keywords=["bibliometrics"])

    assert found(url, "maps journal bibliometrics") == ["Maps of science"]


def test_other_forms_of_a_word_match(url: str) -> None:
    store(url, [paper(1, "A transformer for citation networks")])

    assert found(url, "transformers") == ["A transformer for citation networks"]
    assert found(url, "network") == ["A transformer for citation networks"]


def test_a_title_match_ranks_above_an_abstract_match(url: str) -> None:
    store(
        url,
        [
            paper(1, "Ranking papers", abstract="Uses attention over citations.", citations=900),
            paper(2, "Attention for ranking", abstract="Orders papers by use.", citations=1),
        ],
    )

    assert found(url, "attention") == ["Attention for ranking", "Ranking papers"]


def test_equally_relevant_papers_come_most_cited_first(url: str) -> None:
    store(url, [paper(n, f"Graph summaries, part {n}", citations=n * 10) for n in (1, 3, 2)])
    store(url, [paper(4, "Graph summaries, part 4", citations=None)])

    assert found(url, "graph summaries") == [
        "Graph summaries, part 3",
        "Graph summaries, part 2",
        "Graph summaries, part 1",
        "Graph summaries, part 4",
    ]


def test_a_quoted_phrase_matches_its_words_in_order(url: str) -> None:
    store(url, [paper(1, "Graph neural networks"), paper(2, "Neural models of a graph")])

    assert found(url, '"graph neural"') == ["Graph neural networks"]
    assert sorted(found(url, "graph neural")) == [
        "Graph neural networks",
        "Neural models of a graph",
    ]


def test_a_minus_excludes_a_word_or_phrase(url: str) -> None:
    store(url, [paper(1, "Graph neural networks"), paper(2, "Graph kernels")])

    assert found(url, "graph -neural") == ["Graph kernels"]
    assert found(url, 'graph -"neural networks"') == ["Graph kernels"]


def test_or_finds_either_alternative(url: str) -> None:
    store(url, [paper(1, "Graph kernels"), paper(2, "Citation counts"), paper(3, "Graph counts")])

    assert sorted(found(url, "kernels OR citation")) == ["Citation counts", "Graph kernels"]
    assert found(url, "graph counts or nothingsuch") == ["Graph counts"]


def test_pages_cover_every_match_once_with_the_total(url: str) -> None:
    store(url, [paper(n, f"Survey of retrieval, volume {n}", citations=n) for n in range(1, 26)])

    pages = [search(url, "retrieval", limit=10, offset=offset) for offset in (0, 10, 20, 30)]

    assert [page.total for page in pages] == [25] * 4
    assert all(page.total_is_exact for page in pages)
    assert [len(page.hits) for page in pages] == [10, 10, 5, 0]
    titles = [hit.title for page in pages for hit in page.hits]
    assert titles == [f"Survey of retrieval, volume {n}" for n in range(25, 0, -1)]


def test_the_total_is_counted_up_to_a_cap(url: str) -> None:
    count = MAX_RESULTS + 5
    store(url, [paper(n, f"Ontology alignment, case {n}", citations=n) for n in range(count)])

    first = search(url, "ontology", limit=10)
    last = search(url, "ontology", limit=10, offset=MAX_RESULTS - 5)
    beyond = search(url, "ontology", limit=10, offset=MAX_RESULTS)

    assert (first.total, first.total_is_exact, len(first.hits)) == (MAX_RESULTS, False, 10)
    assert len(last.hits) == 5
    assert beyond.hits == []


def test_stubs_are_found_by_title_and_told_apart(url: str) -> None:
    store(url, [paper(1, "Stub about lattices", complete=False), paper(2, "Lattices in full")])

    hits = {hit.title: hit.collected for hit in search(url, "lattices").hits}

    assert hits == {"Stub about lattices": False, "Lattices in full": True}


def test_snippets_mark_matches_and_escape_html(url: str) -> None:
    store(
        url,
        [
            paper(
                1,
                "Transformers & <script>alert(1)</script> \x02 beyond",
                abstract="Plain words first. Then <img src=x onerror=alert(1)> transformers win.",
            )
        ],
    )

    (hit,) = search(url, "transformers").hits

    assert hit.title_highlighted.startswith("<mark>Transformers</mark> &amp; &lt;script&gt;")
    assert "<script" not in hit.title_highlighted and "<img" not in hit.snippet
    assert "&lt;img src=x onerror=alert(1)&gt;" in hit.snippet
    assert "<mark>transformers</mark>" in hit.snippet
    for text in (hit.title_highlighted, hit.snippet):
        assert text.count("<mark>") == text.count("</mark>")
        assert "\x02" not in text and "\x03" not in text


def test_a_title_only_match_shows_the_start_of_the_abstract(url: str) -> None:
    store(url, [paper(1, "Citation cascades", abstract="Papers cite papers that cite papers.")])

    (hit,) = search(url, "cascades").hits

    assert hit.snippet.startswith("Papers cite papers")
    assert "<mark>" not in hit.snippet


def test_either_way_of_reading_candidates_finds_the_same_pages_on_postgresql(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_filler(pg_url)
    count = MAX_RESULTS + 40
    store(
        pg_url,
        [
            paper(n, f"Photometry {'and photometry ' * (n % 3)}, case {n}", citations=n % 97)
            for n in range(count)
        ],
    )

    def pages(walks: bool) -> list[SearchPage]:
        monkeypatch.setattr(_search_postgres, "walks_citation_order", lambda *_: walks)
        return [search(pg_url, "photometry", limit=50, offset=offset) for offset in (0, 150)]

    walked, sorted_ = pages(True), pages(False)

    assert walked == sorted_
    assert [(page.total, page.total_is_exact, len(page.hits)) for page in walked] == [
        (MAX_RESULTS, False, 50)
    ] * 2
    hits = [hit for page in walked for hit in page.hits]
    assert hits == sorted(hits, key=lambda hit: (-hit.rank, -(hit.citation_count or 0), hit.s2_id))


def test_a_match_far_into_a_long_abstract_is_in_the_snippet(url: str) -> None:
    filler = " ".join(["Stars form in cold clouds."] * 80)
    store(url, [paper(1, "Star formation", abstract=f"{filler} A magnetar flared. {filler}")])

    (hit,) = search(url, "magnetar").hits

    assert "<mark>magnetar</mark>" in hit.snippet
    assert len(hit.snippet.split()) < 60
