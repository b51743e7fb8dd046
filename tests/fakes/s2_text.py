"""Title normalization, title matching and word search for the fake S2 server."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable

STOPWORDS = frozenset(
    ("a", "an", "and", "are", "as", "at", "be", "by", "do", "for", "from", "help", "in", "is",
     "it", "of", "on", "or", "the", "to", "towards", "via", "when", "with")
)  # fmt: skip
MIN_MATCH_SIMILARITY = 0.85
_CANDIDATES = 25


def normalize_title(text: str) -> str:
    """Case-folded, accent-free, punctuation-free, single-spaced."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[\W_]+", " ", stripped.casefold()).split())


def words(text: str) -> list[str]:
    return [w for w in normalize_title(text).split() if w not in STOPWORDS]


class TitleIndex:
    """Exact (normalized) and word-overlap lookups over paper titles.

    Ties between identical titles go to the most cited paper, then the one indexed first.
    """

    def __init__(self, entries: Iterable[tuple[str, str, int]]) -> None:
        self._exact: dict[str, list[str]] = defaultdict(list)
        self._words: dict[str, list[str]] = defaultdict(list)
        self._normalized: dict[str, str] = {}
        self._rank: dict[str, tuple[int, int]] = {}
        for position, (paper_id, title, citations) in enumerate(entries):
            normalized = normalize_title(title)
            self._normalized[paper_id] = normalized
            self._rank[paper_id] = (-citations, position)
            self._exact[normalized].append(paper_id)
            for word in dict.fromkeys(words(title)):
                self._words[word].append(paper_id)

    def best_match(self, query: str) -> tuple[str, float] | None:
        normalized = normalize_title(query)
        if not normalized:
            return None
        exact = self._exact.get(normalized)
        if exact:
            return min(exact, key=self._rank.__getitem__), 1.0
        best: tuple[str, float] | None = None
        for paper_id in self._overlapping(query)[:_CANDIDATES]:
            matcher = difflib.SequenceMatcher(None, normalized, self._normalized[paper_id])
            similarity = matcher.ratio()
            if similarity >= MIN_MATCH_SIMILARITY and (best is None or similarity > best[1]):
                best = (paper_id, similarity)
        return best

    def search(self, query: str) -> list[str]:
        return self._overlapping(query)

    def _overlapping(self, query: str) -> list[str]:
        """Papers sharing words with the query: most shared words, then most cited."""
        counts: Counter[str] = Counter()
        for word in dict.fromkeys(words(query)):
            counts.update(self._words.get(word, ()))
        return sorted(counts, key=lambda pid: (-counts[pid], self._rank[pid]))
