"""parse_answer: from a provider's raw answer to summary fields, or a readable PermanentError."""

from __future__ import annotations

import json
from typing import Any

import pytest

from refnet.core.errors import PermanentError
from refnet.summarizer.providers.base import ProviderAnswer, parse_answer

GOOD: dict[str, Any] = {
    "tldr": "Dense retrieval beats BM25 on open-domain QA.",
    "summary": "The paper trains a dual encoder.\n\nIt improves top-20 accuracy.",
    "key_points": ["Dual encoder", "In-batch negatives", "Better than BM25"],
    "keywords": ["dense retrieval", "BM25", "question answering", "dual encoder", "FAISS"],
}


def answer(text: str, *, truncated: bool = False) -> ProviderAnswer:
    return ProviderAnswer(text=text, input_tokens=100, output_tokens=50, truncated=truncated)


def parsed(**changes: Any) -> Any:
    return parse_answer(answer(json.dumps({**GOOD, **changes})))


def test_parse_answer_reads_a_bare_json_object() -> None:
    fields = parse_answer(answer(json.dumps(GOOD)))

    assert fields.tldr == GOOD["tldr"]
    assert fields.summary == GOOD["summary"]
    assert fields.key_points == GOOD["key_points"]
    assert fields.keywords == GOOD["keywords"]


def test_parse_answer_reads_json_inside_a_markdown_fence() -> None:
    text = f"```json\n{json.dumps(GOOD, indent=2)}\n```"

    assert parse_answer(answer(text)).keywords == GOOD["keywords"]


def test_parse_answer_reads_json_surrounded_by_prose() -> None:
    text = f"Sure! Here is the summary you asked for:\n{json.dumps(GOOD)}\nI hope this helps."

    assert parse_answer(answer(text)).tldr == GOOD["tldr"]


def test_parse_answer_skips_a_thinking_block_with_braces() -> None:
    text = '<think>The user wants {"tldr": ...}; let me write it.</think>\n' + json.dumps(GOOD)

    assert parse_answer(answer(text)).tldr == GOOD["tldr"]


def test_parse_answer_accepts_loosely_spelled_keys() -> None:
    loose = {"TL;DR": "One line.", "Summary": "Text.", "keyPoints": ["a"], "Keywords": ["k"]}

    fields = parse_answer(answer(json.dumps(loose)))

    assert (fields.tldr, fields.key_points, fields.keywords) == ("One line.", ["a"], ["k"])


def test_truncated_answer_is_a_permanent_error_mentioning_truncation() -> None:
    cut = json.dumps(GOOD)[:60]

    with pytest.raises(PermanentError, match="truncated"):
        parse_answer(answer(cut, truncated=True))


def test_truncated_answer_is_refused_even_when_its_json_parses() -> None:
    with pytest.raises(PermanentError, match="max_tokens"):
        parse_answer(answer(json.dumps(GOOD), truncated=True))


def test_missing_keys_are_a_permanent_error_naming_them() -> None:
    text = json.dumps({"tldr": "x", "summary": "y"})

    with pytest.raises(PermanentError, match="key_points, keywords") as caught:
        parse_answer(answer(text))
    assert "tldr, summary" in str(caught.value)  # and says what the answer had


def test_an_answer_without_json_is_a_permanent_error_quoting_its_start() -> None:
    with pytest.raises(PermanentError, match=r"no JSON object.*I cannot summarize"):
        parse_answer(answer("I cannot summarize this document."))


def test_an_empty_answer_is_a_permanent_error() -> None:
    with pytest.raises(PermanentError, match="empty"):
        parse_answer(answer("   "))


def test_keywords_are_trimmed_deduplicated_and_capped_at_ten() -> None:
    words = ["  RAG ", "rag", "#retrieval", "Retrieval", *[f"term {i}" for i in range(12)]]

    fields = parsed(keywords=words)

    assert fields.keywords == ["RAG", "retrieval", *[f"term {i}" for i in range(8)]]


def test_keywords_given_as_comma_separated_text_are_split() -> None:
    fields = parsed(keywords="retrieval, generation; QA、検索")

    assert fields.keywords == ["retrieval", "generation", "QA", "検索"]


def test_fewer_than_five_keywords_are_accepted_but_none_is_an_error() -> None:
    assert parsed(keywords=["BM25"]).keywords == ["BM25"]
    with pytest.raises(PermanentError, match="no keywords"):
        parsed(keywords=[" ", ""])


def test_key_points_lose_their_bullets_and_are_capped_at_seven() -> None:
    points = "\n".join(f"{i}. Point number {i}" for i in range(1, 10))

    fields = parsed(key_points=points)

    assert fields.key_points == [f"Point number {i}" for i in range(1, 8)]


def test_key_points_are_required() -> None:
    with pytest.raises(PermanentError, match="no key points"):
        parsed(key_points=[])


def test_tldr_becomes_one_line_of_at_most_300_characters() -> None:
    long = "Retrieval helps.\nIt " + "really " * 80 + "does."

    tldr = parsed(tldr=long).tldr

    assert "\n" not in tldr
    assert len(tldr) <= 300
    assert tldr.endswith("…")
    assert tldr.startswith("Retrieval helps. It really")
    assert not tldr[:-1].endswith(" ")  # cut on a word boundary


def test_summary_keeps_paragraphs_but_not_stray_line_breaks() -> None:
    fields = parsed(summary="First line\nsame paragraph.\n\n\nSecond paragraph.")

    assert fields.summary == "First line same paragraph.\n\nSecond paragraph."


def test_empty_tldr_is_a_permanent_error() -> None:
    with pytest.raises(PermanentError, match="tldr"):
        parsed(tldr="  ")
