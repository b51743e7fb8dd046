"""Summarizer tasks: sweeps that queue small chunks, and the chunk task that summarizes."""

from __future__ import annotations

import structlog
from celery import shared_task

from refnet.core.config import get_settings
from refnet.core.tasks import (
    SUMMARIZE_JOB,
    SUMMARIZE_PAPERS,
    SUMMARIZE_PENDING,
    SUMMARIZE_POLICY,
    SWEEP_POLICY,
    enqueue,
    request_vault_update,
)
from refnet.db.queries.summaries import papers_needing_summary
from refnet.db.session import session_scope
from refnet.summarizer.factory import make_summarizer

log = structlog.get_logger(__name__)


def _queue_chunks(paper_ids: list[int]) -> int:
    size = get_settings().summarizer.papers_per_task
    for start in range(0, len(paper_ids), size):
        enqueue(SUMMARIZE_PAPERS, paper_ids=paper_ids[start : start + size])
    if not paper_ids:
        request_vault_update()  # nothing to summarize, but the crawl changed the network
    return len(paper_ids)


@shared_task(name=SUMMARIZE_JOB, **SWEEP_POLICY)
def summarize_job(job_id: int) -> int:
    """Queue summaries of the papers crawl job `job_id` collected."""
    summarizer = make_summarizer(get_settings(), fetch_pdfs=False)
    with session_scope(summarizer.database_url) as session:
        ids = papers_needing_summary(session=session, key=summarizer.key, job_id=job_id)
    return _queue_chunks(ids)


@shared_task(name=SUMMARIZE_PENDING, **SWEEP_POLICY)
def summarize_pending() -> int:
    """Queue summaries of every vault paper without one (failed and deferred ones included)."""
    summarizer = make_summarizer(get_settings(), fetch_pdfs=False)
    with session_scope(summarizer.database_url) as session:
        ids = papers_needing_summary(session=session, key=summarizer.key)
    return _queue_chunks(ids)


@shared_task(name=SUMMARIZE_PAPERS, **SUMMARIZE_POLICY)
def summarize_papers(paper_ids: list[int]) -> dict[str, int]:
    """Summarize a few papers, then ask for a vault update."""
    summarizer = make_summarizer(get_settings())
    outcomes: dict[str, int] = {}
    try:
        for paper_id in paper_ids:
            status = summarizer.summarize(paper_id)
            outcomes[status] = outcomes.get(status, 0) + 1
    finally:
        if summarizer.fetcher is not None:
            summarizer.fetcher.close()
    request_vault_update()
    log.info("papers_summarized", **outcomes)
    return outcomes
