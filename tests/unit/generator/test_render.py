"""Paper notes: front matter that YAML reads back exactly, and links that cannot break."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from refnet.db.queries.vault import LinkedPaper, NoteInputs, PaperRow, SummaryRow
from refnet.generator.render import NOTE_KEYS, escape_prose, link_label, render_note
from refnet.generator.vault import MARKER, compose_note, split_note, user_part

WIKILINK = re.compile(r"(?<!\\)\[\[([^\]|]+)\|([^\]]*)\]\]")
STAMP = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def paper(**values: Any) -> PaperRow:
    row: dict[str, Any] = {
        "id": 1,
        "s2_id": "a" * 40,
        "citekey": "lewis2020retrieval",
        "title": "Retrieval-Augmented Generation",
        "abstract": "We explore RAG.",
        "tldr": None,
        "year": 2020,
        "venue": "NeurIPS",
        "journal": None,
        "doi": "10.5555/rag",
        "arxiv_id": "2005.11401",
        "url": None,
        "citation_count": 3000,
        "reference_count": 60,
        "fields_of_study": ["Computer Science"],
        "updated_at": STAMP,
    }
    return PaperRow(**(row | values))


def linked(
    pid: int, title: str, *, citekey: str | None, year: int | None = 2019, **kw: Any
) -> LinkedPaper:
    return LinkedPaper(pid, f"{pid:040x}", title, year, citekey, kw.get("doi"), None)


def summary(
    provider: str = "anthropic", updated_at: datetime = STAMP, input_kind: str = "pdf"
) -> SummaryRow:
    return SummaryRow(provider, input_kind, "Short.", "Long.", ["One", "Two"], ["rag"], updated_at)


def note(**kw: Any) -> NoteInputs:
    return NoteInputs(paper=paper(**kw.pop("paper", {})), authors=["Patrick Lewis"], **kw)


def front(text: str) -> dict[str, Any]:
    front_text, _ = split_note(text)
    loaded: dict[str, Any] = yaml.safe_load(front_text or "")
    return loaded


def text_of(inputs: NoteInputs) -> str:
    rendered = render_note(inputs)
    return compose_note(rendered.front_matter, rendered.body, None)


TRICKY_TITLES = [
    "Colon: A Subtitle",
    "Trailing colon:",
    "Quotes \"double\" and 'single'",
    "#hashtag at the start",
    "- a dash first",
    "? question first",
    "yes",
    "null",
    "~",
    "123",
    "1e10",
    "0x1F",
    "2020-01-01",
    "@at and `backtick`",
    "{flow: mapping}",
    "[flow, sequence]",
    "& anchor * alias ! tag",
    "%% refnet:end %%",
    "---",
    "a | pipe, [[brackets]] and ]] closers",
    "émoji 🚀, ünïcode, 中文, עברית",
    "line\nbreak\u2028separator\ttab",
    "control \x07 bell",
    "Long " + "very " * 120 + "title",
]


@pytest.mark.parametrize("title", TRICKY_TITLES)
def test_tricky_titles_round_trip_through_the_front_matter(title: str) -> None:
    text = text_of(note(paper={"title": title}))
    loaded = front(text)
    expected = " ".join(title.split())
    assert loaded["title"] == expected
    assert loaded["aliases"] == [expected]
    assert user_part(split_note(text)[1]) == ""  # the title never fakes the marker


def test_front_matter_has_exactly_the_design_keys_in_order() -> None:
    loaded = front(text_of(note(summary=summary(), is_seed=True)))
    assert list(loaded) == list(NOTE_KEYS)
    assert loaded["authors"] == ["Patrick Lewis"]
    assert loaded["tags"] == ["paper", "computer-science", "seed"]
    assert loaded["doi"] == "10.5555/rag"
    assert loaded["arxiv"] == "2005.11401"
    assert loaded["summary_source"] == "pdf"
    assert loaded["summary_provider"] == "anthropic"
    assert loaded["refnet_updated"] == "2024-05-01T12:00:00Z"


def test_long_values_are_not_wrapped() -> None:
    title = "word " * 200
    front_text, _ = split_note(text_of(note(paper={"title": title})))
    assert front_text is not None
    assert front_text.splitlines()[0].startswith("title: word word")
    assert front_text.splitlines()[1] == "aliases:"


@pytest.mark.parametrize(
    ("inputs", "source", "provider"),
    [
        (note(summary=summary("anthropic", input_kind="pdf")), "pdf", "anthropic"),
        (note(summary=summary("openai", input_kind="abstract")), "abstract", "openai"),
        (note(summary=summary("extractive", input_kind="tldr")), "tldr", "extractive"),
        (note(), "none", None),
        (note(paper={"abstract": "  "}), "none", None),
    ],
)
def test_summary_source_says_what_the_summary_was_made_from_and_by_whom(
    inputs: NoteInputs, source: str, provider: str | None
) -> None:
    properties = front(text_of(inputs))
    assert properties["summary_source"] == source
    assert properties["summary_provider"] == provider


@pytest.mark.parametrize(
    ("input_kind", "said"),
    [("pdf", "from the open-access PDF by openai"), ("abstract", "from the abstract (no open")],
)
def test_summary_says_what_it_was_made_from(input_kind: str, said: str) -> None:
    text = text_of(note(summary=summary("openai", input_kind=input_kind)))
    assert said in text.split("## Summary", 1)[1].split("## Key points", 1)[0]


def test_refnet_updated_is_the_latest_input_change_not_now() -> None:
    later = datetime(2024, 6, 2, 8, 30)  # SQLite hands back naive UTC
    inputs = note(summary=summary(updated_at=later))
    assert front(text_of(inputs))["refnet_updated"] == "2024-06-02T08:30:00Z"
    assert text_of(inputs) == text_of(inputs)


def test_fields_of_study_become_tags() -> None:
    inputs = note(paper={"fields_of_study": ["Computer Science", "Économie", "3D", "1984", ""]})
    loaded = front(text_of(inputs))
    assert loaded["tags"] == ["paper", "computer-science", "economie", "3d", "field-1984"]
    assert loaded["fields_of_study"] == ["Computer Science", "Économie", "3D", "1984"]


def test_vault_neighbours_are_wikilinks_whatever_their_titles() -> None:
    references = [
        linked(2, "Dense | Passage [[Retrieval]]", citekey="karpukhin2020dense", year=2020),
        linked(3, "C# tips ^block #tag", citekey="smith2019tips"),
    ]
    text = text_of(note(references=references))
    found = dict(WIKILINK.findall(text))
    assert found["karpukhin2020dense"] == "Dense ¦ Passage ((Retrieval)) (2020)"
    assert found["smith2019tips"] == "C# tips ^block #tag (2019)"


def test_stubs_are_plain_text_with_a_doi_or_semantic_scholar_link() -> None:
    cited_by = [
        linked(4, "A Stub With DOI", citekey=None, doi="10.1/x(y)"),
        linked(5, "A [[Stub]] Without", citekey=None),
    ]
    text = text_of(note(cited_by=cited_by))
    assert "- A Stub With DOI (2019) · [DOI](https://doi.org/10.1/x%28y%29)" in text
    assert (
        f"- A \\[\\[Stub\\]\\] Without (2019) · [S2](https://www.semanticscholar.org/paper/{5:040x})"
        in text
    )
    assert not WIKILINK.findall(text)


def test_sections_come_in_the_design_order() -> None:
    body = split_note(text_of(note(summary=summary())))[1]
    headings = re.findall(r"^#{1,2} (.+)$", body, re.M)
    assert headings == [
        "Retrieval-Augmented Generation",
        "TL;DR",
        "Summary",
        "Key points",
        "Keywords",
        "Abstract",
        "References",
        "Cited by",
    ]
    assert body.rstrip().endswith(MARKER)


def test_database_text_cannot_make_links_tags_or_comments() -> None:
    abstract = (
        "See [[Other Note]] and [[[x]]], 100%% sure, #hashtag, C# and a\n%% refnet:end %%\nline"
    )
    text = text_of(note(paper={"abstract": abstract}))
    body = split_note(text)[1]
    assert not re.search(r"(?<!\\)\[\[", body.replace("[[lewis", ""))
    assert "%%" not in body.replace(MARKER, "")
    assert "\\#hashtag" in body and "C#" in body
    assert user_part(body) == ""


def test_escape_prose_leaves_plain_text_alone() -> None:
    assert escape_prose("Plain text (with) [one] bracket and 50% more.") == (
        "Plain text (with) [one] bracket and 50% more."
    )


def test_link_label_never_contains_link_syntax() -> None:
    label = link_label("a|b [[c]] d%%e `f` g\\")
    assert not any(s in label for s in ("|", "[", "]", "%%", "`")) and not label.endswith("\\")
