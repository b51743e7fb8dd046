"""Snippets and highlighted titles for PostgreSQL's search hits, made from the words that
PostgreSQL found to match.

`ts_headline` would parse each hit's whole text again in the database, and that was a third of
a search's database time. Instead the search statement returns, per hit, the distinct words of
its text that stem to a lexeme of the query (`_search_postgres`), and the passages are cut
here: up to `FRAGMENTS` passages of at most `MAX_WORDS` words, each starting a few words before
a match, matches wrapped in MARK_START/MARK_END.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from functools import lru_cache
from itertools import islice

from refnet.db.queries._search_rows import ELLIPSIS, MARK_END, MARK_START

MAX_WORDS = 30
WORDS_BEFORE = 8
FRAGMENTS = 2
_WORD = re.compile(r"[^\W_]+")
_MARKS = str.maketrans("", "", MARK_START + MARK_END)


class Excerpts:
    def __init__(self, matched_words: Collection[str]) -> None:
        self._match = _matcher(frozenset(matched_words))

    def highlighted(self, text: str | None) -> str:
        """All of `text`, every match marked."""
        clean = (text or "").translate(_MARKS)
        return self._marked(clean, 0, len(clean))

    def snippet(self, text: str | None) -> str:
        """Passages of `text` around its first matches, or its start when nothing matches."""
        clean = (text or "").translate(_MARKS)
        fragments: list[str] = []
        shown_until = 0  # the end of the last passage
        for match in self._match.finditer(clean) if self._match else ():
            if match.start() < shown_until:
                continue
            start = _start_before(clean, match.start(), shown_until)
            shown_until = _end_after(clean, start)
            fragments.append(self._marked(clean, start, shown_until))
            if len(fragments) == FRAGMENTS:
                break
        if not fragments:
            return self._marked(clean, 0, _end_after(clean, 0))
        return ELLIPSIS.join(fragments)

    def _marked(self, text: str, start: int, end: int) -> str:
        if self._match is None:
            return text[start:end]
        return self._match.sub(_mark, text[start:end])


@lru_cache(maxsize=256)
def _matcher(words: frozenset[str]) -> re.Pattern[str] | None:
    """Any of `words`, as a whole word (`\\b`: letters, digits and _ make words), in any case;
    None for no words."""
    if not words:
        return None
    alternatives = "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))
    return re.compile(rf"\b(?:{alternatives})\b", re.IGNORECASE)


def _mark(match: re.Match[str]) -> str:
    return f"{MARK_START}{match[0]}{MARK_END}"


def _start_before(text: str, position: int, floor: int) -> int:
    """Where the passage showing the word at `position` starts: WORDS_BEFORE words earlier,
    but not before `floor` (and never in the middle of a word)."""
    window = max(floor, position - 20 * WORDS_BEFORE)
    starts = [word.start() for word in _WORD.finditer(text, window, position)]
    if starts and window > floor and starts[0] == window and text[window - 1].isalnum():
        del starts[0]  # a word the window cut
    return starts[-WORDS_BEFORE] if len(starts) >= WORDS_BEFORE else next(iter(starts), position)


def _end_after(text: str, start: int) -> int:
    """The end of the MAX_WORDS-th word from `start`."""
    end = start
    for word in islice(_WORD.finditer(text, start), MAX_WORDS):
        end = word.end()
    return end
