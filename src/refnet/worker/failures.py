"""Failures a person must look at: recorded once per delivery, listed, and re-driven.

A task fails for good when its error is permanent (bad input, a bug) or when a transient one
outlasts every retry. Each such delivery leaves one `task_failures` row whose reason says what
happened in words; `refnet tasks retry` sends the same task with the same arguments again.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from sqlalchemy import exc as sa_exc

from refnet.core.config import get_settings
from refnet.core.errors import TransientError
from refnet.core.handoff import current_dispatcher
from refnet.db.queries import operations
from refnet.db.queries.operations import FailureView
from refnet.db.session import session_scope

log = structlog.get_logger(__name__)


def describe(exc: BaseException, *, retries: int) -> str:
    """Why a task failed, for a person."""
    if isinstance(exc, TransientError):
        return f"gave up after {retries} retries: {exc}"
    if isinstance(exc, TimeLimitExceeded | SoftTimeLimitExceeded):
        return f"ran past its time limit ({exc})"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, sa_exc.DBAPIError):
        text = str(exc.orig).strip().splitlines()[0] if exc.orig else text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def record(
    *,
    task_id: str,
    task_name: str,
    queue: str | None,
    kwargs: Mapping[str, Any],
    exc: BaseException,
    retries: int,
    database_url: str | None = None,
) -> None:
    """Keep the failure (in `database_url`, default the configured database); a database that
    is down only costs the record (it is logged)."""
    reason = describe(exc, retries=retries)
    log.error("task_failed", task=task_name, error_type=type(exc).__name__, reason=reason)
    try:
        with session_scope(database_url or get_settings().effective_database_url) as session:
            operations.record_failure(
                session=session,
                task_id=task_id,
                task_name=task_name,
                queue=queue,
                kwargs=_storable(kwargs),
                error_type=type(exc).__name__,
                reason=reason,
                retries=retries,
            )
    except Exception as problem:  # never let recording hide the task's own failure
        log.warning("task_failure_not_recorded", task=task_name, reason=str(problem)[:200])


def _storable(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments as JSON can keep them (they came as JSON; anything else as its repr)."""
    import json

    try:
        return dict(json.loads(json.dumps(dict(kwargs))))
    except (TypeError, ValueError):
        return {name: repr(value) for name, value in kwargs.items()}


def retry_failures(*, database_url: str, failure_ids: Sequence[int] | None) -> list[FailureView]:
    """Send the failed tasks again (all waiting ones when `failure_ids` is None), each once.

    A task that fails again while being sent (run in this process on the embedded default, or
    refused by the broker) is recorded again, as a worker records its failures, and the others
    are still sent; the first such error is raised at the end."""
    with session_scope(database_url) as session:
        claimed = operations.claim_for_retry(session=session, failure_ids=failure_ids)
    dispatcher = current_dispatcher()
    first_error: Exception | None = None
    for failure in claimed:
        log.info("task_retried", task=failure.task_name, failure_id=failure.id)
        try:
            dispatcher.send(failure.task_name, failure.kwargs, countdown=None)
        except Exception as exc:
            record(
                task_id=str(uuid.uuid4()),  # a delivery of its own, as a worker's would be
                task_name=failure.task_name,
                queue=failure.queue,
                kwargs=failure.kwargs,
                exc=exc,
                retries=0,
                database_url=database_url,
            )
            first_error = first_error or exc
    if first_error is not None:
        raise first_error
    return claimed
