"""What unattended operation leaves behind: failed tasks, scheduled runs, health findings."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from refnet.db.base import Base, BigId, utcnow


class FailureStatus(enum.StrEnum):
    FAILED = "failed"  # waiting for a person
    RETRIED = "retried"  # re-driven by `refnet tasks retry`; a new failure makes a new row


class TaskFailure(Base):
    """A task that failed for good (a permanent error, or transient ones past every retry)."""

    __tablename__ = "task_failures"
    __table_args__ = (Index("ix_task_failures_status_failed_at", "status", "failed_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    task_id: Mapped[str] = mapped_column(String(64), unique=True)  # one row per delivery
    task_name: Mapped[str] = mapped_column(String(128))
    queue: Mapped[str | None] = mapped_column(String(32))
    kwargs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error_type: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    retries: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(16), default=FailureStatus.FAILED.value)
    failed_at: Mapped[datetime] = mapped_column(default=utcnow)
    retried_at: Mapped[datetime | None]


class ScheduleRun(Base):
    """The last run of one beat entry: when beat fired it, and how its task ended."""

    __tablename__ = "schedule_runs"

    entry: Mapped[str] = mapped_column(String(64), primary_key=True)
    task_name: Mapped[str] = mapped_column(String(128))
    # When a beat first scheduled the entry: a run is expected one timing after it.
    registered_at: Mapped[datetime] = mapped_column(default=utcnow)
    fired_count: Mapped[int] = mapped_column(default=0)
    last_fired_at: Mapped[datetime | None]
    last_started_at: Mapped[datetime | None]
    last_finished_at: Mapped[datetime | None]
    # How the last run that ended did (ok, failed); a run in progress is told by its times.
    last_outcome: Mapped[str | None] = mapped_column(String(16))
    last_detail: Mapped[str | None] = mapped_column(Text)
    completed_count: Mapped[int] = mapped_column(default=0)


class HealthFinding(Base):
    """The latest finding of one health check."""

    __tablename__ = "health_findings"

    part: Mapped[str] = mapped_column(String(64), primary_key=True)
    ok: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[str] = mapped_column(Text)
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)
