"""The synthetic citation graph looks like Semantic Scholar data and is reproducible."""

from __future__ import annotations

import statistics
from typing import Any

import pytest

from .s2_graph import SyntheticGraph, effective_date, make_graph


@pytest.fixture(scope="module")
def graph() -> SyntheticGraph:
    return make_graph(1500, seed=5)


def _papers_with(graph: SyntheticGraph, predicate: Any) -> list[dict[str, Any]]:
    return [paper for paper in graph.papers.values() if predicate(paper)]


def test_same_seed_gives_the_same_graph() -> None:
    first, second = make_graph(200, seed=3), make_graph(200, seed=3)

    assert first.papers == second.papers
    assert first.references == second.references
    assert set(make_graph(200, seed=4).papers).isdisjoint(first.papers)


def test_paper_ids_are_forty_hex_digits(graph: SyntheticGraph) -> None:
    assert all(len(pid) == 40 and int(pid, 16) >= 0 for pid in graph.papers)


def test_papers_only_cite_older_or_same_year_papers(graph: SyntheticGraph) -> None:
    for citing, cited_ids in graph.references.items():
        year = graph.papers[citing]["year"]
        assert all(graph.papers[c]["year"] <= year for c in cited_ids if c is not None)


def test_counts_agree_with_the_graph(graph: SyntheticGraph) -> None:
    for pid, paper in graph.papers.items():
        citing = graph.citations_of(pid)
        influential = sum((c, pid) in graph.influential for c in citing)
        assert paper["referenceCount"] == len(graph.references[pid])
        assert paper["citationCount"] == len(citing)
        assert paper["influentialCitationCount"] == influential


def test_citations_are_listed_newest_first(graph: SyntheticGraph) -> None:
    most_cited = max(graph.papers, key=lambda pid: len(graph.citations_of(pid)))
    dates = [effective_date(graph.papers[c]) for c in graph.citations_of(most_cited)]

    assert len(dates) > 50
    assert dates == sorted(dates, reverse=True)


def test_references_contain_about_the_requested_share_of_unresolved_entries() -> None:
    graph = make_graph(800, seed=2, unresolved_fraction=0.1)
    entries = [ref for refs in graph.references.values() for ref in refs]

    assert 0.08 < entries.count(None) / len(entries) < 0.12
    assert all(r is None or r in graph.papers for r in entries)


def test_out_degree_stays_within_the_reference_range(graph: SyntheticGraph) -> None:
    resolved = [len([r for r in refs if r]) for refs in graph.references.values()]

    assert max(resolved) <= 60
    assert min(resolved[100:]) >= 5
    assert 20 < statistics.mean(resolved) < 40


def test_citation_in_degree_is_heavy_tailed_on_twenty_thousand_papers() -> None:
    graph = make_graph(20_000, seed=1)
    in_degrees = [len(graph.citations_of(pid)) for pid in graph.papers]

    assert len(graph.papers) == 20_000
    assert max(in_degrees) > 50 * statistics.median(in_degrees)


def test_papers_carry_every_full_paper_field_with_real_types(graph: SyntheticGraph) -> None:
    for paper in graph.papers.values():
        assert "references" not in paper and "citations" not in paper
        assert isinstance(paper["venue"], str)
        assert paper["corpusId"] == paper["externalIds"]["CorpusId"]
        assert isinstance(paper["corpusId"], int)
        assert paper["citationStyles"]["bibtex"].startswith("@")
        assert paper["isOpenAccess"] == bool(
            paper["openAccessPdf"] and paper["openAccessPdf"]["url"]
        )
        assert paper["url"].endswith(paper["paperId"])


@pytest.mark.parametrize(
    "key",
    ["abstract", "tldr", "publicationDate", "publicationVenue", "journal", "openAccessPdf",
     "fieldsOfStudy", "publicationTypes"],
)  # fmt: skip
def test_nullable_fields_are_sometimes_null_and_sometimes_set(
    graph: SyntheticGraph, key: str
) -> None:
    nulls = len(_papers_with(graph, lambda p: p[key] is None))

    assert 0 < nulls < len(graph.papers) / 2


def test_identifiers_look_like_real_ones(graph: SyntheticGraph) -> None:
    dois = [
        p["externalIds"]["DOI"] for p in _papers_with(graph, lambda p: "DOI" in p["externalIds"])
    ]

    assert len(dois) > len(graph.papers) / 2
    assert any(doi != doi.lower() for doi in dois)  # publisher casing
    assert len(set(map(str.lower, dois))) == len(dois)
    assert _papers_with(graph, lambda p: "ArXiv" in p["externalIds"])
    assert _papers_with(graph, lambda p: "PubMed" in p["externalIds"])
    assert _papers_with(graph, lambda p: p["venue"] == "")
    assert _papers_with(graph, lambda p: p["openAccessPdf"] and p["openAccessPdf"]["url"] == "")


def test_titles_and_names_include_duplicates_and_non_ascii(graph: SyntheticGraph) -> None:
    titles = [p["title"] for p in graph.papers.values()]
    names = [a["name"] for p in graph.papers.values() for a in p["authors"]]

    assert len(set(titles)) < len(titles)
    assert any(not title.isascii() for title in titles)
    assert any(not name.isascii() for name in names)
    assert all(
        isinstance(a["authorId"], str | None) for p in graph.papers.values() for a in p["authors"]
    )


def test_external_ids_resolve_in_any_case(graph: SyntheticGraph) -> None:
    paper = _papers_with(graph, lambda p: "DOI" in p["externalIds"])[0]
    doi = paper["externalIds"]["DOI"]

    assert graph.by_external_id("DOI", doi.lower()) == paper["paperId"]
    assert graph.by_external_id("doi", doi.upper()) == paper["paperId"]
    assert graph.by_external_id("CorpusId", str(paper["corpusId"])) == paper["paperId"]
    assert graph.by_external_id("DOI", "10.0000/missing") is None


def test_pdf_base_url_points_open_access_pdfs_at_a_local_host() -> None:
    graph = make_graph(300, seed=9, pdf_base_url="http://127.0.0.1:9999/pdf/")
    urls = [p["openAccessPdf"]["url"] for p in graph.papers.values() if p["isOpenAccess"]]

    assert urls
    assert all(url.startswith("http://127.0.0.1:9999/pdf/") for url in urls)


def test_a_hand_built_graph_derives_its_indices() -> None:
    old = {"paperId": "a" * 40, "title": "Old Work", "year": 2001, "publicationDate": None}
    new = {"paperId": "b" * 40, "title": "New Work", "year": 2020, "publicationDate": "2020-05-01"}
    graph = SyntheticGraph(
        papers={"a" * 40: old, "b" * 40: new}, references={"b" * 40: ["a" * 40, None]}
    )

    assert graph.citations_of("a" * 40) == ["b" * 40]
    assert graph.match_title("old work!") == ("a" * 40, 1.0)
    assert graph.unresolved_reference("b" * 40, 1)["paperId"] is None
