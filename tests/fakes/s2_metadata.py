"""Builds FullPaper-shaped JSON for one synthetic paper.

Everything is drawn from one seeded `random.Random`, so a graph is the same for the same seed.
The shapes follow the official spec and real responses: nullable abstract/tldr/venue objects,
`venue` as a string (sometimes ""), publisher-cased DOIs, `externalIds.CorpusId` as an int,
`openAccessPdf` null or an object whose `url` may be "".
"""

from __future__ import annotations

import functools
import random
import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from .s2_vocab import (
    ADJECTIVES,
    ARXIV_ARCHIVES,
    DISCLAIMER,
    DOMAINS,
    FAMILY_NAMES,
    FIELDS_OF_STUDY,
    GIVEN_NAMES,
    NOUNS,
    TITLE_TEMPLATES,
    TLDR_MODEL,
    UNICODE_WORDS,
    VENUES,
    Venue,
    bibtex_entry,
    publication_types,
)

S2_PAPER_URL = "https://www.semanticscholar.org/paper/"


@dataclass(frozen=True, slots=True)
class PaperFacts:
    """What the topology decided about one paper before its metadata is drawn."""

    index: int
    paper_id: str
    day: date
    has_date: bool
    reference_count: int
    citation_count: int
    influential_citation_count: int


class PaperFactory:
    """Draws titles, authors, venues and identifiers for papers in index order."""

    def __init__(
        self,
        rng: random.Random,
        *,
        seed: int,
        n_papers: int,
        duplicate_title_fraction: float,
        pdf_base_url: str | None,
    ) -> None:
        self._rng = rng
        self._titles: list[str] = []
        self._duplicate_fraction = duplicate_title_fraction
        self._pdf_base_url = pdf_base_url.rstrip("/") if pdf_base_url else None
        self._corpus_base = 100_000_000 + (seed % 500) * 1_000_000
        self._arxiv_seq: dict[str, int] = {}
        self._authors = self._author_pool(seed, max(40, n_papers // 2))

    def _author_pool(self, seed: int, size: int) -> list[dict[str, Any]]:
        pool = []
        for k in range(size):
            name = f"{self._rng.choice(GIVEN_NAMES)} {self._rng.choice(FAMILY_NAMES)}"
            author_id = None if k % 97 == 13 else str(1_000_000 + (seed % 1000) * 100_000 + k)
            pool.append({"authorId": author_id, "name": name})
        return pool

    def make(self, facts: PaperFacts) -> dict[str, Any]:
        rng = self._rng
        venue = rng.choice(VENUES) if rng.random() > 0.08 else None
        title = self._title()
        authors = self._paper_authors()
        arxiv = self._arxiv_id(facts.day, venue)
        external = self._external_ids(facts, venue, arxiv)
        pdf = self._open_access_pdf(facts.paper_id, arxiv, venue)
        venue_name = self._venue_name(venue)
        fields = self._fields_of_study(venue)
        return {
            "paperId": facts.paper_id,
            "corpusId": external["CorpusId"],
            "externalIds": external,
            "url": S2_PAPER_URL + facts.paper_id,
            "title": title,
            "abstract": self._abstract(title) if rng.random() > 0.1 else None,
            "venue": venue_name,
            "publicationVenue": self._publication_venue(venue),
            "year": facts.day.year,
            "referenceCount": facts.reference_count,
            "citationCount": facts.citation_count,
            "influentialCitationCount": facts.influential_citation_count,
            "isOpenAccess": bool(pdf and pdf["url"]),
            "openAccessPdf": pdf,
            "fieldsOfStudy": fields,
            "s2FieldsOfStudy": self._s2_fields(fields, venue),
            "publicationTypes": publication_types(venue.kind if venue else "", rng.random()),
            "publicationDate": facts.day.isoformat() if facts.has_date else None,
            "journal": self._journal(venue, facts.day.year, arxiv),
            "citationStyles": {"bibtex": self._bibtex(venue, venue_name, title, authors, facts)},
            "authors": authors,
            "tldr": self._tldr(title) if rng.random() < 0.7 else None,
        }

    # -- titles and text -------------------------------------------------------------------

    def _title(self) -> str:
        rng = self._rng
        if self._titles and rng.random() < self._duplicate_fraction:
            title = rng.choice(self._titles)
        else:
            title = random_title(rng)
        self._titles.append(title)
        return title

    def _abstract(self, title: str) -> str:
        rng = self._rng
        topic = title.rstrip("?.").lower()
        sentences = [
            f"We study {topic}.",
            f"Our method combines {rng.choice(ADJECTIVES).lower()} "
            f"{rng.choice(NOUNS).lower()} with {rng.choice(NOUNS).lower()}.",
            f"Experiments on {rng.choice(DOMAINS).lower()} show consistent gains.",
        ]
        if rng.random() < 0.5:
            sentences.append(f"Code is available for {rng.choice(NOUNS).lower()} research.")
        return " ".join(sentences)

    def _tldr(self, title: str) -> dict[str, str]:
        noun = self._rng.choice(NOUNS).lower()
        return {"model": TLDR_MODEL, "text": f"This paper studies {title.lower()} using {noun}."}

    # -- people ----------------------------------------------------------------------------

    def _paper_authors(self) -> list[dict[str, Any]]:
        rng = self._rng
        if rng.random() < 0.01:
            return []
        count = 1 + min(int(rng.expovariate(0.45)), 11)
        pool = self._authors
        # Squaring skews picks towards the start of the pool: a few prolific authors.
        picks = {int(len(pool) * rng.random() ** 2) for _ in range(count)}
        return [pool[k] for k in sorted(picks)]  # shared, read-only: the server copies

    # -- identifiers -----------------------------------------------------------------------

    def _external_ids(
        self, facts: PaperFacts, venue: Venue | None, arxiv: str | None
    ) -> dict[str, Any]:
        rng = self._rng
        ids: dict[str, Any] = {}
        if venue is not None and venue.doi is not None and rng.random() < 0.92:
            ids["DOI"] = venue.doi(facts.index, facts.day.year, facts.day.month)
        elif arxiv is not None and rng.random() < 0.3:
            ids["DOI"] = f"10.48550/arXiv.{arxiv}"
        if arxiv is not None:
            ids["ArXiv"] = arxiv
        if rng.random() < 0.6:
            ids["MAG"] = str(2_000_000_000 + facts.index * 17)
        if venue is not None and venue.acl and rng.random() < 0.8:
            ids["ACL"] = f"{facts.day.year}.acl-main.{facts.index}"
        if venue is not None and venue.kind == "conference" and rng.random() < 0.5:
            ids["DBLP"] = f"conf/{venue.alternate_names[0].lower()}/Paper{facts.index}"
        if venue is not None and venue.pubmed and rng.random() < 0.85:
            ids["PubMed"] = str(10_000_000 + facts.index * 3)
            if rng.random() < 0.5:
                ids["PubMedCentral"] = str(5_000_000 + facts.index)
        ids["CorpusId"] = self._corpus_base + facts.index * 7
        return ids

    def _arxiv_id(self, day: date, venue: Venue | None) -> str | None:
        rate = venue.arxiv_rate if venue is not None else 0.1
        if day.year < 1992 or self._rng.random() >= rate:
            return None
        yymm = f"{day.year % 100:02d}{day.month:02d}"
        if day.year >= 2007:
            seq = self._next_arxiv_seq(yymm)
            return f"{yymm}.{seq:05d}" if day.year >= 2015 else f"{yymm}.{seq:04d}"
        archive = self._rng.choice(ARXIV_ARCHIVES)
        seq = self._next_arxiv_seq(f"{archive}/{yymm}")
        return f"{archive}/{yymm}{seq:03d}" if seq < 1000 else None

    def _next_arxiv_seq(self, key: str) -> int:
        seq = self._arxiv_seq.get(key, 0) + 1
        self._arxiv_seq[key] = seq
        return seq

    # -- venue, access, fields -------------------------------------------------------------

    def _venue_name(self, venue: Venue | None) -> str:
        if venue is None:
            return ""
        return venue.alternate_names[0] if self._rng.random() < 0.1 else venue.name

    def _publication_venue(self, venue: Venue | None) -> dict[str, Any] | None:
        if venue is None or self._rng.random() < 0.08:
            return None
        return _venue_object(venue)

    def _journal(self, venue: Venue | None, year: int, arxiv: str | None) -> dict[str, Any] | None:
        rng = self._rng
        if venue is None or rng.random() < 0.15:
            return None
        if venue.kind == "repository" and arxiv is not None:
            return {"name": "ArXiv", "volume": f"abs/{arxiv}"}
        journal: dict[str, Any] = {"name": venue.alternate_names[0]}
        if venue.kind == "journal":
            journal["volume"] = str(max(1, year - 1950))
        if rng.random() < 0.7:
            first = rng.randint(1, 900)
            journal["pages"] = f"{first}-{first + rng.randint(4, 30)}"
        return journal

    def _open_access_pdf(
        self, paper_id: str, arxiv: str | None, venue: Venue | None
    ) -> dict[str, Any] | None:
        roll = self._rng.random()
        status: str | None
        if arxiv is not None and roll < 0.8:
            url, status, lic = f"https://arxiv.org/pdf/{arxiv}.pdf", "GREEN", "arXiv"
        elif roll < 0.2:
            host = venue.url.rstrip("/") if venue is not None else "https://repository.example.org"
            url, status, lic = f"{host}/pdf/{paper_id[:12]}.pdf", "GOLD", "CCBY"
        elif roll < 0.6:
            return None
        else:  # closed access: S2 sends an object with an empty url rather than null
            url, status, lic = "", None, None
        if url and self._pdf_base_url is not None:
            url = f"{self._pdf_base_url}/{paper_id}.pdf"
        source = url or S2_PAPER_URL + paper_id
        return {
            "url": url,
            "status": status,
            "license": lic,
            "disclaimer": DISCLAIMER.format(source=source),
        }

    def _fields_of_study(self, venue: Venue | None) -> list[str] | None:
        rng = self._rng
        if rng.random() < 0.1:
            return None
        if venue is None:
            return [rng.choice(FIELDS_OF_STUDY)]
        return list(venue.fields[: 1 + int(rng.random() * len(venue.fields))])

    def _s2_fields(self, fields: list[str] | None, venue: Venue | None) -> list[dict[str, str]]:
        external = [{"category": f, "source": "external"} for f in fields or []]
        model = list(venue.fields[:1]) if venue else [self._rng.choice(FIELDS_OF_STUDY)]
        if self._rng.random() < 0.3:
            model.append(self._rng.choice(FIELDS_OF_STUDY))
        return external + [{"category": f, "source": "s2-fos-model"} for f in dict.fromkeys(model)]

    def _bibtex(
        self,
        venue: Venue | None,
        venue_name: str,
        title: str,
        authors: list[dict[str, Any]],
        facts: PaperFacts,
    ) -> str:
        names = [str(a["name"]) for a in authors]
        family = ascii_fold(names[0].split(" ")[-1]) if names else "Anonymous"
        words = [ascii_fold(w) for w in re.findall(r"\w+", title)] or ["Untitled"]
        key = f"{family}{facts.day.year}{words[0].capitalize()}" + "".join(
            w[:1].upper() for w in words[1:3]
        )
        kind = venue.kind if venue else "journal"
        return bibtex_entry(
            kind=kind, key=key, authors=names, venue=venue_name, title=title, year=facts.day.year
        )


def random_title(rng: random.Random) -> str:
    """A title from the templates; about one in twelve carries a non-ASCII word."""
    adj, adj2 = rng.sample(ADJECTIVES, 2)
    noun, noun2 = rng.sample(NOUNS, 2)
    title = rng.choice(TITLE_TEMPLATES).format(
        adj=adj, adj2=adj2, noun=noun, noun2=noun2, domain=rng.choice(DOMAINS)
    )
    if rng.random() < 0.08:
        title = f"{rng.choice(UNICODE_WORDS)} {title}"
    return title


def ascii_fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if c.isascii() and c.isalnum())


@functools.cache
def _venue_object(venue: Venue) -> dict[str, Any]:
    """S2's publicationVenue object; one shared (read-only) dict per venue."""
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, venue.url)),
        "name": venue.name,
        "type": "journal" if venue.kind in ("journal", "repository") else venue.kind,
        "alternate_names": list(venue.alternate_names),
        "url": venue.url,
    }
