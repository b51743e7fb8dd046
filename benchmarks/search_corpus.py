"""Synthetic English-like papers for the search benchmark.

Words follow a Zipf distribution over a 200,000-word vocabulary: real academic words at the
head (so the most common ones are as common as "model" or "learning" in real abstracts), made-up
words in the tail (so the rarest appear in a handful of papers), and English stop words mixed
in as real text has them. Everything comes from one seeded `random.Random`.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from refnet.core.records import PaperRecord
from tests.fakes.s2_vocab import ADJECTIVES, NOUNS

HEAD_WORDS = (
    "model", "learning", "data", "method", "results", "network", "performance", "approach",
    "analysis", "system", "based", "training", "task", "neural", "deep", "language", "information",
    "problem", "framework", "large", "study", "time", "features", "algorithm", "accuracy", "state",
    "prediction", "knowledge", "text", "structure", "evaluation", "representation", "experiments",
    "dataset", "function", "image", "graph", "semantic", "recent", "multiple", "quality",
    "generation", "context", "query", "search", "retrieval", "question", "answer", "domain",
    "transfer", "attention", "transformer", "efficient", "robust", "classification", "detection",
    "segmentation", "clinical", "patients", "protein", "gene", "cell", "theory", "quantum",
    "energy", "field", "dynamics", "temperature", "measurement", "simulation", "optimization",
    "control", "signal", "noise", "error", "estimation", "inference", "sampling", "distribution",
    "probability", "bayesian", "regression", "statistical", "embedding", "vector", "space",
    "matrix", "sparse", "linear", "nonlinear", "convergence", "bound", "complexity", "scalable",
    "parallel", "distributed", "memory", "hardware", "power", "cost", "user", "social",
    "interaction", "design"
)  # fmt: skip
STOP_WORDS = (
    "the", "of", "and", "a", "to", "in", "is", "for", "that", "we", "on", "with", "are", "this",
    "as", "by", "be", "from", "an", "which", "our", "can", "it", "at", "these", "or", "has", "have",
    "not", "their", "was", "than"
)  # fmt: skip
VOCABULARY_SIZE = 200_000
_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in ("a", "e", "i", "o", "u", "ai", "or")]


def made_up_word(number: int) -> str:
    """A pronounceable word for a vocabulary rank (distinct ranks, distinct words)."""
    syllables = []
    number += len(_SYLLABLES) ** 2  # at least three syllables: no clash with real short words
    while number:
        number, digit = divmod(number, len(_SYLLABLES))
        syllables.append(_SYLLABLES[digit])
    return "".join(syllables) + "x"  # a consonant ending the stemmers leave alone


def vocabulary() -> list[str]:
    head = list(dict.fromkeys(w.lower() for w in [*HEAD_WORDS, *ADJECTIVES, *NOUNS]))
    head = [w for w in head if w.isalpha()]
    return head + [made_up_word(n) for n in range(VOCABULARY_SIZE - len(head))]


@dataclass(slots=True)
class Corpus:
    """Draws papers and remembers in how many papers each word occurs."""

    seed: int = 7
    words: list[str] = field(default_factory=vocabulary)
    document_frequency: Counter[str] = field(default_factory=Counter)
    rng: random.Random = field(init=False)
    cumulative: list[float] = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.cumulative = list(
            itertools.accumulate(1 / rank for rank in range(1, len(self.words) + 1))
        )

    def text(self, length: int) -> list[str]:
        drawn = self.rng.choices(self.words, cum_weights=self.cumulative, k=length)
        for position in range(0, length, 3):  # about a third of real text is stop words
            drawn.insert(position, self.rng.choice(STOP_WORDS))
        return drawn

    def sentence_text(self, length: int, counted: set[str]) -> str:
        words = self.text(length)
        counted.update(words)
        sentences = [" ".join(words[i : i + 14]).capitalize() for i in range(0, len(words), 14)]
        return ". ".join(sentences) + "."

    def paper(self, number: int, *, collected: bool) -> PaperRecord:
        seen: set[str] = set()
        title = self.sentence_text(self.rng.randint(5, 10), seen).rstrip(".").title()
        abstract = tldr = None
        if collected and self.rng.random() < 0.9:
            abstract = self.sentence_text(self.rng.randint(100, 160), seen)
        if collected and self.rng.random() < 0.7:
            tldr = self.sentence_text(self.rng.randint(12, 20), seen)
        self.document_frequency.update(seen)
        return PaperRecord(
            s2_id=f"{number:040x}",
            title=title,
            abstract=abstract,
            tldr=tldr,
            year=self.rng.randint(1990, 2026),
            citation_count=int(self.rng.paretovariate(1.2)) - 1,
            complete=collected,
        )

    def papers(self, count: int, *, stub_share: float) -> Iterator[PaperRecord]:
        for number in range(1, count + 1):
            yield self.paper(number, collected=self.rng.random() >= stub_share)

    def summary(self) -> dict[str, object]:
        """The text fields of a done summary (its words are not counted: few papers have one)."""
        return {
            "tldr": self.sentence_text(15, set()),
            "summary": self.sentence_text(90, set()),
            "key_points": [self.sentence_text(12, set()) for _ in range(3)],
            "keywords": [" ".join(self.text(2)[1:]) for _ in range(5)],
        }

    def terms_occurring(self, low: int, high: int, count: int) -> list[str]:
        """Up to `count` words found in `low`..`high` papers, stop words aside."""
        stop = set(STOP_WORDS)
        found = [
            word
            for word, papers in self.document_frequency.items()
            if low <= papers <= high and word not in stop
        ]
        self.rng.shuffle(found)
        return sorted(found[:count])
