"""A deterministic synthetic citation graph for the fake Semantic Scholar server.

`make_graph(n)` draws `n` papers in chronological order; each cites 5..60 earlier papers
(so never a newer year), chosen by preferential attachment mixed with a uniform share, which
gives a heavy-tailed (power-law) citation in-degree. A few references are unresolved (`None`),
as in real S2 data. `SyntheticGraph` can also be built by hand from `papers` and `references`;
its lookup indices are derived in `__post_init__`.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from .s2_metadata import PaperFactory, PaperFacts, random_title
from .s2_text import TitleIndex, words
from .s2_vocab import CONTEXT_TEMPLATES, FAMILY_NAMES, GIVEN_NAMES, INTENT_CHOICES

# externalIds key -> id prefix accepted by the API (upper-cased).
EXTERNAL_ID_PREFIXES = {
    "DOI": "DOI",
    "ArXiv": "ARXIV",
    "CorpusId": "CORPUSID",
    "PubMed": "PMID",
    "PubMedCentral": "PMCID",
    "ACL": "ACL",
    "MAG": "MAG",
}


@dataclass
class SyntheticGraph:
    """Papers keyed by paperId plus ordered reference lists (`None` = unresolved reference)."""

    papers: dict[str, dict[str, Any]]
    references: dict[str, list[str | None]]
    influential: set[tuple[str, str]] = field(default_factory=set)  # (citing, cited) pairs
    _citations: dict[str, list[str]] = field(init=False, repr=False)
    _external: dict[str, dict[str, str]] = field(init=False, repr=False)
    _titles: TitleIndex = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._citations = self._index_citations()
        self._external = self._index_external_ids()
        self._titles = TitleIndex(
            (pid, str(p.get("title") or ""), int(p.get("citationCount") or 0))
            for pid, p in self.papers.items()
        )

    def _index_citations(self) -> dict[str, list[str]]:
        order = {pid: (effective_date(p), i) for i, (pid, p) in enumerate(self.papers.items())}
        newest_first = sorted(self.papers, key=order.__getitem__, reverse=True)
        citations: dict[str, list[str]] = {pid: [] for pid in self.papers}
        for citing in newest_first:
            for cited in dict.fromkeys(self.references.get(citing, ())):
                if cited is not None and cited in citations:
                    citations[cited].append(citing)
        return citations

    def _index_external_ids(self) -> dict[str, dict[str, str]]:
        index: dict[str, dict[str, str]] = {prefix: {} for prefix in EXTERNAL_ID_PREFIXES.values()}
        for pid, paper in self.papers.items():
            for key, value in (paper.get("externalIds") or {}).items():
                prefix = EXTERNAL_ID_PREFIXES.get(key)
                if prefix is not None and value is not None:
                    index[prefix][external_key(prefix, str(value))] = pid
        return index

    # -- lookups ---------------------------------------------------------------------------

    def citations_of(self, paper_id: str) -> list[str]:
        """PaperIds citing `paper_id`, newest first (publicationDate, else Jan 1 of year)."""
        return self._citations.get(paper_id, [])

    def by_external_id(self, kind: str, value: str) -> str | None:
        """PaperId for an external id. `kind` is an API prefix (DOI, ARXIV, CorpusId, PMID,
        PMCID, ACL, MAG) or an externalIds key (ArXiv, PubMed, ...); DOIs match in any case."""
        prefix = EXTERNAL_ID_PREFIXES.get(kind, kind.upper())
        table = self._external.get(prefix)
        return None if table is None else table.get(external_key(prefix, value))

    def match_title(self, query: str) -> tuple[str, float] | None:
        """Best title match as (paperId, similarity in [0, 1]), or None when nothing is close."""
        return self._titles.best_match(query)

    def search(self, query: str) -> list[str]:
        """PaperIds whose titles share words with `query`, most relevant first."""
        return self._titles.search(query)

    # -- edges -----------------------------------------------------------------------------

    def edge(self, citing: str, cited: str | None, position: int) -> dict[str, Any]:
        """Edge attributes of a citation; deterministic per (citing, cited) pair."""
        rng = random.Random(_edge_hash(citing, cited, position))
        topic = " ".join(words(self._cited_title(citing, cited, position))[:2]) or "prior work"
        templates = rng.sample(CONTEXT_TEMPLATES, rng.choice((0, 1, 1, 2, 3)))
        contexts = [t.format(topic=topic, n=position + 1, m=rng.randint(1, 60)) for t in templates]
        intents = list(rng.choice(INTENT_CHOICES)) if contexts else []
        return {
            "contexts": contexts,
            "intents": intents,
            "contextsWithIntent": [{"context": c, "intents": intents} for c in contexts],
            "isInfluential": cited is not None and (citing, cited) in self.influential,
        }

    def referenced_paper(self, citing: str, position: int) -> dict[str, Any]:
        """The paper at `position` in `citing`'s references; a stub when unresolved."""
        cited = self.references[citing][position]
        if cited is None:
            return self.unresolved_reference(citing, position)
        return self.papers.get(cited) or {"paperId": cited}

    def unresolved_reference(self, citing: str, position: int) -> dict[str, Any]:
        """The stub S2 returns for a reference it could not resolve: paperId null, a title."""
        rng = random.Random(_edge_hash(citing, None, position))
        citing_year = self.papers[citing].get("year")
        year = citing_year - rng.randint(0, 15) if citing_year and rng.random() < 0.7 else None
        name = f"{rng.choice(GIVEN_NAMES)} {rng.choice(FAMILY_NAMES)}"
        stub: dict[str, Any] = dict.fromkeys(UNRESOLVED_NULL_FIELDS)
        stub.update(
            title=random_title(rng),
            year=year,
            authors=[{"authorId": None, "name": name}],
            s2FieldsOfStudy=[],
            isOpenAccess=False,
        )
        return stub

    def _cited_title(self, citing: str, cited: str | None, position: int) -> str:
        if cited is None:
            return str(self.unresolved_reference(citing, position)["title"])
        return str(self.papers.get(cited, {}).get("title") or "")


UNRESOLVED_NULL_FIELDS = (
    "paperId", "corpusId", "externalIds", "url", "abstract", "venue", "publicationVenue",
    "referenceCount", "citationCount", "influentialCitationCount", "openAccessPdf",
    "fieldsOfStudy", "publicationTypes", "publicationDate", "journal", "citationStyles",
)  # fmt: skip


def effective_date(paper: dict[str, Any]) -> str:
    """publicationDate, or Jan 1 of the year when the date is unknown (as the API filters)."""
    if paper.get("publicationDate"):
        return str(paper["publicationDate"])
    year = paper.get("year")
    return f"{int(year):04d}-01-01" if year else "0000-01-01"


def external_key(prefix: str, value: str) -> str:
    """Normalized lookup key: DOIs, arXiv and ACL ids are case-insensitive, arXiv unversioned."""
    key = value.strip()
    if prefix in ("DOI", "ARXIV", "ACL"):
        key = key.lower()
    if prefix == "ARXIV" and "v" in key:
        head, _, tail = key.rpartition("v")
        key = head if tail.isdigit() and head and head[-1].isdigit() else key
    return key


def _edge_hash(citing: str, cited: str | None, position: int) -> int:
    target = cited if cited is not None else f"#{position}"
    digest = hashlib.blake2b(f"{citing}>{target}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


# -- generation ----------------------------------------------------------------------------


def make_graph(
    n_papers: int,
    *,
    seed: int = 0,
    unresolved_fraction: float = 0.05,
    years: tuple[int, int] = (1990, 2025),
    references_range: tuple[int, int] = (5, 60),
    uniform_share: float = 0.3,
    influential_fraction: float = 0.12,
    missing_date_fraction: float = 0.12,
    duplicate_title_fraction: float = 0.005,
    pdf_base_url: str | None = None,
) -> SyntheticGraph:
    """Draw a citation graph of `n_papers` papers; the same arguments give the same graph.

    `uniform_share` is the chance a citation picks an earlier paper uniformly rather than in
    proportion to its citations so far (lower = heavier tail). `pdf_base_url`, when given,
    points every open-access PDF at `<pdf_base_url>/<paperId>.pdf` (e.g. a fake PDF host).
    """
    rng = random.Random(seed)
    days = _publication_days(rng, n_papers, years)
    ids = [hashlib.sha1(f"{seed}:{i}".encode()).hexdigest() for i in range(n_papers)]
    cited_lists = _draw_citations(rng, n_papers, references_range, uniform_share)
    references = {
        ids[i]: _with_unresolved(rng, [ids[j] for j in cited], unresolved_fraction)
        for i, cited in enumerate(cited_lists)
    }
    in_degree = [0] * n_papers
    influential_in = [0] * n_papers
    influential: set[tuple[str, str]] = set()
    for i, cited in enumerate(cited_lists):
        for j in cited:
            in_degree[j] += 1
            if rng.random() < influential_fraction:
                influential_in[j] += 1
                influential.add((ids[i], ids[j]))
    factory = PaperFactory(
        rng,
        seed=seed,
        n_papers=n_papers,
        duplicate_title_fraction=duplicate_title_fraction,
        pdf_base_url=pdf_base_url,
    )
    papers = {}
    for i, pid in enumerate(ids):
        facts = PaperFacts(
            index=i,
            paper_id=pid,
            day=days[i],
            has_date=rng.random() >= missing_date_fraction,
            reference_count=len(references[pid]),
            citation_count=in_degree[i],
            influential_citation_count=influential_in[i],
        )
        papers[pid] = factory.make(facts)
    return SyntheticGraph(papers=papers, references=references, influential=influential)


def _publication_days(rng: random.Random, n: int, years: tuple[int, int]) -> list[date]:
    """Sorted publication days; later years hold more papers (the literature grows)."""
    first, last = years
    span = list(range(first, last + 1))
    picked = rng.choices(span, weights=[1.09 ** (y - first) for y in span], k=n)
    days = [date(y, 1, 1) + timedelta(days=rng.randrange(365)) for y in picked]
    days.sort()
    return days


def _draw_citations(
    rng: random.Random, n: int, references_range: tuple[int, int], uniform_share: float
) -> list[list[int]]:
    """For each paper i, the indices (< i) it cites: preferential attachment + uniform share."""
    low, high = references_range
    mode = low + (high - low) / 3
    rnd = rng.random
    targets: list[int] = []  # one entry per citation received: sampling it is "rich get richer"
    result: list[list[int]] = []
    for i in range(n):
        k = min(i, round(rng.triangular(low, high, mode)))
        if k == i:
            chosen = list(range(i))
            rng.shuffle(chosen)
        else:
            seen: set[int] = set()
            chosen = []
            while len(chosen) < k:
                if not targets or rnd() < uniform_share:
                    j = int(rnd() * i)
                else:
                    j = targets[int(rnd() * len(targets))]
                if j not in seen:
                    seen.add(j)
                    chosen.append(j)
        targets.extend(chosen)
        result.append(chosen)
    return result


def _with_unresolved(rng: random.Random, cited: list[str], fraction: float) -> list[str | None]:
    """Interleave unresolved references so that about `fraction` of entries are None."""
    out: list[str | None] = []
    chance = min(max(fraction, 0.0), 0.9)  # a geometric run of Nones before each reference
    for pid in cited:
        while rng.random() < chance:
            out.append(None)
        out.append(pid)
    return out
