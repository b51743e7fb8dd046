"""Summarizer tasks: sweeps that queue small chunks, and the chunk task that summarizes.

A chunk never stops at one paper's failure: each paper's outcome is its own, a paper that failed
for a passing reason is queued again by itself after its countdown, and the vault update is asked
for whatever happened. At the soft time limit the papers not yet done go to a fresh task.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import structlog
from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded

from refnet.core.config import Settings, get_settings
from refnet.core.handoff import (
    SUMMARIZE_JOB,
    SUMMARIZE_PAPERS,
    SUMMARIZE_PENDING,
    enqueue,
    request_vault_update,
)
from refnet.db.queries.summaries import papers_needing_summary
from refnet.db.queries.task_requests import tracked
from refnet.db.session import session_scope
from refnet.summarizer.factory import make_summarizer
from refnet.summarizer.outcome import RETRY

log = structlog.get_logger(__name__)


def _queue_chunks(paper_ids: list[int]) -> int:
    size = get_settings().summarizer.papers_per_task
    for start in range(0, len(paper_ids), size):
        enqueue(SUMMARIZE_PAPERS, paper_ids=paper_ids[start : start + size])
    if not paper_ids:
        request_vault_update()  # nothing to summarize, but the crawl changed the network
    return len(paper_ids)


@shared_task(name=SUMMARIZE_JOB)
def summarize_job(job_id: int) -> int:
    """Queue summaries of the papers crawl job `job_id` collected."""
    summarizer = make_summarizer(get_settings(), fetch_pdfs=False)
    with session_scope(summarizer.database_url) as session:
        ids = papers_needing_summary(session=session, key=summarizer.key, job_id=job_id)
    return _queue_chunks(ids)


@shared_task(name=SUMMARIZE_PENDING)
def summarize_pending(batch: int | None = None) -> int:
    """Queue summaries of vault papers without one (failed and deferred ones included, and
    those made from the abstract whose PDF is due another try): the `batch` oldest, else all."""
    summarizer = make_summarizer(get_settings(), fetch_pdfs=False)
    with session_scope(summarizer.database_url) as session:
        ids = papers_needing_summary(session=session, key=summarizer.key, limit=batch)
    return _queue_chunks(ids)


@shared_task(name=SUMMARIZE_PAPERS, bind=True)
def summarize_papers(
    self: Task[..., Any], paper_ids: list[int], request_id: int | None = None
) -> dict[str, int]:
    """Summarize a few papers, then ask for a vault update. `request_id`: the API request this
    answers, marked running, then done or failed."""
    settings = get_settings()
    with tracked(settings.effective_database_url, request_id):
        return _summarize_papers(settings, paper_ids, claimer=self.request.id)


def _summarize_papers(
    settings: Settings, paper_ids: list[int], *, claimer: str | None
) -> dict[str, int]:
    summarizer = make_summarizer(settings)
    summarizer.claimer = claimer
    outcomes: Counter[str] = Counter()
    retries: dict[int, float] = {}
    remaining = list(paper_ids)
    try:
        while remaining:
            outcome = summarizer.summarize(remaining[0])
            if outcome.status == RETRY:
                retries[remaining[0]] = outcome.retry_in or 0.0
            outcomes[outcome.status] += 1
            remaining.pop(0)
    except SoftTimeLimitExceeded:
        log.warning("summary_chunk_continued", papers_left=len(remaining))
        enqueue(SUMMARIZE_PAPERS, paper_ids=remaining)
    finally:
        summarizer.close()
        for paper_id, countdown in retries.items():
            enqueue(SUMMARIZE_PAPERS, paper_ids=[paper_id], countdown=countdown)
        request_vault_update()
    log.info("papers_summarized", **outcomes)
    return dict(outcomes)
