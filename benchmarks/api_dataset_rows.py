"""Rows for the API load benchmark's dataset: papers, authors, summaries, as COPY writes them.

Text comes from `search_corpus.Corpus` (Zipf-distributed words, so search terms range from a
handful of matches to most of the corpus); names, venues and fields of study from the fake
Semantic Scholar's pools. Paper number n gets row id n + 1. Collected papers carry what a
metadata lookup stores (ids, venue, authors, open-access link, BibTeX); stubs only what a listing
row gives (title, year, venue, citation counts), as the crawler stores them.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from benchmarks.api_graph import Graph
from benchmarks.search_corpus import Corpus
from tests.fakes.s2_vocab import FAMILY_NAMES, GIVEN_NAMES, VENUES

PAPER_COLUMNS = (
    "id", "s2_id", "corpus_id", "doi", "arxiv_id", "external_ids", "url", "title", "abstract",
    "tldr", "year", "publication_date", "venue", "journal", "publication_types",
    "fields_of_study", "citation_count", "reference_count", "influential_citation_count",
    "open_access_pdf_url", "open_access_status", "open_access_license", "bibtex", "crawl_state",
    "depth", "priority", "metadata_fetched_at", "expanded_at", "created_at", "updated_at",
)  # fmt: skip
AUTHOR_COLUMNS = ("id", "key", "s2_author_id", "name")
PAPER_AUTHOR_COLUMNS = ("paper_id", "position", "author_id")
CITATION_COLUMNS = ("citing_id", "cited_id", "created_at")
SUMMARY_COLUMNS = (
    "paper_id", "provider", "model", "prompt_version", "language", "status", "input_kind",
    "tldr", "summary", "key_points", "keywords", "input_tokens", "output_tokens", "attempts",
    "completed_at", "created_at", "updated_at",
)  # fmt: skip
FIRST_YEAR, LAST_YEAR = 1975, 2026
EMPTY_LIST = "[]"


def s2_id(rng: random.Random) -> str:
    return f"{rng.getrandbits(160):040x}"


def year_of(number: int, papers: int, rng: random.Random) -> int:
    """Publication order to year: more papers each year, as in real literature."""
    share = (number + 1) / papers
    year = FIRST_YEAR + int((LAST_YEAR - FIRST_YEAR) * share**0.5) + rng.randint(-1, 0)
    return max(FIRST_YEAR, min(LAST_YEAR, year))


class AuthorPool:
    """Authors with S2 author ids; a few prolific, most with one or two papers."""

    def __init__(self, count: int, rng: random.Random) -> None:
        self.count = count
        self.rng = rng

    def rows(self) -> Iterator[tuple[Any, ...]]:
        rng = random.Random(self.rng.random())
        for number in range(self.count):
            initial = f" {chr(65 + rng.randrange(26))}." if rng.random() < 0.4 else ""
            name = f"{rng.choice(GIVEN_NAMES)}{initial} {rng.choice(FAMILY_NAMES)}"
            key = str(1_000_000 + number * 7)
            yield (number + 1, key, key, name)

    def draw(self) -> list[int]:
        """Author row ids of one paper, in order."""
        wanted = min(12, 1 + int(self.rng.expovariate(1 / 3)))
        chosen = dict.fromkeys(
            int(self.count * self.rng.random() ** 2.5) + 1 for _ in range(wanted)
        )
        return list(chosen)


class PaperRows:
    """Paper, author-link and summary rows for a graph, drawn in paper order."""

    def __init__(self, graph: Graph, corpus: Corpus, authors: AuthorPool, seed: int) -> None:
        self.graph = graph
        self.corpus = corpus
        self.authors = authors
        self.rng = random.Random(seed)
        self.now = datetime.now(UTC)
        self.paper_authors: list[tuple[int, int, int]] = []
        self.summarized: list[int] = []  # row ids of the papers given a done summary

    def papers(self, summary_share: float) -> Iterator[tuple[Any, ...]]:
        count = len(self.graph.collected)
        collected_count = sum(self.graph.collected)
        summary_chance = min(1.0, summary_share * count / max(collected_count, 1))
        for number, collected in enumerate(self.graph.collected):
            row = self._paper(number, collected)
            if collected and self.rng.random() < summary_chance:
                self.summarized.append(number + 1)
            yield row

    def _paper(self, number: int, collected: bool) -> tuple[Any, ...]:
        rng = self.rng
        record = self.corpus.paper(number, collected=collected)
        row_id = number + 1
        year = year_of(number, len(self.graph.collected), rng)
        venue = rng.choice(VENUES) if rng.random() > 0.08 else None
        citers = self.graph.citers[number]
        citations = citers + int(rng.paretovariate(1.5)) - 1 + citers // 3
        influential = citations // rng.randint(8, 20)
        if not collected:
            return (
                row_id, s2_id(rng), None, None, None, "{}", None, record.title, None, None, year,
                None, venue.name if venue else None, None, EMPTY_LIST, EMPTY_LIST, citations,
                None, influential, None, None, None, None, "discovered", None, None, None, None,
                self.now, self.now,
            )  # fmt: skip
        corpus_id = 200_000_000 + number * 13 + rng.randrange(13)
        day = date(year, rng.randint(1, 12), rng.randint(1, 28))
        doi = (
            f"10.{rng.randint(1000, 9999)}/refnet.{year}.{number}" if rng.random() < 0.75 else None
        )
        arxiv = None
        if venue is not None and rng.random() < venue.arxiv_rate and year >= 1992:
            arxiv = f"{year % 100:02d}{day.month:02d}.{number:05d}"
        external: dict[str, Any] = {"CorpusId": corpus_id}
        if doi:
            external["DOI"] = doi
        if arxiv:
            external["ArXiv"] = arxiv
        identifier = s2_id(rng)
        fields = list(venue.fields) if venue else [rng.choice(("Computer Science", "Medicine"))]
        pdf = f"https://arxiv.org/pdf/{arxiv}" if arxiv else None
        first_author = self._authors(row_id)
        bibtex = (
            f"@article{{{first_author}{year},\n title={{{record.title}}},\n year={{{year}}},\n"
            f" journal={{{venue.name if venue else 'ArXiv'}}}\n}}"
        )
        references = len(self.graph.references[number])
        expanded = rng.random() < 0.3
        fetched = self.now - timedelta(days=rng.randint(0, 90))
        return (
            row_id, identifier, corpus_id, doi, arxiv, json.dumps(external),
            f"https://www.semanticscholar.org/paper/{identifier}", record.title, record.abstract,
            record.tldr, year, day, venue.name if venue else None,
            venue.name if venue and venue.kind == "journal" else None,
            json.dumps(["JournalArticle" if venue and venue.kind == "journal" else "Conference"]),
            json.dumps(fields), citations, references + rng.randint(0, 5), influential, pdf,
            "GREEN" if pdf else None, "CCBY" if pdf else None, bibtex,
            "expanded" if expanded else "collected", rng.randint(0, 2), rng.random(), fetched,
            fetched if expanded else None, fetched, fetched,
        )  # fmt: skip

    def _authors(self, row_id: int) -> str:
        """Link the paper's authors; the first author's citekey-like stem for the BibTeX."""
        author_ids = self.authors.draw()
        self.paper_authors.extend((row_id, pos, author) for pos, author in enumerate(author_ids))
        return f"author{author_ids[0]}"

    def summaries(self) -> Iterator[tuple[Any, ...]]:
        for row_id in self.summarized:
            text = self.corpus.summary()
            yield (
                row_id, "anthropic", "claude-sonnet-4-5", "3", "en", "done",
                "pdf" if self.rng.random() < 0.6 else "abstract", text["tldr"], text["summary"],
                json.dumps(text["key_points"]), json.dumps(text["keywords"]),
                self.rng.randint(2_000, 30_000), self.rng.randint(300, 900), 1, self.now,
                self.now, self.now,
            )  # fmt: skip


def citation_rows(graph: Graph, now: datetime) -> Iterator[tuple[int, int, datetime]]:
    for number, cited in enumerate(graph.references):
        for target in cited:
            yield (number + 1, target + 1, now)
