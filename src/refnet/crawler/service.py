"""Best-first crawl of the citation network around seed papers.

A job alternates two steps until it has `max_papers` papers or nothing is left to do:
- expand the best collected paper closer than `max_depth` to a seed: list its citations (one
  request) and queue citing papers and references one hop further out;
- collect the best queued candidates (see `scoring`) with one batch request of up to 500 ids,
  which brings their metadata and reference ids.
Collection waits until a full batch is queued, so requests stay few: one citations listing per
expanded paper and one batch request per 500 collected papers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

import structlog
from sqlalchemy.orm import Session

from refnet.core.errors import NotFound, PermanentError, RefNetError, TransientError
from refnet.crawler import steps
from refnet.crawler.params import CrawlOutcome, CrawlParams, CrawlProgress
from refnet.db.base import as_utc, utcnow
from refnet.db.models import CrawlJob, FrontierState, JobKind, JobStatus
from refnet.db.queries import crawl as crawl_q
from refnet.db.session import session_scope
from refnet.sources.base import BATCH_LIMIT, PaperSource
from refnet.sources.records import CitationRecord

log = structlog.get_logger(__name__)
LEASE = timedelta(minutes=10)
ProgressCallback = Callable[[CrawlProgress], None]


class JobBusy(RefNetError):
    """Another process is running this crawl job."""


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
        existing = crawl_q.find_unfinished_job(
            session=session, seeds=seeds, params=params.to_dict(), source=source_name, kind=kind
        )
        if existing is not None:
            return existing.id, True
        job = crawl_q.create_job(
            session=session, seeds=seeds, params=params.to_dict(), source=source_name, kind=kind
        )
        return job.id, False


class _Run:
    def __init__(
        self, job_id: int, database_url: str, source: PaperSource, progress: ProgressCallback
    ) -> None:
        self.job_id = job_id
        self.url = database_url
        self.source = source
        self.progress = progress
        self.requests_before = _requests(source)
        self.analyzed_size = 0
        self.known_rows: dict[str, int] = {}  # S2 id -> papers row, stored by earlier steps

    def begin(self) -> tuple[CrawlParams, bool]:
        """Take the job; JobBusy while another process is running it (it reports progress at
        every step, so a job silent for longer than LEASE belongs to a process that died)."""
        with session_scope(self.url) as session:
            job = crawl_q.get_job(session=session, job_id=self.job_id, for_update=True)
            if job is None:
                raise NotFound(f"crawl job {self.job_id} does not exist")
            if job.status == JobStatus.RUNNING and as_utc(job.updated_at) > utcnow() - LEASE:
                raise JobBusy(
                    f"crawl job {job.id} is already running (last progress "
                    f"{job.updated_at:%H:%M:%S} UTC); wait for it, or run this again after "
                    f"{LEASE.seconds // 60} minutes without progress"
                )
            job.status = JobStatus.RUNNING.value
            job.error = None
            job.started_at = job.started_at or utcnow()
            return CrawlParams.from_dict(job.params), bool(job.seed_ids)

    def _job(self, session: Session) -> CrawlJob:
        job = crawl_q.get_job(session=session, job_id=self.job_id)
        if job is None:
            raise NotFound(f"crawl job {self.job_id} does not exist")
        return job

    def seed(self) -> None:
        with session_scope(self.url) as session:
            seeds = list(self._job(session).seeds)
        records = steps.resolve_seeds(self.source, seeds)
        with session_scope(self.url) as session:
            seed_ids = steps.collect_seeds(session=session, job_id=self.job_id, records=records)
            self._job(session).seed_ids = seed_ids
        log.info("crawl_seeded", job_id=self.job_id, seeds=len(seed_ids))

    def step(self, params: CrawlParams) -> str | None:
        """Do one unit of work; None when the crawl is done."""
        with session_scope(self.url) as session:
            done = crawl_q.count_frontier(
                session=session, job_id=self.job_id, states=crawl_q.IN_FRONTIER
            )
            budget = params.max_papers - done
            waiting = crawl_q.count_frontier(
                session=session, job_id=self.job_id, states=[FrontierState.CANDIDATE.value]
            )
            if done + waiting > 1.5 * self.analyzed_size:
                crawl_q.refresh_statistics(session=session)
                self.analyzed_size = done + waiting
            entry = crawl_q.next_expandable(
                session=session, job_id=self.job_id, max_depth=params.max_depth
            )
            candidates = []
            seeds_first = entry is not None and entry.is_seed
            full_batch = waiting >= min(BATCH_LIMIT, budget)
            if budget > 0 and waiting and not seeds_first and (full_batch or entry is None):
                candidates = steps.pick_candidates(
                    session=session, job_id=self.job_id, limit=budget
                )
        if candidates:
            records = self.source.get_papers([c.s2_id for c in candidates])
            with session_scope(self.url) as session:
                stored = steps.collect(
                    session=session,
                    job_id=self.job_id,
                    candidates=candidates,
                    records=records,
                    known=self.known_rows,
                )
            self.known_rows.update(stored)  # only once committed
            return "collect"
        if budget > 0 and entry is not None:
            citations = self._citations(entry, params)
            with session_scope(self.url) as session:
                steps.expand(
                    session=session,
                    job_id=self.job_id,
                    entry=entry,
                    params=params,
                    citations=citations,
                )
            return "expand"
        return None

    def _citations(self, entry: crawl_q.ExpandableRow, params: CrawlParams) -> list[CitationRecord]:
        """The paper's citing papers; a paper the source refuses to list is expanded empty
        (only an unknown seed fails a crawl)."""
        if not params.max_citations_per_paper:
            return []
        try:
            return self.source.get_citations(
                entry.s2_id,
                limit=params.max_citations_per_paper,
                published_since=params.published_since,
            )
        except PermanentError as exc:
            log.warning("citations_unavailable", job_id=self.job_id, reason=str(exc))
            return []

    def report(self, step: str, params: CrawlParams) -> CrawlOutcome:
        with session_scope(self.url) as session:
            job = self._job(session)
            job.papers_collected = crawl_q.count_frontier(
                session=session, job_id=self.job_id, states=crawl_q.IN_FRONTIER
            )
            job.papers_expanded = crawl_q.count_frontier(
                session=session, job_id=self.job_id, states=[FrontierState.EXPANDED.value]
            )
            job.requests_made += _requests(self.source) - self.requests_before
            self.requests_before = _requests(self.source)
            candidates = crawl_q.count_frontier(
                session=session, job_id=self.job_id, states=[FrontierState.CANDIDATE.value]
            )
            outcome = _outcome(job)
        self.progress(
            CrawlProgress(
                job_id=self.job_id,
                collected=outcome.papers_collected,
                expanded=outcome.papers_expanded,
                candidates=candidates,
                max_papers=params.max_papers,
                step=step,
            )
        )
        return outcome

    def finish(self, status: JobStatus, error: str | None = None) -> CrawlOutcome:
        with session_scope(self.url) as session:
            job = self._job(session)
            job.status = status.value
            job.error = error
            job.edges_stored = crawl_q.job_edge_count(session=session, job_id=self.job_id)
            job.requests_made += _requests(self.source) - self.requests_before
            self.requests_before = _requests(self.source)
            if status in (JobStatus.COMPLETED, JobStatus.FAILED):
                job.finished_at = utcnow()
            return _outcome(job)


def run_crawl(
    job_id: int,
    *,
    database_url: str,
    source: PaperSource,
    on_progress: ProgressCallback | None = None,
) -> CrawlOutcome:
    """Run (or resume) a job to the end. Failures are recorded on the job, not raised:
    a permanent one (unknown seed) fails it, a transient one (API down) pauses it."""
    run = _Run(job_id, database_url, source, on_progress or (lambda _: None))
    params, seeded = run.begin()
    try:
        if not seeded:
            run.seed()
        run.report("seed", params)
        while (step := run.step(params)) is not None:
            run.report(step, params)
        run.report("done", params)
    except PermanentError as exc:
        log.warning("crawl_failed", job_id=job_id, reason=str(exc))
        return run.finish(JobStatus.FAILED, str(exc))
    except TransientError as exc:
        log.warning("crawl_paused", job_id=job_id, reason=str(exc))
        return run.finish(JobStatus.PAUSED, f"{exc} Run the same crawl again to continue.")
    except BaseException as exc:
        run.finish(
            JobStatus.PAUSED, f"interrupted ({type(exc).__name__}); run it again to continue"
        )
        raise
    outcome = run.finish(JobStatus.COMPLETED)
    log.info(
        "crawl_completed",
        job_id=job_id,
        papers=outcome.papers_collected,
        edges=outcome.edges_stored,
        requests=outcome.requests_made,
    )
    return outcome


def _requests(source: PaperSource) -> int:
    return int(getattr(source, "requests_made", 0))


def _outcome(job: CrawlJob) -> CrawlOutcome:
    return CrawlOutcome(
        job_id=job.id,
        status=job.status,
        papers_collected=job.papers_collected,
        papers_expanded=job.papers_expanded,
        edges_stored=job.edges_stored,
        requests_made=job.requests_made,
        error=job.error,
    )
