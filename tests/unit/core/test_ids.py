"""Parsing what people type into Semantic Scholar paper ids or titles."""

from __future__ import annotations

import dataclasses

import pytest

from refnet.core.errors import InvalidInput, PermanentError
from refnet.core.ids import ACCEPTED_FORMS, MAX_INPUT_LENGTH, PaperRef, parse_paper_id

HEX = "649def34f8be52c8b66281af98ae884c09aef38b"


def api_id_of(text: str) -> str | None:
    return parse_paper_id(text).api_id


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (HEX, HEX),
        (HEX.upper(), HEX),
        (f"  {HEX}\n", HEX),
    ],
)
def test_bare_paper_id_is_lower_cased(text: str, expected: str) -> None:
    assert api_id_of(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CorpusId:215416146", "CorpusId:215416146"),
        ("corpusid:123", "CorpusId:123"),
        ("CORPUSID: 123", "CorpusId:123"),
        ("MAG:112218234", "MAG:112218234"),
        ("mag:112218234", "MAG:112218234"),
        ("PMID:19872477", "PMID:19872477"),
        ("pmid : 19872477", "PMID:19872477"),
        ("PMCID:2323736", "PMCID:2323736"),
        ("pmcid:PMC2323736", "PMCID:2323736"),
        ("ACL:W12-3903", "ACL:W12-3903"),
        ("acl:p19-1001", "ACL:P19-1001"),
        ("ACL:2020.ACL-main.447", "ACL:2020.acl-main.447"),
        ("acl:2021.findings-acl.12", "ACL:2021.findings-acl.12"),
    ],
)
def test_prefixed_ids_are_normalized(text: str, expected: str) -> None:
    assert api_id_of(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.1145/3292500.3330701", "DOI:10.1145/3292500.3330701"),
        ("10.18653/v1/N18-3011", "DOI:10.18653/v1/n18-3011"),
        ("doi:10.1000/XYZ", "DOI:10.1000/xyz"),
        ("DOI: 10.1000/XYZ", "DOI:10.1000/xyz"),
        ("https://doi.org/10.1038/NATURE14539", "DOI:10.1038/nature14539"),
        ("http://dx.doi.org/10.1038/nature14539", "DOI:10.1038/nature14539"),
        ("doi.org/10.1038/nature14539", "DOI:10.1038/nature14539"),
        ("https://doi.org/10.1002%2F%28SICI%291097-4571", "DOI:10.1002/(sici)1097-4571"),
        ("https://dl.acm.org/doi/10.1145/3292500.3330701", "DOI:10.1145/3292500.3330701"),
        ("https://dl.acm.org/doi/abs/10.1145/3292500.3330701", "DOI:10.1145/3292500.3330701"),
    ],
)
def test_dois_are_lower_cased(text: str, expected: str) -> None:
    assert api_id_of(text) == expected


def test_doi_url_is_lower_cased() -> None:
    assert api_id_of("https://doi.org/10.1109/CVPR.2016.90") == "DOI:10.1109/cvpr.2016.90"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2005.11401", "ARXIV:2005.11401"),
        ("2005.11401v4", "ARXIV:2005.11401"),
        ("0704.0001", "ARXIV:0704.0001"),
        ("arXiv:2005.11401", "ARXIV:2005.11401"),
        ("arxiv:1706.03762v5", "ARXIV:1706.03762"),
        ("ARXIV:2106.15928", "ARXIV:2106.15928"),
        ("hep-th/9901001", "ARXIV:hep-th/9901001"),
        ("hep-th/9901001v2", "ARXIV:hep-th/9901001"),
        ("math.GT/0309136", "ARXIV:math/0309136"),
        ("arxiv:cond-mat/0102536v1", "ARXIV:cond-mat/0102536"),
    ],
)
def test_arxiv_ids_lose_their_version(text: str, expected: str) -> None:
    assert api_id_of(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://arxiv.org/abs/2106.15928", "ARXIV:2106.15928"),
        ("https://arxiv.org/abs/2106.15928v1", "ARXIV:2106.15928"),
        ("https://arxiv.org/pdf/2106.15928", "ARXIV:2106.15928"),
        ("https://arxiv.org/pdf/2106.15928v2", "ARXIV:2106.15928"),
        ("https://arxiv.org/pdf/2106.15928.pdf", "ARXIV:2106.15928"),
        ("https://arxiv.org/pdf/2106.15928v2.pdf", "ARXIV:2106.15928"),
        ("http://www.arxiv.org/abs/1706.03762/", "ARXIV:1706.03762"),
        ("https://export.arxiv.org/abs/1706.03762", "ARXIV:1706.03762"),
        ("arxiv.org/abs/1706.03762", "ARXIV:1706.03762"),
        ("https://arxiv.org/abs/hep-th/9901001v2", "ARXIV:hep-th/9901001"),
        ("https://arxiv.org/pdf/math.GT/0309136.pdf", "ARXIV:math/0309136"),
        ("URL:https://arxiv.org/abs/2106.15928v1", "ARXIV:2106.15928"),
    ],
)
def test_arxiv_urls_become_arxiv_ids(text: str, expected: str) -> None:
    assert api_id_of(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        f"https://www.semanticscholar.org/paper/Attention-is-All-you-Need-Vaswani/{HEX}",
        f"https://www.semanticscholar.org/paper/{HEX}",
        f"https://www.semanticscholar.org/paper/{HEX}/",
        f"https://www.semanticscholar.org/paper/Some-Slug/{HEX}?utm_source=x#citing-papers",
        f"http://semanticscholar.org/paper/{HEX.upper()}",
        f"www.semanticscholar.org/paper/slug/{HEX}",
        f"https://api.semanticscholar.org/graph/v1/paper/{HEX}",
    ],
)
def test_semantic_scholar_urls_yield_the_paper_id(text: str) -> None:
    assert api_id_of(text) == HEX


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://api.semanticscholar.org/CorpusID:215416146", "CorpusId:215416146"),
        ("https://api.semanticscholar.org/arXiv:1706.03762", "ARXIV:1706.03762"),
        ("https://pubmed.ncbi.nlm.nih.gov/19872477/", "PMID:19872477"),
        ("https://www.ncbi.nlm.nih.gov/pubmed/19872477", "PMID:19872477"),
        ("https://www.ncbi.nlm.nih.gov/pmc/articles/PMC2323736/", "PMCID:2323736"),
        ("https://pmc.ncbi.nlm.nih.gov/articles/PMC2323736/", "PMCID:2323736"),
        ("https://aclanthology.org/2020.acl-main.447/", "ACL:2020.acl-main.447"),
        ("https://aclanthology.org/2020.acl-main.447.pdf", "ACL:2020.acl-main.447"),
        ("https://aclanthology.org/P19-1001", "ACL:P19-1001"),
        ("https://www.aclweb.org/anthology/P19-1001.pdf", "ACL:P19-1001"),
    ],
)
def test_site_urls_become_the_id_they_name(text: str, expected: str) -> None:
    assert api_id_of(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "https://www.biorxiv.org/content/10.1101/2020.03.22.002386v3",
        "https://www.aclweb.org/portal/content/some-paper",
        "https://dl.acm.org/citation.cfm?id=3330701",
    ],
)
def test_other_supported_site_urls_pass_through_as_url_ids(text: str) -> None:
    assert api_id_of(text) == f"URL:{text}"


def test_url_prefix_passes_a_supported_site_through() -> None:
    url = "https://www.biorxiv.org/content/10.1101/2020.03.22.002386v3"
    assert api_id_of(f"url:{url}") == f"URL:{url}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Attention is all you need", "Attention is all you need"),
        ("  Attention   is all\tyou\nneed ", "Attention is all you need"),
        ("BERT: Pre-training of Deep Bidirectional Transformers", None),
        ("Mag: a magnetic study of things", None),
        ("Deep learning 2015", None),
    ],
)
def test_titles_are_whitespace_normalized(text: str, expected: str | None) -> None:
    ref = parse_paper_id(text)
    assert ref.api_id is None
    assert ref.title == (expected or " ".join(text.split()))


def test_raw_is_the_stripped_input() -> None:
    assert parse_paper_id("  doi:10.1000/XYZ \n") == PaperRef(
        raw="doi:10.1000/XYZ", api_id="DOI:10.1000/xyz", title=None
    )


def test_an_id_has_no_title() -> None:
    assert parse_paper_id(HEX).title is None


def test_paper_ref_is_immutable() -> None:
    ref = parse_paper_id(HEX)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ref.api_id = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "No paper id or title given"),
        ("   \n\t", "No paper id or title given"),
        ("CorpusId:abc", '"CorpusId:" must be followed by digits'),
        ("CorpusId:", 'Nothing follows "CorpusId:"'),
        ("DOI:", 'Nothing follows "DOI:"'),
        ("DOI:  ", 'Nothing follows "DOI:"'),
        ("doi:foo/bar", '"DOI:" must be followed by a DOI'),
        ("ARXIV:12", '"ARXIV:" must be followed by an arXiv id'),
        ("arxiv:2013.12345", '"ARXIV:" must be followed by an arXiv id'),
        ("PMID:x", '"PMID:" must be followed by digits'),
        ("MAG:12a", '"MAG:" must be followed by digits'),
        ("ACL:nonsense", '"ACL:" must be followed by an ACL Anthology id'),
        ("PMCID:PMC", '"PMCID:" must be followed by digits'),
        ("URL:", 'Nothing follows "URL:"'),
        (HEX[:-1], "40 hex digits, not 39"),
        (HEX + "a", "40 hex digits, not 41"),
        ("https://example.com/paper", 'URLs from "example.com" are not supported'),
        ("url:https://example.com/paper", 'URLs from "example.com" are not supported'),
        ("ftp://arxiv.org/abs/2106.15928", "Only http and https URLs"),
        ("https://www.semanticscholar.org/paper/Some-Slug", "does not name a paper"),
        ("https://www.semanticscholar.org/", "does not name a paper"),
        (f"https://www.semanticscholar.org/paper/{HEX[:-1]}", "does not name a paper"),
        ("https://api.semanticscholar.org/CorpusID:abc", "does not name a paper"),
        ("https://arxiv.org/list/cs.AI/recent", "does not name a paper"),
        ("https://doi.org/", "does not name a paper"),
        ("https://pubmed.ncbi.nlm.nih.gov/", "does not name a paper"),
        ("12345", "Not a recognized paper id"),
        ("foo", "Not a recognized paper id"),
        ("Word2Vec", "a title needs at least two words"),
        ("isbn:0262033844", 'Unknown id prefix "isbn:"'),
        ("12345 67890", "too few words for a title"),
        ("x" * (MAX_INPUT_LENGTH + 1), f"longer than {MAX_INPUT_LENGTH} characters"),
        ("word " * 101, f"longer than {MAX_INPUT_LENGTH} characters"),
    ],
)
def test_malformed_input_is_rejected_with_the_reason(text: str, problem: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_paper_id(text)
    assert problem in str(caught.value)


@pytest.mark.parametrize("text", ["", "CorpusId:abc", "https://example.com/paper", "foo"])
def test_error_message_names_the_accepted_forms(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_paper_id(text)
    assert str(caught.value).endswith(ACCEPTED_FORMS)


def test_error_message_quotes_the_input() -> None:
    with pytest.raises(InvalidInput, match='"PMID:x"'):
        parse_paper_id("  PMID:x  ")


def test_error_message_shortens_a_long_input() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_paper_id("y" * 600)
    assert '"' + "y" * 77 + '..."' in str(caught.value)


def test_invalid_input_is_a_permanent_error() -> None:
    with pytest.raises(PermanentError):
        parse_paper_id("foo")


def test_input_at_the_length_limit_is_accepted() -> None:
    title = ("word " * 100).strip()
    assert len(title) <= MAX_INPUT_LENGTH
    assert parse_paper_id(title).title == title


@pytest.mark.parametrize(
    "form",
    ["CorpusId:", "DOI:", "ARXIV:", "MAG:", "ACL:", "PMID:", "PMCID:", "URL:", "title"],
)
def test_accepted_forms_lists_every_form(form: str) -> None:
    assert form in ACCEPTED_FORMS
