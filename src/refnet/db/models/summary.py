"""Summaries of papers and the PDFs they were made from."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from refnet.db.base import Base, BigId, utcnow


class SummaryStatus(enum.StrEnum):
    PENDING = "pending"  # wanted, not yet claimed
    RUNNING = "running"  # claimed by a worker
    ANSWERED = "answered"  # the provider's raw answer is stored; never paid for again
    DONE = "done"
    FAILED = "failed"  # `error` says why; a rerun tries again
    DEFERRED = "deferred"  # waiting for tomorrow's token budget


class InputKind(enum.StrEnum):
    PDF = "pdf"
    ABSTRACT = "abstract"
    TLDR = "tldr"


class Summary(Base):
    """One summary per (paper, provider, model, prompt version, language): the summary key."""

    __tablename__ = "summaries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(128))
    prompt_version: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default=SummaryStatus.PENDING.value, index=True)
    input_kind: Mapped[str | None] = mapped_column(String(16))
    tldr: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    key_points: Mapped[list[str]] = mapped_column(default=list)
    keywords: Mapped[list[str]] = mapped_column(default=list)
    raw_response: Mapped[str | None] = mapped_column(Text)
    input_tokens: Mapped[int] = mapped_column(default=0)
    output_tokens: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_at: Mapped[datetime | None]
    # Who holds the claim: the task delivery (a redelivered message takes its own claim back at
    # once instead of waiting for it to go stale), or None.
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    completed_at: Mapped[datetime | None]  # when a provider last answered (and was paid)
    # Remaking a done summary from the PDF it had to do without: claimed since, and the
    # provider's answer kept here until it is parsed. The summary itself stays done meanwhile.
    remake_claimed_at: Mapped[datetime | None]
    remake_response: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint(
            "paper_id", "provider", "model", "prompt_version", "language", name="uq_summaries_key"
        ),
        # Summaries by provider and status, and today's tokens per provider (the daily budget
        # before each paid call, and /metrics): without them each is a scan of the texts.
        Index("ix_summaries_provider_status", "provider", "status"),
        Index(
            "ix_summaries_provider_completed",
            "provider",
            "completed_at",
            postgresql_include=["input_tokens", "output_tokens"],
        ),
    )


class PdfStatus(enum.StrEnum):
    FETCHED = "fetched"
    UNAVAILABLE = "unavailable"  # no open-access location answered with a PDF
    FAILED = "failed"  # fetched, but unusable (corrupt, encrypted, scanned, too large)
    RETRYING = "retrying"  # every location failed for a passing reason; tried again at retry_at


class PdfDocument(Base):
    __tablename__ = "pdf_documents"

    paper_id: Mapped[int] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16))
    url: Mapped[str | None] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64))
    size_bytes: Mapped[int | None]
    pages: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)  # transient failures since the last success
    retry_at: Mapped[datetime | None]
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)
