"""Crawler tasks: thin wrappers that call the service and hand off to the summarizer."""

from __future__ import annotations

import structlog
from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from refnet.core.backoff import task_retry_delay
from refnet.core.config import get_settings
from refnet.core.errors import TransientError
from refnet.core.handoff import CRAWL_SEEDS, SUMMARIZE_JOB, enqueue
from refnet.crawler.service import JobBusy, run_crawl
from refnet.db.models import JobStatus
from refnet.db.queries.crawl import get_job
from refnet.db.session import session_scope
from refnet.sources.factory import open_source

log = structlog.get_logger(__name__)


@shared_task(name=CRAWL_SEEDS)
def crawl_seeds(job_id: int) -> str:
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
        outcome = run_crawl(job_id, database_url=url, source=source)
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
        enqueue(SUMMARIZE_JOB, job_id=job_id)
    return outcome.status
