"""Parsing real-shaped Semantic Scholar JSON, traps included."""

from __future__ import annotations

from datetime import date

import pytest

from refnet.core.errors import PermanentError
from refnet.sources.records import parse_listing_row, parse_paper

REAL_SHAPED = {
    "paperId": "649def34f8be52c8b66281af98ae884c09aef38b",
    "corpusId": 13744045,
    "externalIds": {
        "MAG": "2963178826",
        "DOI": "10.18653/V1/N18-3011",
        "ArXiv": "1805.02262v2",
        "CorpusId": 13744045,
    },
    "title": "Construction of the Literature Graph in Semantic Scholar",
    "abstract": None,
    "venue": "",
    "publicationVenue": {"id": "x", "name": "North American Chapter of the ACL"},
    "year": 2018,
    "publicationDate": "2018-05-06",
    "journal": None,
    "openAccessPdf": {"url": "https://aclanthology.org/N18-3011.pdf", "status": "HYBRID"},
    "fieldsOfStudy": None,
    "s2FieldsOfStudy": [{"category": "Computer Science", "source": "s2-fos-model"}],
    "tldr": None,
    "authors": [{"authorId": "1741101", "name": "Waleed Ammar"}, {"authorId": None, "name": " "}],
    "references": [{"paperId": None, "title": "unresolved"}, {"paperId": "a" * 40, "year": 2016}],
}


def test_doi_is_lower_cased_and_arxiv_version_dropped() -> None:
    paper = parse_paper(REAL_SHAPED, complete=True)
    assert paper.doi == "10.18653/v1/n18-3011"
    assert paper.arxiv_id == "1805.02262"
    assert paper.corpus_id == 13744045


def test_nulls_and_empty_strings_become_none_or_empty() -> None:
    paper = parse_paper(REAL_SHAPED)
    assert paper.abstract is None
    assert paper.tldr is None
    assert paper.journal is None
    assert paper.venue == "North American Chapter of the ACL"  # empty venue falls back
    assert paper.fields_of_study == ["Computer Science"]
    assert [a.name for a in paper.authors] == ["Waleed Ammar"]  # nameless author dropped
    assert paper.publication_date == date(2018, 5, 6)
    assert paper.open_access_license is None


def test_unresolved_references_are_skipped() -> None:
    paper = parse_paper(REAL_SHAPED)
    assert paper.reference_ids == ["a" * 40]
    assert paper.references is not None and paper.references[0].year == 2016


def test_paper_without_references_field_has_none() -> None:
    assert parse_paper({"paperId": "b" * 40}).reference_ids is None


@pytest.mark.parametrize("raw", [None, [], "x", {"title": "no id"}, {"paperId": None}])
def test_objects_without_paper_id_are_permanent_errors(raw: object) -> None:
    with pytest.raises(PermanentError):
        parse_paper(raw)


def test_bad_dates_and_counts_are_tolerated() -> None:
    paper = parse_paper(
        {"paperId": "c" * 40, "publicationDate": "2020-13-45", "citationCount": "many"}
    )
    assert paper.publication_date is None
    assert paper.citation_count is None


def test_listing_row_with_unresolved_paper_is_none() -> None:
    assert parse_listing_row({"citingPaper": {"paperId": None}}, paper_key="citingPaper") is None


def test_listing_row_keeps_edge_details() -> None:
    row = parse_listing_row(
        {
            "isInfluential": True,
            "intents": ["methodology"],
            "contexts": ["as in [3]"],
            "citedPaper": {"paperId": "d" * 40, "title": "T"},
        },
        paper_key="citedPaper",
    )
    assert row is not None
    assert (row.paper.s2_id, row.is_influential, row.intents) == ("d" * 40, True, ["methodology"])
