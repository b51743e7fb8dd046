"""The audit log: writing events and reading them back, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from refnet.db.base import as_utc, utcnow
from refnet.db.models import AuditEvent

S = TypeVar("S", bound=Select[Any])


@dataclass(frozen=True)
class AuditFilter:
    username: str | None = None
    action: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


@dataclass(frozen=True)
class AuditEventView:
    id: int
    at: datetime
    user_id: int | None
    username: str | None
    action: str
    outcome: str
    client_ip: str | None
    request_id: str | None
    details: dict[str, Any]


def insert_event(
    *,
    session: Session,
    action: str,
    outcome: str,
    user_id: int | None,
    username: str | None,
    client_ip: str | None,
    request_id: str | None,
    details: dict[str, Any],
) -> None:
    session.add(
        AuditEvent(
            at=utcnow(),
            action=action,
            outcome=outcome,
            user_id=user_id,
            username=username,
            client_ip=client_ip,
            request_id=request_id,
            details=details,
        )
    )
    session.flush()


def list_events(
    *, session: Session, filters: AuditFilter, limit: int, offset: int
) -> tuple[int, list[AuditEventView]]:
    """(how many events match, one page of them newest first)."""
    matching = _filtered(select(AuditEvent), filters)
    total = session.scalar(_filtered(select(func.count()).select_from(AuditEvent), filters)) or 0
    rows = session.scalars(
        matching.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit).offset(offset)
    )
    return total, [_view(row) for row in rows]


def _filtered(statement: S, filters: AuditFilter) -> S:
    if filters.username is not None:
        names = {filters.username.strip(), filters.username.strip().lower()}
        statement = statement.where(AuditEvent.username.in_(names))
    if filters.action is not None:
        statement = statement.where(AuditEvent.action == filters.action)
    if filters.since is not None:
        statement = statement.where(AuditEvent.at >= _utc(filters.since))
    if filters.until is not None:
        statement = statement.where(AuditEvent.at < _utc(filters.until))
    return statement


def _utc(moment: datetime) -> datetime:
    """Aware and in UTC (SQLite compares the stored text, which is UTC); naive means UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _view(row: AuditEvent) -> AuditEventView:
    return AuditEventView(
        id=row.id,
        at=as_utc(row.at),
        user_id=row.user_id,
        username=row.username,
        action=row.action,
        outcome=row.outcome,
        client_ip=row.client_ip,
        request_id=row.request_id,
        details=dict(row.details or {}),
    )
