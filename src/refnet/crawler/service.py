"""Best-first crawl of the citation network around seed papers.

A job alternates two steps until it has `max_papers` papers or nothing is left to do:
- expand the best collected paper closer than `max_depth` to a seed: list its citations (one
  request) and queue citing papers and references one hop further out;
- collect the best queued candidates (see `scoring`) with one batch request of up to 500 ids,
  which brings their metadata and reference ids.
Collection waits until a full batch is queued, so requests stay few: one citations listing per
expanded paper and one batch request per 500 collected papers. How one process runs a job (its
lease, its transactions, requests sent ahead) is `run.JobRun`.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from refnet.core.errors import PermanentError, TransientError
from refnet.crawler.params import CrawlOutcome, CrawlParams
from refnet.crawler.run import JobBusy, JobRun, ProgressCallback
from refnet.db.models import JobKind, JobStatus
from refnet.db.queries import crawl as crawl_q
from refnet.db.queries.crawl import LeaseLost
from refnet.db.session import session_scope
from refnet.sources.base import PaperSource

__all__ = ["JobBusy", "run_crawl", "start_crawl"]
log = structlog.get_logger(__name__)


def start_crawl(
    *,
    database_url: str,
    seeds: Sequence[str],
    params: CrawlParams,
    source_name: str,
    kind: JobKind = JobKind.FULL,
) -> tuple[int, bool]:
    """The job to run for these seeds: an unfinished identical one (resumed) or a new one."""
    with session_scope(database_url) as session:
        crawl_q.lock_job_creation(session=session)
        existing = crawl_q.find_unfinished_job(
            session=session, seeds=seeds, params=params.to_dict(), source=source_name, kind=kind
        )
        if existing is not None:
            return existing.id, True
        job = crawl_q.create_job(
            session=session, seeds=seeds, params=params.to_dict(), source=source_name, kind=kind
        )
        return job.id, False


def run_crawl(
    job_id: int,
    *,
    database_url: str,
    source: PaperSource,
    on_progress: ProgressCallback | None = None,
    runner: str | None = None,
) -> CrawlOutcome:
    """Run (or resume) a job to the end. Failures are recorded on the job, not raised:
    a permanent one (unknown seed, a refused key) fails it, a transient one (API down) pauses it
    and the outcome says how long the source asked to wait. A job that has finished already is
    left as it is. JobBusy when another process has the job (from the start, or by taking it
    over while this one stalled)."""
    run = JobRun(job_id, database_url, source, on_progress or (lambda _: None), runner=runner)
    finished = run.begin()
    if finished is not None:
        return finished
    try:
        if not run.seeded:
            run.seed()
        run.report("seed")
        while (step := run.step()) is not None:
            run.report(step)
        run.report("done")
    except LeaseLost as exc:
        raise JobBusy(str(exc), retry_after=0.0) from exc
    except PermanentError as exc:
        log.warning("crawl_failed", job_id=job_id, reason=str(exc))
        return run.finish(JobStatus.FAILED, str(exc))
    except TransientError as exc:
        log.warning("crawl_paused", job_id=job_id, reason=str(exc))
        paused = run.finish(JobStatus.PAUSED, f"{exc} Run the same crawl again to continue.")
        return paused.paused(retry_after=exc.retry_after, steps_done=run.steps_done)
    except BaseException as exc:
        run.finish(
            JobStatus.PAUSED, f"interrupted ({type(exc).__name__}); run it again to continue"
        )
        raise
    finally:
        run.prefetcher.close()
    outcome = run.finish(JobStatus.COMPLETED)
    log.info(
        "crawl_completed",
        job_id=job_id,
        papers=outcome.papers_collected,
        edges=outcome.edges_stored,
        requests=outcome.requests_made,
    )
    return outcome
