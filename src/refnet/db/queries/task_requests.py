"""Summary and vault requests: find a queued twin, record a new one, follow it to the end."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from refnet.db.base import as_utc, utcnow
from refnet.db.models.tasks import RequestStatus, TaskRequest
from refnet.db.queries._dialect import hold_advisory_lock
from refnet.db.session import session_scope

# A request still queued after this long is presumed lost (its task was purged or the broker
# restarted empty); an identical request then queues a new task instead of waiting on it.
QUEUED_FRESH = timedelta(hours=1)
REQUEST_LOCK = 0x72657172  # "reqr": serializes find-or-add so twins never both queue


@dataclass(frozen=True, slots=True)
class RequestView:
    id: int
    kind: str
    status: str
    params: dict[str, Any]
    error: str | None
    created_at: datetime
    updated_at: datetime


def _view(row: TaskRequest) -> RequestView:
    return RequestView(
        id=row.id,
        kind=row.kind,
        status=row.status,
        params=dict(row.params),
        error=row.error,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


def work_key(kind: str, params: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps([kind, params], sort_keys=True).encode()).hexdigest()


def find_or_add(
    *, session: Session, kind: str, params: Mapping[str, Any], requested_by: int | None
) -> tuple[RequestView, bool]:
    """The queued request for the same work (and True), or a new queued one (and False)."""
    hold_advisory_lock(session, REQUEST_LOCK)
    key = work_key(kind, params)
    twin = session.scalars(
        select(TaskRequest)
        .where(
            TaskRequest.kind == kind,
            TaskRequest.work_key == key,
            TaskRequest.status == RequestStatus.QUEUED.value,
            TaskRequest.created_at > utcnow() - QUEUED_FRESH,
        )
        .order_by(TaskRequest.id.desc())
        .limit(1)
    ).first()
    if twin is not None:
        return _view(twin), True
    row = TaskRequest(kind=kind, work_key=key, params=dict(params), requested_by=requested_by)
    session.add(row)
    session.flush()
    return _view(row), False


def get_request(*, session: Session, request_id: int) -> RequestView | None:
    row = session.get(TaskRequest, request_id)
    return _view(row) if row is not None else None


def set_status(
    *, session: Session, request_id: int, status: RequestStatus, error: str | None = None
) -> None:
    session.execute(
        update(TaskRequest)
        .where(TaskRequest.id == request_id)
        .values(status=status.value, error=error, updated_at=utcnow())
    )


@contextmanager
def tracked(database_url: str, request_id: int | None) -> Iterator[None]:
    """Mark the request running, then done, or failed with the reason when the block raises."""
    if request_id is None:
        yield
        return
    with session_scope(database_url) as session:
        set_status(session=session, request_id=request_id, status=RequestStatus.RUNNING)
    try:
        yield
    except BaseException as exc:
        reason = (str(exc) or type(exc).__name__)[:500]
        with session_scope(database_url) as session:
            set_status(
                session=session, request_id=request_id, status=RequestStatus.FAILED, error=reason
            )
        raise
    with session_scope(database_url) as session:
        set_status(session=session, request_id=request_id, status=RequestStatus.DONE)
