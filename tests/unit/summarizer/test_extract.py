"""Text extraction from PDFs the tests make: what a summarizer gets to read."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from refnet.core.errors import PermanentError
from refnet.summarizer.extract import ExtractedText, ExtractionError, extract_text
from tests.support.pdfs import (
    DEJAVU,
    REFERENCES,
    PaperPdf,
    make_corrupt_pdf,
    make_empty_pdf,
    make_encrypted_pdf,
    make_paper_pdf,
    make_scanned_pdf,
    make_unicode_pdf,
)

BODY = ("abstract", "introduction", "methods", "results", "conclusion")


@pytest.fixture(scope="module")
def paper(tmp_path_factory: pytest.TempPathFactory) -> PaperPdf:
    return make_paper_pdf(tmp_path_factory.mktemp("paper") / "paper.pdf", pages=6)


@pytest.fixture(scope="module")
def extracted(paper: PaperPdf) -> ExtractedText:
    return extract_text(paper.path)


def test_sections_are_detected_in_document_order(extracted: ExtractedText) -> None:
    assert list(extracted.sections) == ["front", *BODY, "references"]
    assert "Structure-Aware Summaries of Citation Networks" in extracted.sections["front"]


def test_each_section_starts_with_its_own_text(paper: PaperPdf, extracted: ExtractedText) -> None:
    headings = dict(zip(BODY, paper.headings, strict=False))
    for name, heading in headings.items():
        assert extracted.sections[name].startswith(paper.openers[heading])
    assert extracted.sections["references"].startswith(REFERENCES[0])


def test_all_pages_are_read_and_counted(paper: PaperPdf, extracted: ExtractedText) -> None:
    assert paper.pages == 6
    assert (extracted.pages, extracted.total_pages) == (6, 6)


def test_prioritized_puts_abstract_introduction_and_conclusion_first(
    paper: PaperPdf, extracted: ExtractedText
) -> None:
    text = extracted.prioritized(100_000)
    order = ["Abstract", "1 Introduction", "4 Conclusion", "2 Method", "3 Results"]
    positions = [text.index(paper.openers[heading]) for heading in order]
    assert positions == sorted(positions)
    assert text.startswith("## Abstract\n\n" + paper.openers["Abstract"])


def test_prioritized_never_includes_the_references(extracted: ExtractedText) -> None:
    text = extracted.prioritized(1_000_000)
    assert len(text) < 1_000_000  # everything fitted, and still no references
    for entry in REFERENCES:
        assert entry not in text
    assert "## References" not in text


@pytest.mark.parametrize("limit", [120, 400, 1_500, 4_000])
def test_prioritized_cuts_at_the_limit_on_a_sentence_boundary(
    extracted: ExtractedText, limit: int
) -> None:
    full = extracted.prioritized(1_000_000)
    text = extracted.prioritized(limit)
    assert 0 < len(text) <= limit
    assert text.endswith(".")
    assert full.startswith(text)


def test_prioritized_cuts_a_first_sentence_longer_than_the_limit_on_a_word(
    extracted: ExtractedText,
) -> None:
    text = extracted.prioritized(30)
    assert text and len(text) <= 30
    assert extracted.prioritized(1_000_000).startswith(text)
    assert not text.endswith(" ")


def test_words_broken_across_lines_are_joined(paper: PaperPdf, extracted: ExtractedText) -> None:
    assert len(paper.hyphenated) >= 10  # the layout did break words
    text = extracted.full_text.lower()
    for word in paper.hyphenated:
        assert word in text
    assert not re.search(r"[a-z]- ", text), "a hyphen left dangling where a line ended"
    assert "state-of-the-art" in text and "stateofthe" not in text


def test_hyphens_of_real_compounds_survive_a_line_break(tmp_path: Path) -> None:
    lines = (
        "We rely on self-attention in every layer of the encoder and in every layer of the\n"
        "decoder. The self-\n"
        "attention blocks share weights across all the layers of this repre-\n"
        "sentation model, unlike the Transformer-\n"
        "XL model which keeps state-of-\n"
        "the-art memory across long sequences of tokens in the input."
    )
    paper = make_paper_pdf(tmp_path / "p.pdf", sections=[("1 Introduction", [lines])])
    text = extract_text(paper.path).sections["introduction"]
    assert "The self-attention blocks" in text
    assert "this representation model" in text
    assert "the Transformer-XL model" in text
    assert "keeps state-of-the-art memory" in text


def test_running_header_and_page_numbers_are_removed(
    paper: PaperPdf, extracted: ExtractedText
) -> None:
    assert paper.running_header is not None
    assert paper.running_header not in extracted.full_text
    for name in BODY:  # the generated body text holds no digits: any digit is a page number
        assert not re.search(r"\d", extracted.sections[name]), name


def test_running_header_with_the_page_number_in_it_is_removed(tmp_path: Path) -> None:
    paper = make_paper_pdf(
        tmp_path / "p.pdf", pages=4, running_header="Journal of Tests 7, page {page} of {pages}"
    )
    result = extract_text(paper.path)
    assert "Journal of Tests" not in result.full_text
    assert result.sections["conclusion"].startswith(paper.openers["4 Conclusion"])


def test_page_cap_reads_only_the_first_pages(tmp_path: Path) -> None:
    paper = make_paper_pdf(tmp_path / "long.pdf", pages=8)
    result = extract_text(paper.path, max_pages=3)
    assert (result.pages, result.total_pages) == (3, 8)
    assert "abstract" in result.sections
    assert "conclusion" not in result.sections  # it is on the last page
    assert len(result.full_text) < len(extract_text(paper.path).full_text)


@pytest.mark.parametrize(
    ("heading", "name"),
    [
        ("I. INTRODUCTION", "introduction"),
        ("1. INTRODUCTION", "introduction"),
        ("2 Related Work", "related work"),
        ("3 Materials and Methods", "methods"),
        ("5 Conclusions", "conclusion"),
        ("Conclusions and Future Work", "conclusion"),
        ("V. CONCLUSIONS AND FUTURE WORK", "conclusion"),
        ("Acknowledgments", "acknowledgments"),
        ("Bibliography", "references"),
    ],
)
def test_heading_styles_map_to_canonical_section_names(
    tmp_path: Path, heading: str, name: str
) -> None:
    body = "This section says something that only this section says."
    sections = [("Abstract", ["We summarize papers."]), (heading, [body])]
    result = extract_text(make_paper_pdf(tmp_path / "p.pdf", sections=sections).path)
    assert result.sections[name] == body


@pytest.mark.parametrize("separator", ["\u2014", ". ", ": "])
def test_inline_abstract_heading_starts_the_abstract(tmp_path: Path, separator: str) -> None:
    sections = [("", [f"Abstract{separator}We summarize papers for researchers."])]
    result = extract_text(make_paper_pdf(tmp_path / "p.pdf", sections=sections).path)
    assert result.sections["abstract"] == "We summarize papers for researchers."


def test_sentences_that_start_with_a_heading_word_are_no_headings(tmp_path: Path) -> None:
    body = (
        "Results of this kind are rare.\nIntroduction to the topic follows below.\n"
        "Methods such as ours are common.\nreferences\nConclusion drawn: none."
    )
    sections = [("1 Introduction", [body])]
    result = extract_text(make_paper_pdf(tmp_path / "p.pdf", sections=sections).path)
    assert list(result.sections) == ["front", "introduction"]


@pytest.mark.skipif(not DEJAVU.exists(), reason="needs the DejaVu Sans font")
def test_ligatures_are_normalized(tmp_path: Path) -> None:
    lines = ["Abstract", "An e\ufb03cient way to \ufb01ne-tune \ufb02exible models."]
    result = extract_text(make_unicode_pdf(tmp_path / "lig.pdf", lines))
    assert result.sections["abstract"] == "An efficient way to fine-tune flexible models."


def test_encrypted_pdf_is_an_extraction_error(tmp_path: Path) -> None:
    path = make_encrypted_pdf(tmp_path / "locked.pdf", password="secret").path
    with pytest.raises(ExtractionError) as caught:
        extract_text(path)
    assert caught.value.kind == "encrypted"
    assert "password" in str(caught.value)
    assert isinstance(caught.value, PermanentError)


def test_pdf_encrypted_with_an_empty_password_reads_normally(tmp_path: Path) -> None:
    paper = make_encrypted_pdf(tmp_path / "open.pdf", password="")
    result = extract_text(paper.path)
    assert result.sections["abstract"].startswith(paper.openers["Abstract"])
    assert result.total_pages == paper.pages


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (make_scanned_pdf, "scanned"),
        (make_corrupt_pdf, "corrupt"),
        (make_empty_pdf, "empty"),
    ],
)
def test_unusable_pdfs_say_why(tmp_path: Path, make: Callable[[Path], Path], kind: str) -> None:
    path = make(tmp_path / "bad.pdf")
    with pytest.raises(ExtractionError) as caught:
        extract_text(path)
    assert caught.value.kind == kind
    assert "bad.pdf" in str(caught.value)


@pytest.mark.parametrize(
    "content",
    [b"<!DOCTYPE html><html><body>Download the PDF</body></html>", b"", b"%PDF-"],
)
def test_files_that_are_no_pdf_are_corrupt(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "landing.pdf"
    path.write_bytes(content)
    with pytest.raises(ExtractionError) as caught:
        extract_text(path)
    assert caught.value.kind == "corrupt"


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.99])
def test_truncated_pdf_gives_text_or_an_extraction_error(
    paper: PaperPdf, tmp_path: Path, fraction: float
) -> None:
    data = paper.path.read_bytes()
    path = tmp_path / "truncated.pdf"
    path.write_bytes(data[: int(len(data) * fraction)])
    try:
        result = extract_text(path)
    except ExtractionError as exc:
        assert exc.kind in {"corrupt", "empty", "scanned"}
    else:
        assert result.pages <= result.total_pages
        assert result.full_text


def test_max_pages_must_be_positive(paper: PaperPdf) -> None:
    with pytest.raises(ValueError, match="max_pages"):
        extract_text(paper.path, max_pages=0)
