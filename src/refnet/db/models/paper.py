"""Papers, authors and the citation edges between papers."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from refnet.db.base import Base, BigId, utcnow


class CrawlState(enum.StrEnum):
    DISCOVERED = "discovered"  # id (and perhaps a title) seen in a listing; no full metadata
    COLLECTED = "collected"  # full metadata and reference ids stored
    EXPANDED = "expanded"  # collected, and its citations have been listed


# Papers with full metadata: the ones that get a summary and a vault note.
COLLECTED_STATES = (CrawlState.COLLECTED.value, CrawlState.EXPANDED.value)


class Paper(Base):
    __tablename__ = "papers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    s2_id: Mapped[str] = mapped_column(String(64), unique=True)
    corpus_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    doi: Mapped[str | None] = mapped_column(String(255), unique=True)
    arxiv_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    external_ids: Mapped[dict[str, Any]] = mapped_column(default=dict)
    url: Mapped[str | None] = mapped_column(Text)

    title: Mapped[str | None] = mapped_column(Text)
    abstract: Mapped[str | None] = mapped_column(Text)
    tldr: Mapped[str | None] = mapped_column(Text)
    year: Mapped[int | None] = mapped_column(index=True)
    publication_date: Mapped[date | None]
    venue: Mapped[str | None] = mapped_column(Text)
    journal: Mapped[str | None] = mapped_column(Text)
    publication_types: Mapped[list[str]] = mapped_column(default=list)
    fields_of_study: Mapped[list[str]] = mapped_column(default=list)
    citation_count: Mapped[int | None]
    reference_count: Mapped[int | None]
    influential_citation_count: Mapped[int | None]
    open_access_pdf_url: Mapped[str | None] = mapped_column(Text)
    open_access_status: Mapped[str | None] = mapped_column(String(32))
    open_access_license: Mapped[str | None] = mapped_column(String(64))
    bibtex: Mapped[str | None] = mapped_column(Text)

    # The vault note's file name (without `.md`), assigned once so links never break.
    citekey: Mapped[str | None] = mapped_column(String(255), unique=True)

    crawl_state: Mapped[str] = mapped_column(
        String(16), default=CrawlState.DISCOVERED.value, index=True
    )
    depth: Mapped[int | None]
    priority: Mapped[float | None] = mapped_column(Float)
    metadata_fetched_at: Mapped[datetime | None]
    expanded_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, index=True)

    authors: Mapped[list[PaperAuthor]] = relationship(
        back_populates="paper", order_by="PaperAuthor.position", cascade="all, delete-orphan"
    )
    references: Mapped[list[Citation]] = relationship(
        primaryjoin="Paper.id == foreign(Citation.citing_id)",
        back_populates="citing",
        viewonly=True,
    )
    citations: Mapped[list[Citation]] = relationship(
        primaryjoin="Paper.id == foreign(Citation.cited_id)",
        back_populates="cited",
        viewonly=True,
    )


class Author(Base):
    __tablename__ = "authors"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # The S2 author id when known, else "name:<normalized name>"; the natural key of an author.
    key: Mapped[str] = mapped_column(String(255), unique=True)
    s2_author_id: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(Text)


class PaperAuthor(Base):
    __tablename__ = "paper_authors"

    paper_id: Mapped[int] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"), index=True)

    paper: Mapped[Paper] = relationship(back_populates="authors")
    author: Mapped[Author] = relationship(lazy="joined")


class Citation(Base):
    """`citing` lists `cited` among its references.

    No foreign keys: PostgreSQL checks one per row with a row lock on `papers`, which took most
    of the time of the crawl's largest write (tens of thousands of reference edges per batch) and
    made concurrent crawls lock each other's papers. Edges are written only by
    `queries.citations.upsert_citations`, with row ids `upsert_papers` returned in the same
    transaction. Whatever comes to delete papers must delete their edges first (nothing does
    today).
    """

    __tablename__ = "citations"

    citing_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    cited_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # None until a citations listing tells us (batch reference ids carry no edge details).
    is_influential: Mapped[bool | None] = mapped_column(Boolean)
    intents: Mapped[list[str] | None]
    contexts: Mapped[list[str] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    citing: Mapped[Paper] = relationship(
        primaryjoin="foreign(Citation.citing_id) == Paper.id", back_populates="references"
    )
    cited: Mapped[Paper] = relationship(
        primaryjoin="foreign(Citation.cited_id) == Paper.id", back_populates="citations"
    )

    __table_args__ = (Index("ix_citations_cited_id", "cited_id"),)
