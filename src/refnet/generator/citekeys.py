"""Readable, file-name-safe citekeys such as `lewis2020retrieval`.

A citekey is the first author's family name, the year and the first significant word of the
title, transliterated to ASCII lower case (`[a-z0-9]` only; `王` -> `wang`, `Петров` ->
`petrov`). On a collision the second paper gets
`-2`, the third `-3`, and so on: a base key never contains `-`, so a suffixed key can never be
mistaken for another paper's base key (`lewis2020retrievalb` could be a real title word).
Keys are compared lower-cased because macOS and Windows file systems ignore case.
"""

from __future__ import annotations

import re
import unicodedata

from anyascii import anyascii

MAX_LENGTH = 60
MAX_PART = 24  # family name and title word are each cut to this many characters
NO_AUTHOR = "anon"
NO_TITLE = "paper"
_STOPWORDS = """
    a about above across after against al along amid among an and anti around as at before
    behind below beneath beside besides between beyond but by can d da das de del der des do
    does du during ein eine einer el en et for from gli how i il in inside into is it its l la
    las le les lo los near nor of off on onto or our over per plus since so some sur than that
    the their these this through to toward towards un una une under uno until up upon using
    versus via vs we what when where whether which while who why with within without yet zu zum
"""
STOPWORDS = frozenset(_STOPWORDS.split())
NAME_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "phd", "md"})
# Device names Windows refuses as file names, with or without an extension.
_RESERVED = frozenset(
    {"con", "prn", "aux", "nul"} | {f"com{i}" for i in range(10)} | {f"lpt{i}" for i in range(10)}
)
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_EAST_ASIAN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_APOSTROPHES = re.compile(r"['\u2019]")


def ascii_fold(text: str) -> str:
    """`Jégou` -> `Jegou`, `Øksendal` -> `Oksendal`, `王` -> `Wang`, `Петров` -> `Petrov`.

    Any script is transliterated (anyascii); what has no ASCII form at all is dropped.
    """
    return anyascii(unicodedata.normalize("NFKC", text)).encode("ascii", "ignore").decode("ascii")


def _alnum(text: str) -> str:
    return _NOT_ALNUM.sub("", ascii_fold(text).lower())


def family_name(full_name: str | None) -> str | None:
    """The family name in `Patrick Lewis`, `Lewis, Patrick` or `Martin Luther King Jr.`; in a
    name written in Chinese, Japanese or Korean script the family name comes first (`山田 太郎`)."""
    if not full_name or not full_name.strip():
        return None
    if _EAST_ASIAN.search(full_name) and "," not in full_name:
        return full_name.split()[0]
    if "," in full_name:
        head, _, tail = full_name.partition(",")
        if _alnum(tail) not in NAME_SUFFIXES and head.strip():
            return head.strip()
        full_name = head
    words = full_name.split()
    while len(words) > 1 and _alnum(words[-1]) in NAME_SUFFIXES:
        words.pop()
    return words[-1] if words else None


def first_significant_word(title: str | None) -> str:
    """The title's first word that is not a stopword, as `[a-z0-9]`; `paper` when none.

    Apostrophes join (`What's` -> `whats`), other punctuation splits, as the design's own
    example wants: `Retrieval-Augmented Generation…` -> `retrieval`.
    """
    folded = _APOSTROPHES.sub("", ascii_fold(title or "").lower())
    words = [word for word in _NOT_ALNUM.split(folded) if word]
    significant = [word for word in words if word not in STOPWORDS]
    chosen = significant or words
    return chosen[0][:MAX_PART] if chosen else NO_TITLE


def base_citekey(*, first_author_family: str | None, year: int | None, title: str | None) -> str:
    family = _alnum(first_author_family or "")[:MAX_PART] or NO_AUTHOR
    year_part = str(year) if year is not None and 0 < year < 10000 else ""
    return f"{family}{year_part}{first_significant_word(title)}"[:MAX_LENGTH]


def make_citekey(
    *, first_author_family: str | None, year: int | None, title: str | None, taken: set[str]
) -> str:
    """A citekey not in `taken`, which must hold the keys already in use, lower-cased.

    `taken` is not modified: the caller adds the key it stores.
    """
    base = base_citekey(first_author_family=first_author_family, year=year, title=title)
    if base not in taken and base not in _RESERVED:
        return base
    number = 2
    while True:
        suffix = f"-{number}"
        candidate = base[: MAX_LENGTH - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
        number += 1
