"""Summary and vault requests made through the API: what was asked, by whom, how it went.

A request is `queued` until its task starts, `running`, then `done` or `failed`. An identical
request made while one is still queued is answered with the queued one instead of a second task.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from refnet.db.base import Base, BigId, utcnow


class RequestStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class RequestKind(enum.StrEnum):
    SUMMARIZE = "summarize"
    GENERATE = "generate"


class TaskRequest(Base):
    __tablename__ = "task_requests"
    __table_args__ = (Index("ix_task_requests_kind_work_key_status", "kind", "work_key", "status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    work_key: Mapped[str] = mapped_column(String(64))  # digest of kind + params
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default=RequestStatus.QUEUED.value)
    requested_by: Mapped[int | None] = mapped_column(BigId)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
