"""Crawl jobs and their frontier."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, func, select, update
from sqlalchemy import text as sa_text
from sqlalchemy.orm import Session, aliased

from refnet.core.batching import chunks
from refnet.db.base import utcnow
from refnet.db.models import Citation, CrawlJob, FrontierEntry, FrontierState, JobStatus, Paper
from refnet.db.queries._dialect import insert_rows

FRONTIER = cast(Table, FrontierEntry.__table__)
IN_FRONTIER = (FrontierState.COLLECTED.value, FrontierState.EXPANDED.value)
UNFINISHED = (JobStatus.PENDING.value, JobStatus.RUNNING.value, JobStatus.PAUSED.value)


@dataclass(frozen=True, slots=True)
class CandidateRow:
    paper_id: int
    s2_id: str
    depth: int
    citation_count: int | None
    influential_citation_count: int | None


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
    """Add papers at a depth; a paper already present keeps the smaller depth."""
    now = utcnow()
    rows = [
        {
            "job_id": job_id,
            "paper_id": paper_id,
            "depth": depth,
            "score": 0.0,
            "state": state.value,
            "is_seed": is_seed,
            "updated_at": now,
        }
        for paper_id, depth in depths.items()
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
    for part in chunks(list(paper_ids), 500):
        statement = update(FrontierEntry).where(
            FrontierEntry.job_id == job_id, FrontierEntry.paper_id.in_(part)
        )
        if only_from:
            statement = statement.where(FrontierEntry.state.in_([s.value for s in only_from]))
        session.execute(statement.values(state=state.value, updated_at=utcnow()))


def set_frontier_scores(*, session: Session, job_id: int, scores: dict[int, float]) -> None:
    if not scores:
        return
    statement = (
        update(FRONTIER)
        .where(FRONTIER.c.job_id == job_id, FRONTIER.c.paper_id == bindparam("pid"))
        .values(score=bindparam("new_score"))
    )
    session.connection().execute(
        statement, [{"pid": pid, "new_score": score} for pid, score in scores.items()]
    )


def frontier_scores(*, session: Session, job_id: int, paper_ids: Iterable[int]) -> dict[int, float]:
    found: dict[int, float] = {}
    for part in chunks(list(paper_ids), 500):
        rows = session.execute(
            select(FrontierEntry.paper_id, FrontierEntry.score).where(
                FrontierEntry.job_id == job_id, FrontierEntry.paper_id.in_(part)
            )
        )
        found.update(rows.all())
    return found


def count_frontier(*, session: Session, job_id: int, states: Sequence[str]) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(FrontierEntry)
            .where(FrontierEntry.job_id == job_id, FrontierEntry.state.in_(states))
        )
        or 0
    )


def list_candidates(*, session: Session, job_id: int) -> list[CandidateRow]:
    rows = session.execute(
        select(
            Paper.id,
            Paper.s2_id,
            FrontierEntry.depth,
            Paper.citation_count,
            Paper.influential_citation_count,
        )
        .join(Paper, Paper.id == FrontierEntry.paper_id)
        .where(
            FrontierEntry.job_id == job_id,
            FrontierEntry.state == FrontierState.CANDIDATE.value,
        )
    )
    return [CandidateRow(*row) for row in rows]


def refresh_statistics(*, session: Session) -> None:
    """Let PostgreSQL's planner see how far a crawl has grown the tables.

    A crawl grows its tables faster than autovacuum re-analyzes them; with stale row estimates
    the planner picks nested loops for `links_to_collected` that take seconds instead of
    milliseconds.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa_text("ANALYZE papers, crawl_frontier, citations"))


def links_to_collected(*, session: Session, job_id: int) -> dict[int, int]:
    """For each candidate, how many edges join it to papers the job has collected."""
    candidate, collected = aliased(FrontierEntry), aliased(FrontierEntry)
    counts: dict[int, int] = {}
    for near, far in (
        (Citation.cited_id, Citation.citing_id),
        (Citation.citing_id, Citation.cited_id),
    ):
        rows = session.execute(
            select(candidate.paper_id, func.count())
            .join(Citation, near == candidate.paper_id)
            .join(
                collected,
                (collected.paper_id == far)
                & (collected.job_id == job_id)
                & collected.state.in_(IN_FRONTIER),
            )
            .where(
                candidate.job_id == job_id,
                candidate.state == FrontierState.CANDIDATE.value,
            )
            .group_by(candidate.paper_id)
        )
        for paper_id, count in rows:
            counts[paper_id] = counts.get(paper_id, 0) + count
    return counts


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
            Paper.s2_id,
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
