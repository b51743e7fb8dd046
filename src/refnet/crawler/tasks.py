"""Crawler tasks: thin wrappers that call the service and hand off to the summarizer."""

from __future__ import annotations

from typing import Any

import structlog
from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded

from refnet.core.backoff import task_retry_delay
from refnet.core.config import get_settings
from refnet.core.errors import TransientError
from refnet.core.handoff import CRAWL_SEEDS, RECRAWL_WATCHED, SUMMARIZE_JOB, enqueue
from refnet.crawler.service import JobBusy, run_crawl
from refnet.crawler.watch import mark_recrawled, start_recrawls
from refnet.db.models import JobStatus
from refnet.db.queries.crawl import get_job
from refnet.db.session import session_scope
from refnet.sources.factory import open_source
from refnet.sources.semantic_scholar import SemanticScholarClient

log = structlog.get_logger(__name__)


@shared_task(name=CRAWL_SEEDS, bind=True)
def crawl_seeds(self: Task[..., Any], job_id: int) -> str:
    """Run (or resume) crawl job `job_id`, then queue summaries of what it collected.

    A paused job (the source stayed down, or asked us to wait longer than a worker should) is
    continued after the wait the source asked for: by a fresh task when this one got somewhere
    (a long crawl may pause many times), else by retrying this one (`refnet.worker.policies`).
    A job another process holds is tried again when that process's lease would run out, so a
    job whose worker died is never left behind; a job that has finished is only handed on.
    """
    settings = get_settings()
    url = settings.effective_database_url
    with session_scope(url) as session:
        job = get_job(session=session, job_id=job_id)
        source_name = job.source if job else None
    if source_name is None:
        log.warning("crawl_job_missing", job_id=job_id)
        return "missing"
    source = open_source(source_name, settings)
    try:
        outcome = run_crawl(job_id, database_url=url, source=source, runner=self.request.id)
    except JobBusy as exc:
        log.info("crawl_job_busy", job_id=job_id, reason=str(exc))
        raise TransientError(str(exc), retry_after=exc.retry_after) from exc
    except SoftTimeLimitExceeded:
        enqueue(CRAWL_SEEDS, job_id=job_id)  # the job is paused; a fresh task continues it
        return "continued"
    finally:
        source.close()
    if outcome.status == JobStatus.PAUSED and outcome.steps_done:
        enqueue(CRAWL_SEEDS, job_id=job_id, countdown=task_retry_delay(0, outcome.retry_after))
        return "paused"
    if outcome.status == JobStatus.PAUSED:
        raise TransientError(outcome.error or "crawl paused", retry_after=outcome.retry_after)
    if outcome.status == JobStatus.COMPLETED:
        mark_recrawled(database_url=url, job_id=job_id)
        enqueue(SUMMARIZE_JOB, job_id=job_id)
    return outcome.status


@shared_task(name=RECRAWL_WATCHED)
def recrawl_watched(batch: int = 50) -> dict[str, int]:
    """Queue the incremental crawl of up to `batch` watched seeds, longest unvisited first.

    Each seed's job is created once: a sweep that runs again before the job finished finds it
    and queues it again (a job is run by one worker at a time, so that costs nothing)."""
    settings = get_settings()
    jobs = start_recrawls(
        database_url=settings.effective_database_url,
        source_name=SemanticScholarClient.name,
        max_papers=settings.crawl.max_papers,
        limit=batch,
    )
    for job_id, _ in jobs:
        enqueue(CRAWL_SEEDS, job_id=job_id)
    started = sum(not existing for _, existing in jobs)
    log.info("recrawls_queued", jobs=len(jobs), new=started)
    return {"jobs": len(jobs), "new": started}
