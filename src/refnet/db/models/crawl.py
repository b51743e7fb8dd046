"""Crawl jobs, their frontier, and seeds watched for new citations."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from refnet.db.base import Base, BigId, utcnow
from refnet.db.models.paper import Paper


class JobStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"  # stopped by a transient failure (API down); a rerun continues
    COMPLETED = "completed"
    FAILED = "failed"  # stopped by a permanent failure (unknown seed, bad input)


class JobKind(enum.StrEnum):
    FULL = "full"
    INCREMENTAL = "incremental"


class FrontierState(enum.StrEnum):
    CANDIDATE = "candidate"  # discovered, waiting to be collected
    COLLECTED = "collected"
    EXPANDED = "expanded"
    MISSING = "missing"  # the source does not know this id


class CrawlJob(Base):
    __tablename__ = "crawl_jobs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default=JobKind.FULL.value)
    seeds: Mapped[list[str]] = mapped_column(default=list)  # as the user gave them
    seed_ids: Mapped[list[str]] = mapped_column(default=list)  # resolved S2 paper ids
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    source: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.PENDING.value, index=True)
    error: Mapped[str | None] = mapped_column(Text)
    papers_collected: Mapped[int] = mapped_column(default=0)
    papers_expanded: Mapped[int] = mapped_column(default=0)
    edges_stored: Mapped[int] = mapped_column(default=0)
    requests_made: Mapped[int] = mapped_column(default=0)
    # The process running the job (a token it chose) and when it last renewed its lease (at
    # every step): a job silent for longer than the lease is taken over by the next process.
    runner: Mapped[str | None] = mapped_column(String(36))
    heartbeat_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class FrontierEntry(Base):
    """A paper's place in one crawl job: how deep, how promising, how far along."""

    __tablename__ = "crawl_frontier"

    job_id: Mapped[int] = mapped_column(
        ForeignKey("crawl_jobs.id", ondelete="CASCADE"), primary_key=True
    )
    paper_id: Mapped[int] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    depth: Mapped[int]
    score: Mapped[float] = mapped_column(Float, default=0.0)
    state: Mapped[str] = mapped_column(String(16), default=FrontierState.CANDIDATE.value)
    is_seed: Mapped[bool] = mapped_column(Boolean, default=False)
    # A candidate whose score inputs (links, depth, citation counts) changed since it was scored.
    stale: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    paper: Mapped[Paper] = relationship()

    __table_args__ = (
        Index("ix_crawl_frontier_job_id_state", "job_id", "state"),
        Index("ix_crawl_frontier_job_id_state_score", "job_id", "state", "score"),
    )


class WatchedSeed(Base):
    __tablename__ = "watched_seeds"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"), unique=True)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_crawled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    paper: Mapped[Paper] = relationship()
