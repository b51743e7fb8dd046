"""Watched seeds: stored papers whose new citations are collected by incremental re-crawls."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from refnet.core.errors import InvalidInput
from refnet.core.ids import parse_paper_id
from refnet.crawler.params import CrawlOutcome, CrawlParams
from refnet.crawler.service import run_crawl, start_crawl
from refnet.db.base import utcnow
from refnet.db.models import JobKind, JobStatus, WatchedSeed
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


def recrawl_watched(
    *, database_url: str, source: PaperSource, max_papers: int
) -> list[CrawlOutcome]:
    """One incremental job per active watched seed: citations published since its last crawl."""
    with session_scope(database_url) as session:
        watched = list_watched_seeds(session=session)
    outcomes = []
    for watch_id, s2_id, last in watched:
        since = (last - LOOKBACK).date().isoformat()
        params = CrawlParams(max_depth=1, max_papers=max_papers, published_since=f"{since}:")
        job_id, _ = start_crawl(
            database_url=database_url,
            seeds=[s2_id],
            params=params,
            source_name=source.name,
            kind=JobKind.INCREMENTAL,
        )
        started = utcnow()
        outcome = run_crawl(job_id, database_url=database_url, source=source)
        if outcome.status == JobStatus.COMPLETED:
            with session_scope(database_url) as session:
                seed = session.get(WatchedSeed, watch_id)
                if seed is not None:
                    seed.last_crawled_at = started
        outcomes.append(outcome)
    return outcomes
