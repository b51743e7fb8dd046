"""Best-first crawl of the citation network around seed papers.

A job alternates two steps until it has `max_papers` papers or nothing is left to do:
- expand the best collected paper closer than `max_depth` to a seed: list its citations (one
  request) and queue citing papers and references one hop further out;
- collect the best queued candidates (see `scoring`) with one batch request of up to 500 ids,
  which brings their metadata and reference ids.
Collection waits until a full batch is queued, so requests stay few: one citations listing per
expanded paper and one batch request per 500 collected papers.

A step's transaction first writes what the next step is chosen from, then chooses the next step
and sends its request, then writes the rest (the collected papers' metadata and authors) and
commits: the rate limit, not our own storing, sets the pace. The choice is exact, never a guess:
the next step starts from the plan its predecessor committed.

A job runs in one process at a time: the process holds a lease on the job, renewed (and checked)
in the transaction of every step, so a process silent for longer than LEASE loses the job to the
next one and cannot write another step. Each step is one transaction, retried in place when the
database reports a passing conflict (a deadlock with a concurrent crawl, a dropped connection).
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, TypeVar

import structlog
from sqlalchemy import text
from sqlalchemy.orm import Session

from refnet.core.errors import NotFound, PermanentError, RefNetError, TransientError
from refnet.core.records import CitationRecord, PaperRecord
from refnet.crawler import steps
from refnet.crawler.params import CrawlOutcome, CrawlParams, CrawlProgress
from refnet.crawler.plan import Plan, Request, make_plan
from refnet.crawler.prefetch import MISS, Prefetcher
from refnet.db.base import as_utc, utcnow
from refnet.db.models import CrawlJob, FrontierState, JobKind, JobStatus
from refnet.db.queries import crawl as crawl_q
from refnet.db.queries import ranking as ranking_q
from refnet.db.queries.crawl import LeaseLost
from refnet.db.session import session_scope
from refnet.sources.base import PaperSource

log = structlog.get_logger(__name__)
LEASE = timedelta(minutes=10)
DB_ATTEMPTS = 5  # tries of one step's transaction against passing database conflicts
KNOWN_ROWS_LIMIT = 200_000  # S2 ids remembered with their rows (most of a crawl's references)
ProgressCallback = Callable[[CrawlProgress], None]
T = TypeVar("T")


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
        self.runner = str(uuid.uuid4())
        self.requests_before = _requests(source)
        self.analyzed_size = 0
        self.known_rows: dict[str, int] = {}  # S2 id -> papers row, stored by earlier steps
        self.params = CrawlParams()
        self.prefetcher = Prefetcher(self._request)
        self.next_plan: Plan | None = None
        self.planned = False  # whether `next_plan` was committed by the previous step

    def begin(self) -> bool:
        """Take the job; JobBusy while another process holds its lease. True when seeded."""
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
            job.runner = self.runner
            job.error = None
            job.started_at = job.started_at or utcnow()
            self.params = CrawlParams.from_dict(job.params)
            return bool(job.seed_ids)

    def _transaction(self, work: Callable[[Session], T]) -> T:
        """Run `work` in one transaction that holds the job's lease; passing database
        conflicts are retried (the work is idempotent)."""
        for attempt in range(DB_ATTEMPTS):
            try:
                with session_scope(self.url) as session:
                    if session.get_bind().dialect.name == "postgresql":
                        # A step lost in a crash is redone on resume; no need to wait for disk.
                        session.execute(text("SET LOCAL synchronous_commit = off"))
                    crawl_q.hold_lease(session=session, job_id=self.job_id, runner=self.runner)
                    return work(session)
            except TransientError as exc:
                if attempt + 1 == DB_ATTEMPTS:
                    raise
                log.info("crawl_step_retried", job_id=self.job_id, reason=str(exc))
                time.sleep(random.uniform(0.05, 0.2) * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _job(self, session: Session) -> CrawlJob:
        job = crawl_q.get_job(session=session, job_id=self.job_id)
        if job is None:
            raise NotFound(f"crawl job {self.job_id} does not exist")
        return job

    # -- requests -------------------------------------------------------------------------

    def _request(self, request: Request) -> Any:
        kind, argument = request
        if kind == "papers":
            return self.source.get_papers(list(argument))
        return self._citations(str(argument))

    def _fetch(self, request: Request) -> Any:
        answer = self.prefetcher.take(request)
        return self._request(request) if answer is MISS else answer

    def _citations(self, s2_id: str) -> list[CitationRecord]:
        """The paper's citing papers. A paper the source does not know is expanded empty; any
        other refusal (a bad key, a bad request) fails the job with the source's reason."""
        if not self.params.max_citations_per_paper:
            return []
        try:
            return self.source.get_citations(
                s2_id,
                limit=self.params.max_citations_per_paper,
                published_since=self.params.published_since,
            )
        except NotFound as exc:
            log.warning("citations_unavailable", job_id=self.job_id, reason=str(exc))
            return []
        except PermanentError as exc:
            raise PermanentError(f"listing the citations of {s2_id} failed: {exc}") from exc

    # -- steps ----------------------------------------------------------------------------

    def seed(self) -> None:
        seeds = self._transaction(lambda session: list(self._job(session).seeds))
        records = steps.resolve_seeds(self.source, seeds)

        def store(session: Session) -> tuple[list[str], Plan | None]:
            seed_ids = steps.collect_seeds(session=session, job_id=self.job_id, records=records)
            self._job(session).seed_ids = seed_ids
            return seed_ids, self._plan_ahead(session)

        seed_ids, self.next_plan = self._transaction(store)
        self.planned = True
        log.info("crawl_seeded", job_id=self.job_id, seeds=len(seed_ids))

    def step(self) -> str | None:
        """Do one unit of work; None when the crawl is done."""
        plan = self.next_plan if self.planned else self._transaction(self._plan)
        self.planned = False
        if plan is None:
            return None
        answer = self._fetch(plan.request)
        if plan.kind == "collect":
            self._store_collected(plan, answer)
        else:
            self.next_plan = self._transaction(lambda session: self._expand(session, plan, answer))
        self.planned = True
        return plan.kind

    def _plan_ahead(self, session: Session) -> Plan | None:
        """The next step, chosen inside this step's transaction once what it depends on is
        written; its request leaves now, while the rest is written and committed."""
        following = make_plan(session=session, job_id=self.job_id, params=self.params)
        if following is not None:
            self.prefetcher.start(following.request)
        return following

    def _plan(self, session: Session) -> Plan | None:
        self._keep_statistics_fresh(session)
        return make_plan(session=session, job_id=self.job_id, params=self.params)

    def _keep_statistics_fresh(self, session: Session) -> None:
        """Re-analyze the crawl's tables each time they grew by half (see refresh_statistics);
        steps do it last, when their next request is already on its way."""
        size = crawl_q.count_frontier(
            session=session,
            job_id=self.job_id,
            states=[*crawl_q.IN_FRONTIER, FrontierState.CANDIDATE.value],
        )
        if size > 1.5 * self.analyzed_size:
            ranking_q.refresh_statistics(session=session)
            self.analyzed_size = size

    def _store_collected(self, plan: Plan, records: Sequence[PaperRecord | None]) -> None:
        def store(session: Session) -> tuple[dict[str, int], Plan | None]:
            collected = steps.collect(
                session=session,
                job_id=self.job_id,
                candidates=plan.candidates,
                records=records,
                known=self.known_rows,
            )
            following = self._plan_ahead(session)
            steps.finish_collect(session=session, job_id=self.job_id, collected=collected)
            if following is not None:
                self._keep_statistics_fresh(session)
            return collected.stored.ids, following

        stored, self.next_plan = self._transaction(store)
        self._remember(stored)  # only once committed

    def _expand(self, session: Session, plan: Plan, citations: list[CitationRecord]) -> Plan | None:
        assert plan.entry is not None
        steps.expand(
            session=session,
            job_id=self.job_id,
            entry=plan.entry,
            params=self.params,
            citations=citations,
        )
        following = self._plan_ahead(session)
        if following is not None:
            self._keep_statistics_fresh(session)
        return following

    def _remember(self, stored: dict[str, int]) -> None:
        """Keep the rows of recently stored S2 ids, forgetting the oldest past the limit."""
        self.known_rows.update(stored)
        excess = len(self.known_rows) - KNOWN_ROWS_LIMIT
        if excess > 0:
            oldest = list(self.known_rows)[: excess + KNOWN_ROWS_LIMIT // 4]
            for s2_id in oldest:
                del self.known_rows[s2_id]

    # -- bookkeeping ----------------------------------------------------------------------

    def report(self, step: str) -> CrawlOutcome:
        def count(session: Session) -> tuple[CrawlOutcome, int]:
            job = self._job(session)
            job.papers_collected = crawl_q.count_frontier(
                session=session, job_id=self.job_id, states=crawl_q.IN_FRONTIER
            )
            job.papers_expanded = crawl_q.count_frontier(
                session=session, job_id=self.job_id, states=[FrontierState.EXPANDED.value]
            )
            self._count_requests(job)
            candidates = crawl_q.count_frontier(
                session=session, job_id=self.job_id, states=[FrontierState.CANDIDATE.value]
            )
            return _outcome(job), candidates

        outcome, candidates = self._transaction(count)
        self.progress(
            CrawlProgress(
                job_id=self.job_id,
                collected=outcome.papers_collected,
                expanded=outcome.papers_expanded,
                candidates=candidates,
                max_papers=self.params.max_papers,
                step=step,
            )
        )
        return outcome

    def finish(self, status: JobStatus, error: str | None = None) -> CrawlOutcome:
        def close(session: Session) -> CrawlOutcome:
            job = self._job(session)
            job.status = status.value
            job.error = error
            job.runner = None
            job.edges_stored = crawl_q.job_edge_count(session=session, job_id=self.job_id)
            self._count_requests(job)
            if status in (JobStatus.COMPLETED, JobStatus.FAILED):
                job.finished_at = utcnow()
            return _outcome(job)

        return self._transaction(close)

    def _count_requests(self, job: CrawlJob) -> None:
        made = _requests(self.source)
        job.requests_made += made - self.requests_before
        self.requests_before = made


def run_crawl(
    job_id: int,
    *,
    database_url: str,
    source: PaperSource,
    on_progress: ProgressCallback | None = None,
) -> CrawlOutcome:
    """Run (or resume) a job to the end. Failures are recorded on the job, not raised:
    a permanent one (unknown seed, a refused key) fails it, a transient one (API down) pauses it
    and the outcome says how long the source asked to wait. JobBusy when another process has the
    job (from the start, or by taking it over while this one stalled)."""
    run = _Run(job_id, database_url, source, on_progress or (lambda _: None))
    seeded = run.begin()
    try:
        if not seeded:
            run.seed()
        run.report("seed")
        while (step := run.step()) is not None:
            run.report(step)
        run.report("done")
    except LeaseLost as exc:
        raise JobBusy(str(exc)) from exc
    except PermanentError as exc:
        log.warning("crawl_failed", job_id=job_id, reason=str(exc))
        return run.finish(JobStatus.FAILED, str(exc))
    except TransientError as exc:
        log.warning("crawl_paused", job_id=job_id, reason=str(exc))
        paused = run.finish(JobStatus.PAUSED, f"{exc} Run the same crawl again to continue.")
        return paused.waiting(exc.retry_after)
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
