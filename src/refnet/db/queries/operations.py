"""Failed tasks, beat entries' last runs and health findings: written by workers and beat, read
by the command line, the API and the health check.

Every write is keyed (task id, entry name, check name), so a message delivered twice, or a beat
that fires while another is handing over, leaves one row, not two.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from refnet.db.base import as_utc, utcnow
from refnet.db.models.operations import FailureStatus, HealthFinding, ScheduleRun, TaskFailure
from refnet.db.queries._dialect import insert_for

REASON_CHARS = 2000


@dataclass(frozen=True, slots=True)
class FailureView:
    id: int
    task_id: str
    task_name: str
    queue: str | None
    kwargs: dict[str, Any]
    error_type: str
    reason: str
    retries: int
    status: str
    failed_at: datetime
    retried_at: datetime | None


@dataclass(frozen=True, slots=True)
class ScheduleRunView:
    entry: str
    task_name: str
    registered_at: datetime
    fired_count: int
    completed_count: int
    last_fired_at: datetime | None
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_outcome: str | None  # running, ok or failed
    last_detail: str | None
    last_finished_outcome: str | None = None  # ok or failed: how the last run that ended did


@dataclass(frozen=True, slots=True)
class FindingView:
    part: str
    ok: bool
    detail: str
    checked_at: datetime


def _maybe_utc(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


def record_failure(
    *,
    session: Session,
    task_id: str,
    task_name: str,
    queue: str | None,
    kwargs: Mapping[str, Any],
    error_type: str,
    reason: str,
    retries: int,
) -> None:
    """Keep a failed delivery (once, however often the failure is reported)."""
    row = {
        "task_id": task_id,
        "task_name": task_name,
        "queue": queue,
        "kwargs": dict(kwargs),
        "error_type": error_type[:128],
        "reason": reason[:REASON_CHARS],
        "retries": retries,
        "status": FailureStatus.FAILED.value,
        "failed_at": utcnow(),
    }
    statement = insert_for(session, TaskFailure).values(row)
    session.execute(statement.on_conflict_do_nothing(index_elements=["task_id"]))


def list_failures(
    *, session: Session, include_retried: bool = False, limit: int = 100
) -> list[FailureView]:
    query = select(TaskFailure).order_by(TaskFailure.failed_at.desc(), TaskFailure.id.desc())
    if not include_retried:
        query = query.where(TaskFailure.status == FailureStatus.FAILED.value)
    return [_failure_view(row) for row in session.scalars(query.limit(limit))]


def count_failures_by_task(*, session: Session) -> dict[str, int]:
    """Failed tasks waiting for a person, by task name."""
    rows = session.execute(
        select(TaskFailure.task_name, func.count())
        .where(TaskFailure.status == FailureStatus.FAILED.value)
        .group_by(TaskFailure.task_name)
    )
    return {name: count for name, count in rows}


def claim_for_retry(*, session: Session, failure_ids: Sequence[int] | None) -> list[FailureView]:
    """Mark failures retried (all waiting ones when `failure_ids` is None) and return those this
    call marked: a failure re-driven twice at once is sent once."""
    query = (
        update(TaskFailure)
        .where(TaskFailure.status == FailureStatus.FAILED.value)
        .values(status=FailureStatus.RETRIED.value, retried_at=utcnow())
        .returning(TaskFailure)
    )
    if failure_ids is not None:
        query = query.where(TaskFailure.id.in_(list(failure_ids)))
    rows = session.scalars(query, execution_options={"synchronize_session": False}).all()
    return sorted((_failure_view(row) for row in rows), key=lambda view: view.id)


def _failure_view(row: TaskFailure) -> FailureView:
    return FailureView(
        id=row.id,
        task_id=row.task_id,
        task_name=row.task_name,
        queue=row.queue,
        kwargs=dict(row.kwargs),
        error_type=row.error_type,
        reason=row.reason,
        retries=row.retries,
        status=row.status,
        failed_at=as_utc(row.failed_at),
        retried_at=_maybe_utc(row.retried_at),
    )


def register_entries(*, session: Session, entries: Mapping[str, str]) -> None:
    """Entries (name → task) a beat schedules; one already known keeps its history."""
    if not entries:
        return
    now = utcnow()
    rows = [
        {
            "entry": name,
            "task_name": task,
            "registered_at": now,
            "fired_count": 0,
            "completed_count": 0,
        }
        for name, task in entries.items()
    ]
    statement = insert_for(session, ScheduleRun)
    session.execute(statement.on_conflict_do_nothing(index_elements=["entry"]), rows)


def record_fired(*, session: Session, entry: str, task_name: str) -> None:
    now = utcnow()
    statement = insert_for(session, ScheduleRun).values(
        entry=entry,
        task_name=task_name,
        registered_at=now,
        fired_count=1,
        completed_count=0,
        last_fired_at=now,
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["entry"],
            set_={
                "task_name": task_name,
                "fired_count": ScheduleRun.fired_count + 1,
                "last_fired_at": now,
            },
        )
    )


def record_started(*, session: Session, entry: str, task_name: str) -> None:
    statement = insert_for(session, ScheduleRun).values(
        entry=entry,
        task_name=task_name,
        registered_at=utcnow(),
        fired_count=0,
        completed_count=0,
        last_started_at=utcnow(),
    )
    # The outcome column keeps the last finished run's: a run in progress shows as running in
    # the view (started after it last finished), and the metric still says how the last one ended.
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["entry"], set_={"last_started_at": utcnow()}
        )
    )


def record_finished(*, session: Session, entry: str, outcome: str, detail: str | None) -> None:
    session.execute(
        update(ScheduleRun)
        .where(ScheduleRun.entry == entry)
        .values(
            last_finished_at=utcnow(),
            last_outcome=outcome,
            last_detail=None if detail is None else detail[:REASON_CHARS],
            completed_count=ScheduleRun.completed_count + 1,
        )
    )


def list_schedule_runs(*, session: Session) -> list[ScheduleRunView]:
    return [
        ScheduleRunView(
            entry=row.entry,
            task_name=row.task_name,
            registered_at=as_utc(row.registered_at),
            fired_count=row.fired_count,
            completed_count=row.completed_count,
            last_fired_at=_maybe_utc(row.last_fired_at),
            last_started_at=_maybe_utc(row.last_started_at),
            last_finished_at=_maybe_utc(row.last_finished_at),
            last_outcome="running" if _running(row) else row.last_outcome,
            last_detail=row.last_detail,
            last_finished_outcome=row.last_outcome,
        )
        for row in session.scalars(select(ScheduleRun).order_by(ScheduleRun.entry))
    ]


def _running(row: ScheduleRun) -> bool:
    started, finished = row.last_started_at, row.last_finished_at
    return started is not None and (finished is None or started > finished)


def store_findings(*, session: Session, findings: Sequence[tuple[str, bool, str]]) -> None:
    if not findings:
        return
    now = utcnow()
    rows = [{"part": p, "ok": ok, "detail": d, "checked_at": now} for p, ok, d in findings]
    statement = insert_for(session, HealthFinding)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["part"],
            set_={
                "ok": statement.excluded.ok,
                "detail": statement.excluded.detail,
                "checked_at": statement.excluded.checked_at,
            },
        ),
        rows,
    )


def list_findings(*, session: Session) -> list[FindingView]:
    return [
        FindingView(row.part, row.ok, row.detail, as_utc(row.checked_at))
        for row in session.scalars(select(HealthFinding).order_by(HealthFinding.part))
    ]


def statistics(*, session: Session) -> dict[str, int]:
    """The network's size and the pipeline's state, as flat counts."""
    from refnet.db.models import CrawlJob, Summary, VaultFile
    from refnet.db.queries.lookups import paper_counts

    counts = {f"papers_{state}": n for state, n in paper_counts(session=session).items()}
    counts["citations"] = counts.pop("papers_edges", 0)
    counts["authors"] = counts.pop("papers_authors", 0)
    for column, prefix in ((Summary.status, "summaries"), (CrawlJob.status, "jobs")):
        for status, n in session.execute(select(column, func.count()).group_by(column)):
            counts[f"{prefix}_{status}"] = n
    counts["vault_files"] = session.scalar(select(func.count()).select_from(VaultFile)) or 0
    counts["failed_tasks"] = sum(count_failures_by_task(session=session).values())
    return counts


def summary_counts(*, session: Session) -> dict[tuple[str, str], int]:
    """Summaries by (provider, status)."""
    from refnet.db.models import Summary

    rows = session.execute(
        select(Summary.provider, Summary.status, func.count()).group_by(
            Summary.provider, Summary.status
        )
    )
    return {(provider, status): count for provider, status, count in rows}
