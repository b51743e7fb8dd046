"""Snippets and highlighted titles made from the words PostgreSQL found to match, and the rule
that picks how the search reads its candidates."""

from __future__ import annotations

from refnet.db.queries._excerpts import MAX_WORDS, Excerpts
from refnet.db.queries._search_postgres import walks_citation_order, wanted_lexemes, word_starts
from refnet.db.queries._search_rows import ELLIPSIS, MARK_END, MARK_START


def marked(text: str) -> str:
    return text.replace(MARK_START, "[").replace(MARK_END, "]")


def test_every_match_in_a_title_is_marked_whole_words_only_in_any_case() -> None:
    excerpts = Excerpts(["graph", "graphs"])

    title = excerpts.highlighted("Graphs of graph paper: a paragraph on GRAPH")

    assert marked(title) == "[Graphs] of [graph] paper: a paragraph on [GRAPH]"


def test_a_snippet_starts_a_few_words_before_a_match_far_into_the_text() -> None:
    filler = " ".join(f"w{n}" for n in range(500))
    text = f"{filler} the quasar was bright {filler}"

    snippet = marked(Excerpts(["quasar"]).snippet(text))

    assert snippet.startswith("w493 w494")
    assert "the [quasar] was bright" in snippet
    assert len(snippet.split()) == MAX_WORDS


def test_a_snippet_shows_two_passages_for_matches_far_apart() -> None:
    filler = " ".join(f"w{n}" for n in range(100))
    text = f"alpha one {filler} alpha two {filler} alpha three"

    snippet = marked(Excerpts(["alpha"]).snippet(text))

    assert snippet.count(ELLIPSIS.strip()) == 1
    assert "[alpha] one" in snippet and "[alpha] two" in snippet
    assert "alpha three" not in snippet


def test_without_a_match_the_snippet_is_the_start_of_the_text() -> None:
    text = " ".join(f"w{n}" for n in range(100))

    assert Excerpts([]).snippet(text) == " ".join(f"w{n}" for n in range(MAX_WORDS))
    assert Excerpts(["absent"]).snippet("Short text.") == "Short text"


def test_mark_characters_in_stored_text_are_dropped_before_marking() -> None:
    snippet = Excerpts(["dust"]).snippet(f"a {MARK_START}fake{MARK_END} mark near dust")

    assert marked(snippet) == "a fake mark near [dust]"


def test_words_that_may_stem_to_a_lexeme_start_as_it_does_less_its_last_letter() -> None:
    lexemes = wanted_lexemes("'accuraci' & !'noise' & ( 'o''brien' | 'use' )")

    assert lexemes == ["accuraci", "o'brien", "use"]
    assert word_starts(lexemes) == "\\m((?:accurac|o'brie|use)\\w*)"


def test_walking_the_citation_order_is_chosen_only_for_words_in_many_papers() -> None:
    assert not walks_citation_order(2_900, 100_000, 200)  # 3%: sorting its matches is cheaper
    assert walks_citation_order(36_000, 100_000, 200)
    assert not walks_citation_order(5_000, -1, 200)  # a table never analyzed
