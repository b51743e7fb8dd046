"""Crawl jobs and watched seeds as the API shows them: dicts of plain values, times in UTC.

Watching is a flag: unwatching keeps the row (inactive) with its last crawl time, so watching
the paper again carries on from there; `list_seeds` shows inactive seeds with `active: false`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from refnet.core.errors import InvalidInput
from refnet.db.base import as_utc, utcnow
from refnet.db.models import CrawlJob, JobStatus, Paper, WatchedSeed
from refnet.db.queries._dialect import insert_for
from refnet.db.queries.browse import check_page_size, is_row_id

JOB_STATUSES = tuple(status.value for status in JobStatus)


def list_jobs(
    *, session: Session, status: str | None = None, limit: int, offset: int
) -> tuple[int, list[dict[str, Any]]]:
    """(how many jobs have `status` or any status, one page of them newest first)."""
    if status is not None and status not in JOB_STATUSES:
        raise InvalidInput(f"unknown status {status!r}; accepted: {', '.join(JOB_STATUSES)}")
    check_page_size(limit, offset)
    conditions = [CrawlJob.status == status] if status is not None else []
    jobs = session.scalars(
        select(CrawlJob).where(*conditions).order_by(CrawlJob.id.desc()).limit(limit).offset(offset)
    ).all()
    total = session.scalar(select(func.count()).select_from(CrawlJob).where(*conditions)) or 0
    return total, [_job(job) for job in jobs]


def job_view(*, session: Session, job_id: int) -> dict[str, Any] | None:
    """One crawl job, or None when there is no such job."""
    job = session.get(CrawlJob, job_id) if is_row_id(job_id) else None
    return _job(job) if job is not None else None


def _job(job: CrawlJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "seeds": list(job.seeds or []),  # as the user gave them
        "seed_ids": list(job.seed_ids or []),  # the S2 ids they resolved to
        "params": dict(job.params or {}),
        "source": job.source,
        "error": job.error,
        "progress": {
            "papers_collected": job.papers_collected,
            "papers_expanded": job.papers_expanded,
            "edges_stored": job.edges_stored,
            "requests_made": job.requests_made,
        },
        "created_at": as_utc(job.created_at),
        "updated_at": as_utc(job.updated_at),
        "started_at": _utc(job.started_at),
        "finished_at": _utc(job.finished_at),
        "heartbeat_at": _utc(job.heartbeat_at),  # the running process's last sign of life
    }


def _utc(value: Any) -> Any:
    return as_utc(value) if value is not None else None


_SEED_COLUMNS = (
    WatchedSeed.id,
    WatchedSeed.paper_id,
    Paper.s2_id,
    Paper.title,
    WatchedSeed.active,
    WatchedSeed.params,
    WatchedSeed.created_at,
    # When its citations were last listed: by a re-crawl, else by the crawl that collected it.
    func.coalesce(WatchedSeed.last_crawled_at, Paper.expanded_at).label("last_crawled_at"),
)


def list_seeds(*, session: Session) -> list[dict[str, Any]]:
    """Every watched seed, active or not, in the order they were first watched."""
    rows = session.execute(
        select(*_SEED_COLUMNS)
        .join(Paper, Paper.id == WatchedSeed.paper_id)
        .order_by(WatchedSeed.id)
    )
    return [_seed(row) for row in rows]


def seed_view(*, session: Session, seed_id: int) -> dict[str, Any] | None:
    """One watched seed, or None when there is no such seed."""
    if not is_row_id(seed_id):
        return None
    row = session.execute(
        select(*_SEED_COLUMNS)
        .join(Paper, Paper.id == WatchedSeed.paper_id)
        .where(WatchedSeed.id == seed_id)
    ).first()
    return _seed(row) if row is not None else None


def _seed(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "paper_id": row.paper_id,
        "s2_id": row.s2_id,
        "title": row.title,
        "active": bool(row.active),
        "params": dict(row.params or {}),
        "created_at": as_utc(row.created_at),
        "last_crawled_at": _utc(row.last_crawled_at),
    }


def watch_seed(
    *, session: Session, paper_id: int, params: dict[str, Any] | None = None
) -> tuple[dict[str, Any], bool]:
    """Watch a stored paper (the caller found it); watching it again makes it active again
    (and replaces its params when given). Returns (the seed, whether it is newly watched:
    False when it was already active)."""
    was_active = session.scalar(select(WatchedSeed.active).where(WatchedSeed.paper_id == paper_id))
    statement = insert_for(session, WatchedSeed)
    changes: dict[str, Any] = {"active": True}
    if params is not None:
        changes["params"] = statement.excluded.params
    session.execute(
        statement.on_conflict_do_update(index_elements=["paper_id"], set_=changes),
        [{"paper_id": paper_id, "params": params or {}, "active": True, "created_at": utcnow()}],
    )
    seed_id = session.scalar(select(WatchedSeed.id).where(WatchedSeed.paper_id == paper_id))
    assert seed_id is not None, f"no watched seed for paper {paper_id} after watching it"
    seed = seed_view(session=session, seed_id=seed_id)
    assert seed is not None
    return seed, not was_active


def unwatch_seed(*, session: Session, seed_id: int) -> bool:
    """Stop watching a seed (kept, inactive); False when no seed with this id is watched."""
    if not is_row_id(seed_id):
        return False
    result = session.execute(
        update(WatchedSeed)
        .where(WatchedSeed.id == seed_id, WatchedSeed.active.is_(True))
        .values(active=False)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))
