"""Citekeys: readable, ASCII, safe as file names on every system, unique ignoring case."""

from __future__ import annotations

import random
import re

import pytest

from refnet.generator.citekeys import MAX_LENGTH, family_name, make_citekey

KEY = re.compile(r"^[a-z0-9]+(-[0-9]+)?$")


def key(family: str | None, year: int | None, title: str | None, *taken: str) -> str:
    return make_citekey(first_author_family=family, year=year, title=title, taken=set(taken))


def test_citekey_is_family_name_year_and_first_significant_title_word() -> None:
    title = "Retrieval-Augmented Generation for Knowledge-Intensive NLP Tasks"
    assert key("Lewis", 2020, title) == "lewis2020retrieval"


@pytest.mark.parametrize(
    ("title", "word"),
    [
        ("The Attention Is All You Need", "attention"),
        ("On the Opportunities and Risks of Foundation Models", "opportunities"),
        ("Towards a Unified View of Parameter-Efficient Transfer Learning", "unified"),
        ("An Image is Worth 16x16 Words", "image"),
        ("Of Mice and Men", "mice"),
        ("What's in a Name?", "whats"),
        ("The", "the"),  # only stopwords: the first word still says something
        ("BERT: Pre-training of Deep Bidirectional Transformers", "bert"),
    ],
)
def test_citekey_skips_stopwords(title: str, word: str) -> None:
    assert key("Smith", 2019, title) == f"smith2019{word}"


@pytest.mark.parametrize(
    ("family", "title", "expected"),
    [
        ("Jégou", "Product Quantization", "jegou2011product"),
        ("Øksendal", "Stochastic Differential Equations", "oksendal2011stochastic"),
        ("Müller", "Über Graphen", "muller2011uber"),
        ("Łukasiewicz", "Æsthetic Œuvres", "lukasiewicz2011aesthetic"),
        ("Straße", "ﬁne ligatures", "strasse2011fine"),
        ("Nguyễn", "Học sâu", "nguyen2011hoc"),
        (None, None, "anon2011paper"),
        ("", "", "anon2011paper"),
        ("…", "—", "anon2011paper"),  # punctuation only
    ],
)
def test_citekey_folds_to_ascii_and_falls_back_when_nothing_folds(
    family: str | None, title: str | None, expected: str
) -> None:
    assert key(family, 2011, title) == expected


def test_citekey_without_a_year_leaves_it_out() -> None:
    assert key("Lewis", None, "Retrieval") == "lewisretrieval"


def test_citekey_drops_characters_file_systems_and_obsidian_refuse() -> None:
    result = key("O'Brien-[Smith]#^|\\/:*?\"<>", 2001, '[]#^|\\/:*?"<> "Quoted" Title')
    assert result == "obriensmith2001quoted"


def test_long_names_and_titles_are_bounded() -> None:
    long = "Wolfeschlegelsteinhausenbergerdorff" * 10
    result = key(long, 2020, long, key(long, 2020, long))
    assert len(result) <= MAX_LENGTH
    assert result.endswith("-2")
    assert KEY.match(result)


def test_collisions_get_a_numbered_suffix() -> None:
    assert key("Lewis", 2020, "Retrieval", "lewis2020retrieval") == "lewis2020retrieval-2"
    taken = ("lewis2020retrieval", "lewis2020retrieval-2")
    assert key("Lewis", 2020, "Retrieval", *taken) == "lewis2020retrieval-3"


def test_a_suffixed_key_never_equals_another_papers_base_key() -> None:
    # Base keys are [a-z0-9] only, so `-n` cannot be produced by a title word.
    assert key("Lewis", 2020, "Retrieval 2") == "lewis2020retrieval"
    assert "-" not in key("Lewis", 2020, "Retrieval-2")


def test_keys_are_lower_case_so_taken_keys_compare_ignoring_case() -> None:
    result = key("LEWIS", 2020, "RETRIEVAL")
    assert result == result.lower() == "lewis2020retrieval"


def test_windows_device_names_are_never_keys() -> None:
    assert key("A", None, "ux") == "aux-2"
    assert key("Co", None, "n") == "con-2"


def test_make_citekey_does_not_change_taken() -> None:
    taken = {"lewis2020retrieval"}
    make_citekey(first_author_family="Lewis", year=2020, title="Retrieval", taken=taken)
    assert taken == {"lewis2020retrieval"}


def test_any_unicode_input_gives_a_safe_key() -> None:
    rng = random.Random(5)
    alphabet = "aZé中ß Ø-_:/\\|#^[]{}()<>?*\"'`~!@$%&+=;,.\n\t\u2028\u0301🚀0123456789"
    for _ in range(500):
        family = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        title = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 200)))
        result = key(family, rng.choice([None, 1999, 2024]), title)
        assert KEY.match(result), result
        assert len(result) <= MAX_LENGTH


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("Patrick Lewis", "Lewis"),
        ("Lewis, Patrick", "Lewis"),
        ("Martin Luther King Jr.", "King"),
        ("King, Jr., Martin Luther", "King"),
        ("Ludwig van Beethoven", "Beethoven"),
        ("Plato", "Plato"),
        ("  ", None),
        (None, None),
    ],
)
def test_family_name(name: str | None, family: str | None) -> None:
    assert family_name(name) == family


@pytest.mark.parametrize(
    ("author", "title", "expected"),
    [
        ("王小明", "深度学习", "wangxiaoming2020shenduxuexi"),
        ("山田 太郎", "Deep Learning", "shantian2020deep"),  # family name first in CJK script
        ("김철수", "Graph Networks", "gimcheolsu2020graph"),
        ("Иван Петров", "Графовые сети", "petrov2020grafovye"),
        ("Ιωάννης Παπαδόπουλος", "Neural Networks", "papadopoylos2020neural"),
    ],
)
def test_names_in_other_scripts_are_transliterated_not_anonymous(
    author: str, title: str, expected: str
) -> None:
    assert key(family_name(author), 2020, title) == expected
