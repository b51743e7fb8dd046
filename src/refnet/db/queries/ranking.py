"""Ranking a crawl's candidates: stored scores, kept fresh for the candidates marked stale."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, select, union, update
from sqlalchemy import text as sa_text
from sqlalchemy.orm import Session, aliased

from refnet.core.batching import chunks
from refnet.db.models import Citation, FrontierEntry, FrontierState, Paper
from refnet.db.queries._dialect import binary_order, member_of
from refnet.db.queries.crawl import FRONTIER, IN_FRONTIER


@dataclass(frozen=True, slots=True)
class CandidateRow:
    paper_id: int
    s2_id: str
    depth: int
    citation_count: int | None
    influential_citation_count: int | None
    score: float = 0.0


def set_frontier_scores(*, session: Session, job_id: int, scores: dict[int, float]) -> None:
    """Store fresh scores (no longer stale)."""
    if not scores:
        return
    statement = (
        update(FRONTIER)
        .where(FRONTIER.c.job_id == job_id, FRONTIER.c.paper_id == bindparam("pid"))
        .values(score=bindparam("new_score"), stale=False)
    )
    session.connection().execute(
        statement, [{"pid": pid, "new_score": score} for pid, score in sorted(scores.items())]
    )


def mark_neighbours_stale(*, session: Session, job_id: int, paper_ids: Iterable[int]) -> None:
    """Candidates joined by an edge to these papers (just collected) need a new score."""
    ids = sorted(paper_ids)
    for condition_cited, condition_citing in zip(
        member_of(session, Citation.citing_id, ids),
        member_of(session, Citation.cited_id, ids),
        strict=True,
    ):
        neighbours = union(
            select(Citation.cited_id).where(condition_cited),
            select(Citation.citing_id).where(condition_citing),
        ).subquery()
        session.execute(
            update(FrontierEntry)
            .where(
                FrontierEntry.job_id == job_id,
                FrontierEntry.state == FrontierState.CANDIDATE.value,
                FrontierEntry.paper_id.in_(select(neighbours.c[0])),
            )
            .values(stale=True)
            .execution_options(synchronize_session=False)
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


def _candidates(job_id: int) -> Any:
    return (
        select(
            Paper.id,
            Paper.s2_id,
            FrontierEntry.depth,
            Paper.citation_count,
            Paper.influential_citation_count,
            FrontierEntry.score,
        )
        .join(Paper, Paper.id == FrontierEntry.paper_id)
        .where(
            FrontierEntry.job_id == job_id,
            FrontierEntry.state == FrontierState.CANDIDATE.value,
        )
    )


def stale_candidates(*, session: Session, job_id: int) -> list[CandidateRow]:
    rows = session.execute(_candidates(job_id).where(FrontierEntry.stale.is_(True)))
    return [CandidateRow(*row) for row in rows]


def best_candidates(*, session: Session, job_id: int, limit: int) -> list[CandidateRow]:
    """The candidates with the highest stored scores; ties go to the smaller S2 id."""
    statement = (
        _candidates(job_id)
        .order_by(FrontierEntry.score.desc(), binary_order(session, Paper.s2_id))
        .limit(limit)
    )
    return [CandidateRow(*row) for row in session.execute(statement)]


def refresh_statistics(*, session: Session) -> None:
    """Let PostgreSQL's planner see how far a crawl has grown the tables.

    A crawl grows its tables faster than autovacuum re-analyzes them; with stale row estimates
    the planner picks nested loops for `links_to_collected` that take seconds instead of
    milliseconds.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa_text("ANALYZE papers, crawl_frontier, citations"))


def links_to_collected(
    *, session: Session, job_id: int, stale_only: bool = False
) -> dict[int, int]:
    """For each candidate (each stale one), how many edges join it to papers the job has
    collected."""
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
                *([candidate.stale.is_(True)] if stale_only else []),
            )
            .group_by(candidate.paper_id)
        )
        for paper_id, count in rows:
            counts[paper_id] = counts.get(paper_id, 0) + count
    return counts
