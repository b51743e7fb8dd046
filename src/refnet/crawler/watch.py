"""Watched seeds: stored papers whose new citations are collected by incremental re-crawls."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import or_, select, update

from refnet.core.errors import InvalidInput
from refnet.core.ids import parse_paper_id
from refnet.crawler.params import CrawlOutcome, CrawlParams
from refnet.crawler.service import run_crawl, start_crawl
from refnet.db.base import utcnow
from refnet.db.models import CrawlJob, JobKind, JobStatus, Paper, WatchedSeed
from refnet.db.queries._dialect import insert_for
from refnet.db.queries.crawl import list_watched_seeds
from refnet.db.queries.lookups import lookup_paper
from refnet.db.session import session_scope
from refnet.sources.base import PaperSource

# Listings by publication date miss papers indexed late; look back a little past the last run.
LOOKBACK = timedelta(days=7)


def watch_seeds(*, database_url: str, seeds: Sequence[str]) -> int:
    """Watch stored papers; InvalidInput naming any seed that is not stored yet."""
    refs = [parse_paper_id(seed) for seed in seeds]
    with session_scope(database_url) as session:
        papers = [lookup_paper(session=session, api_id=r.api_id, title=r.title) for r in refs]
        unknown = [r.raw for r, p in zip(refs, papers, strict=True) if p is None]
        if unknown:
            raise InvalidInput(f"not stored yet, crawl them first: {', '.join(unknown)}")
        rows = [
            {"paper_id": p.id, "params": {}, "active": True, "created_at": utcnow()}
            for p in papers
            if p is not None
        ]
        statement = insert_for(session, WatchedSeed)
        session.execute(
            statement.on_conflict_do_update(index_elements=["paper_id"], set_={"active": True}),
            rows,
        )
        return len(rows)


def start_recrawls(
    *, database_url: str, source_name: str, max_papers: int, limit: int | None = None
) -> list[tuple[int, bool]]:
    """One incremental job per active watched seed (the `limit` longest unvisited): citations
    published since its last crawl. A seed whose job has not finished yet gets that job again
    (job, True) rather than a second one."""
    with session_scope(database_url) as session:
        watched = list_watched_seeds(session=session, limit=limit)
    jobs = []
    for _, s2_id, last in watched:
        since = (last - LOOKBACK).date().isoformat()
        params = CrawlParams(max_depth=1, max_papers=max_papers, published_since=f"{since}:")
        jobs.append(
            start_crawl(
                database_url=database_url,
                seeds=[s2_id],
                params=params,
                source_name=source_name,
                kind=JobKind.INCREMENTAL,
            )
        )
    return jobs


def mark_recrawled(*, database_url: str, job_id: int) -> None:
    """After an incremental job completed: its seeds were crawled as of the job's start, so the
    next re-crawl asks only for citations published since then."""
    with session_scope(database_url) as session:
        job = session.get(CrawlJob, job_id)
        if job is None or job.kind != JobKind.INCREMENTAL or job.status != JobStatus.COMPLETED:
            return
        crawled_at = job.started_at or job.created_at
        session.execute(
            update(WatchedSeed)
            .where(
                WatchedSeed.paper_id.in_(select(Paper.id).where(Paper.s2_id.in_(job.seed_ids))),
                or_(
                    WatchedSeed.last_crawled_at.is_(None), WatchedSeed.last_crawled_at < crawled_at
                ),
            )
            .values(last_crawled_at=crawled_at)
        )


def recrawl_watched(
    *, database_url: str, source: PaperSource, max_papers: int
) -> list[CrawlOutcome]:
    """Run the incremental job of every active watched seed here, one after another."""
    outcomes = []
    for job_id, _ in start_recrawls(
        database_url=database_url, source_name=source.name, max_papers=max_papers
    ):
        outcome = run_crawl(job_id, database_url=database_url, source=source)
        mark_recrawled(database_url=database_url, job_id=job_id)
        outcomes.append(outcome)
    return outcomes
