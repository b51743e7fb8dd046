"""The values every layer passes around: papers as a source knows them, and citation rows.

Sources (`refnet.sources`) build them from API answers or snapshot lines; the database layer
stores them; neither needs to know the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True, slots=True)
class AuthorRecord:
    s2_author_id: str | None
    name: str


@dataclass(frozen=True, slots=True)
class PaperRecord:
    """One paper as a source knows it. Only `s2_id` is guaranteed."""

    s2_id: str
    title: str | None = None
    corpus_id: int | None = None
    doi: str | None = None
    arxiv_id: str | None = None
    external_ids: dict[str, str] = field(default_factory=dict)
    url: str | None = None
    abstract: str | None = None
    tldr: str | None = None
    year: int | None = None
    publication_date: date | None = None
    venue: str | None = None
    journal: str | None = None
    publication_types: list[str] = field(default_factory=list)
    fields_of_study: list[str] = field(default_factory=list)
    citation_count: int | None = None
    reference_count: int | None = None
    influential_citation_count: int | None = None
    open_access_pdf_url: str | None = None
    open_access_status: str | None = None
    open_access_license: str | None = None
    bibtex: str | None = None
    authors: list[AuthorRecord] = field(default_factory=list)
    # Resolved references as brief records; None when the source was not asked for them.
    references: tuple[PaperRecord, ...] | None = None
    # True when the record came from a full metadata lookup, not a listing row.
    complete: bool = False

    @property
    def reference_ids(self) -> list[str] | None:
        return None if self.references is None else [ref.s2_id for ref in self.references]


@dataclass(frozen=True, slots=True)
class CitationRecord:
    """One row of a citations or references listing: the other paper plus the edge."""

    paper: PaperRecord
    is_influential: bool | None
    intents: list[str]
    contexts: list[str]
