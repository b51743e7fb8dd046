"""Crawl jobs and their frontier."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import BindParameter, Integer, Table, bindparam, case, func, select, true, update
from sqlalchemy.orm import Session, aliased

from refnet.core.batching import chunks
from refnet.core.errors import RefNetError
from refnet.db.base import as_utc, utcnow
from refnet.db.models import (
    Citation,
    CrawlJob,
    CrawlState,
    FrontierEntry,
    FrontierState,
    JobStatus,
    Paper,
    WatchedSeed,
)
from refnet.db.queries._dialect import binary_order, hold_advisory_lock, insert_rows

# The process running a crawl job renews its lease at every step; silent for longer than this, it
# has lost the job to the next process that asks (and a restore no longer counts it as writing).
JOB_LEASE = timedelta(minutes=10)

FRONTIER = cast(Table, FrontierEntry.__table__)
IN_FRONTIER = (FrontierState.COLLECTED.value, FrontierState.EXPANDED.value)
UNFINISHED = (JobStatus.PENDING.value, JobStatus.RUNNING.value, JobStatus.PAUSED.value)


class LeaseLost(RefNetError):
    """Another process took over the crawl job (this one was silent longer than the lease)."""


@dataclass(frozen=True, slots=True)
class ExpandableRow:
    paper_id: int
    s2_id: str
    depth: int
    is_seed: bool


def create_job(
    *, session: Session, seeds: Sequence[str], params: dict[str, Any], source: str, kind: str
) -> CrawlJob:
    job = CrawlJob(seeds=list(seeds), params=params, source=source, kind=kind)
    session.add(job)
    session.flush()
    return job


def get_job(*, session: Session, job_id: int, for_update: bool = False) -> CrawlJob | None:
    """The job; with `for_update`, row-locked until the transaction ends (PostgreSQL)."""
    return session.get(CrawlJob, job_id, with_for_update=for_update)


def find_unfinished_job(
    *, session: Session, seeds: Sequence[str], params: dict[str, Any], source: str, kind: str
) -> CrawlJob | None:
    """The newest unfinished job with exactly these seeds, parameters and source."""
    jobs = session.scalars(
        select(CrawlJob)
        .where(CrawlJob.status.in_(UNFINISHED), CrawlJob.source == source, CrawlJob.kind == kind)
        .order_by(CrawlJob.id.desc())
    )
    return next((j for j in jobs if j.seeds == list(seeds) and j.params == params), None)


def hold_lease(*, session: Session, job_id: int, runner: str) -> None:
    """Renew the job's lease for `runner` and lock the job row until the transaction ends;
    LeaseLost when another process has taken the job over."""
    result = session.execute(
        update(CrawlJob)
        .where(
            CrawlJob.id == job_id,
            CrawlJob.runner == runner,
            CrawlJob.status == JobStatus.RUNNING.value,
        )
        .values(heartbeat_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if not getattr(result, "rowcount", 0):
        raise LeaseLost(f"crawl job {job_id} was taken over by another process")


WRITE_TURN_LOCK = 0x7265666E  # "refn": the advisory lock crawl steps take turns with


def take_write_turn(*, session: Session) -> None:
    """Wait for the other crawls' steps to commit, and hold the turn until this one does
    (PostgreSQL; SQLite has one writer at a time anyway)."""
    hold_advisory_lock(session, WRITE_TURN_LOCK)


def list_watched_seeds(
    *, session: Session, limit: int | None = None
) -> list[tuple[int, str, datetime]]:
    """Active watched seeds as (watch id, S2 id, crawled last), longest unvisited first."""
    last = func.coalesce(WatchedSeed.last_crawled_at, Paper.expanded_at, WatchedSeed.created_at)
    rows = session.execute(
        select(WatchedSeed.id, Paper.s2_id, last)
        .join(Paper, Paper.id == WatchedSeed.paper_id)
        .where(WatchedSeed.active)
        .order_by(last, WatchedSeed.id)
        .limit(limit)
    )
    return [(watch_id, s2_id, as_utc(last)) for watch_id, s2_id, last in rows]


def list_jobs(*, session: Session, limit: int = 20) -> list[CrawlJob]:
    return list(session.scalars(select(CrawlJob).order_by(CrawlJob.id.desc()).limit(limit)))


def add_to_frontier(
    *,
    session: Session,
    job_id: int,
    depths: dict[int, int],
    state: FrontierState = FrontierState.CANDIDATE,
    is_seed: bool = False,
) -> None:
    """Add papers at a depth; a paper already present keeps the smaller depth. Either way its
    score is stale: a new depth or a new edge to a collected paper may change it."""
    now = utcnow()
    rows = [
        {
            "job_id": job_id,
            "paper_id": paper_id,
            "depth": depth,
            "score": 0.0,
            "state": state.value,
            "is_seed": is_seed,
            "stale": True,
            "updated_at": now,
        }
        for paper_id, depth in sorted(depths.items())  # key order, as every batch write
    ]
    insert_rows(
        session,
        FrontierEntry,
        rows,
        on_conflict=lambda statement: statement.on_conflict_do_update(
            index_elements=["job_id", "paper_id"],
            set_={
                "depth": case(
                    (statement.excluded.depth < FRONTIER.c.depth, statement.excluded.depth),
                    else_=FRONTIER.c.depth,
                ),
                "is_seed": FRONTIER.c.is_seed | statement.excluded.is_seed,
                "stale": true(),
            },
        ),
    )


def set_frontier_state(
    *,
    session: Session,
    job_id: int,
    paper_ids: Iterable[int],
    state: FrontierState,
    only_from: Sequence[FrontierState] = (),
) -> None:
    """Move papers to `state`; with `only_from`, only those currently in one of those states."""
    for part in chunks(sorted(paper_ids), 500):
        statement = update(FrontierEntry).where(
            FrontierEntry.job_id == job_id, FrontierEntry.paper_id.in_(part)
        )
        if only_from:
            statement = statement.where(FrontierEntry.state.in_([s.value for s in only_from]))
        session.execute(statement.values(state=state.value, updated_at=utcnow()))


def count_frontier(*, session: Session, job_id: int, states: Sequence[str]) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(FrontierEntry)
            .where(FrontierEntry.job_id == job_id, FrontierEntry.state.in_(states))
        )
        or 0
    )


def next_expandable(*, session: Session, job_id: int, max_depth: int) -> ExpandableRow | None:
    """The most promising collected paper not yet expanded (seeds first)."""
    row = session.execute(
        select(Paper.id, Paper.s2_id, FrontierEntry.depth, FrontierEntry.is_seed)
        .join(Paper, Paper.id == FrontierEntry.paper_id)
        .where(
            FrontierEntry.job_id == job_id,
            FrontierEntry.state == FrontierState.COLLECTED.value,
            FrontierEntry.depth < max_depth,
        )
        .order_by(
            FrontierEntry.is_seed.desc(),
            FrontierEntry.depth,
            FrontierEntry.score.desc(),
            binary_order(session, Paper.s2_id),
        )
        .limit(1)
    ).first()
    return ExpandableRow(*row) if row else None


def reference_ids(*, session: Session, paper_id: int, limit: int) -> list[int]:
    """The stored references of a paper, most cited first."""
    rows = session.scalars(
        select(Citation.cited_id)
        .join(Paper, Paper.id == Citation.cited_id)
        .where(Citation.citing_id == paper_id)
        .order_by(Paper.citation_count.desc().nulls_last(), Paper.s2_id)
        .limit(limit)
    )
    return list(rows)


def job_edge_count(*, session: Session, job_id: int) -> int:
    """Edges among the papers this job collected."""
    citing, cited = aliased(FrontierEntry), aliased(FrontierEntry)
    return (
        session.scalar(
            select(func.count())
            .select_from(Citation)
            .join(
                citing,
                (citing.paper_id == Citation.citing_id)
                & (citing.job_id == job_id)
                & citing.state.in_(IN_FRONTIER),
            )
            .join(
                cited,
                (cited.paper_id == Citation.cited_id)
                & (cited.job_id == job_id)
                & cited.state.in_(IN_FRONTIER),
            )
        )
        or 0
    )


# -- a paper's place in the crawls ----------------------------------------------------------


def mark_expanded(*, session: Session, paper_id: int) -> None:
    now = utcnow()
    session.execute(
        update(Paper)
        .where(Paper.id == paper_id)
        .values(crawl_state=CrawlState.EXPANDED.value, expanded_at=now)
    )


def set_crawl_position(*, session: Session, positions: dict[int, tuple[int, float | None]]) -> None:
    """Record each paper's smallest depth from any seed and its latest crawl priority."""
    if not positions:
        return
    table = cast(Table, Paper.__table__)
    depth: BindParameter[int] = bindparam("new_depth", type_=Integer())
    statement = (
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values(
            depth=case(
                ((table.c.depth.is_(None)) | (table.c.depth > depth), depth),
                else_=table.c.depth,
            ),
            priority=func.coalesce(bindparam("new_priority"), table.c.priority),
        )
    )
    rows = [
        {"row_id": pid, "new_depth": d, "new_priority": p}
        for pid, (d, p) in sorted(positions.items())  # id order, as in the other updates
    ]
    session.connection().execute(statement, rows)


JOB_CREATION_LOCK = 0x72656663  # "refc": one find-or-create of a crawl job at a time


def lock_job_creation(*, session: Session) -> None:
    """Hold off other find-or-create calls until this transaction ends, so two identical
    requests never both create a job (PostgreSQL; SQLite has one writer at a time anyway)."""
    hold_advisory_lock(session, JOB_CREATION_LOCK)


def fail_unstarted_job(*, session: Session, job_id: int, reason: str) -> None:
    """Fail a job no runner has taken yet (its task could not be queued)."""
    session.execute(
        update(CrawlJob)
        .where(CrawlJob.id == job_id, CrawlJob.status == JobStatus.PENDING.value)
        .values(status=JobStatus.FAILED.value, error=reason, updated_at=utcnow())
    )
