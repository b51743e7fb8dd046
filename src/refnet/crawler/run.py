"""One process running one crawl job: its lease, its transactions, its steps.

A step's transaction first writes what the next step is chosen from, then chooses the next step
and sends its request, then writes the rest (the collected papers' metadata and authors) and
commits: the rate limit, not our own storing, sets the pace. The choice is exact, never a guess:
the next step starts from the plan its predecessor committed.

The process holds a lease on the job, renewed (and checked) in the transaction of every step, so
a process silent for longer than LEASE loses the job to the next one and cannot write another
step. Each step is one transaction, retried in place when the database reports a passing
conflict (a dropped connection, a deadlock); what a transaction changes in this object happens
only once it has committed. Crawls running at once take turns to write (one transaction-scoped
lock on PostgreSQL): a step writes papers, then edges, then papers again, so two crawls sharing
papers would otherwise deadlock, and the shared rate limit paces them far below what turns cost.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Sequence
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
from refnet.db.models import CrawlJob, FrontierState, JobStatus
from refnet.db.queries import crawl as crawl_q
from refnet.db.queries import ranking as ranking_q
from refnet.db.session import session_scope
from refnet.sources.base import PaperSource

log = structlog.get_logger(__name__)
LEASE = crawl_q.JOB_LEASE
DB_ATTEMPTS = 5  # tries of one step's transaction against passing database conflicts
KNOWN_ROWS_LIMIT = 200_000  # S2 ids remembered with their rows (most of a crawl's references)
ProgressCallback = Callable[[CrawlProgress], None]
T = TypeVar("T")
_UNPLANNED = object()  # no committed plan: the next step plans for itself


class JobBusy(RefNetError):
    """Another process is running this crawl job; `retry_after`: when its lease runs out."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class JobRun:
    def __init__(
        self,
        job_id: int,
        database_url: str,
        source: PaperSource,
        progress: ProgressCallback,
        *,
        runner: str | None = None,
    ) -> None:
        self.job_id = job_id
        self.url = database_url
        self.source = source
        self.progress = progress
        # A task passes its delivery id: delivered again after its worker died, it takes its own
        # lease back at once instead of waiting for the lease to run out.
        self.runner = runner or str(uuid.uuid4())
        self.requests_at_start = _requests(source)
        self.requests_before = 0  # what the job had counted when this process took it
        self.analyzed_size = 0
        self.known_rows: dict[str, int] = {}  # S2 id -> papers row, stored by earlier steps
        self.params = CrawlParams()
        self.prefetcher = Prefetcher(self._request)
        self.next_plan: Plan | object | None = _UNPLANNED
        self.steps_done = 0
        self.seeded = False
        self._after_commit: list[Callable[[], None]] = []

    def begin(self) -> CrawlOutcome | None:
        """Take the job; JobBusy while another process holds its lease. The job's outcome
        instead when it has finished already (a task delivered again after the end)."""
        with session_scope(self.url) as session:
            job = crawl_q.get_job(session=session, job_id=self.job_id, for_update=True)
            if job is None:
                raise NotFound(f"crawl job {self.job_id} does not exist")
            if job.status in (JobStatus.COMPLETED, JobStatus.FAILED):
                return outcome_of(job)
            heartbeat = as_utc(job.heartbeat_at or job.updated_at)
            silent = utcnow() - heartbeat
            if job.status == JobStatus.RUNNING and silent < LEASE and job.runner != self.runner:
                raise JobBusy(
                    f"crawl job {job.id} is already running (last progress "
                    f"{heartbeat:%H:%M:%S} UTC); wait for it, or run this again after "
                    f"{LEASE.seconds // 60} minutes without progress",
                    retry_after=(LEASE - silent).total_seconds() + 1,
                )
            job.status = JobStatus.RUNNING.value
            job.runner = self.runner
            job.heartbeat_at = utcnow()
            job.error = None
            job.started_at = job.started_at or utcnow()
            self.params = CrawlParams.from_dict(job.params)
            self.requests_before = job.requests_made
            self.seeded = bool(job.seed_ids)
        return None

    def transaction(self, work: Callable[[Session], T]) -> T:
        """Run `work` in one transaction that holds the job's lease; passing database
        conflicts are retried (the work is idempotent)."""
        for attempt in range(DB_ATTEMPTS):
            self._after_commit.clear()
            try:
                with session_scope(self.url) as session:
                    if session.get_bind().dialect.name == "postgresql":
                        # A step lost in a crash is redone on resume; no need to wait for disk.
                        session.execute(text("SET LOCAL synchronous_commit = off"))
                        crawl_q.take_write_turn(session=session)
                    crawl_q.hold_lease(session=session, job_id=self.job_id, runner=self.runner)
                    result = work(session)
            except TransientError as exc:
                if attempt + 1 == DB_ATTEMPTS:
                    raise
                log.info("crawl_step_retried", job_id=self.job_id, reason=str(exc))
                time.sleep(random.uniform(0.05, 0.2) * 2**attempt)
                continue
            for change in self._after_commit:
                change()
            return result
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
        seeds = self.transaction(lambda session: list(self._job(session).seeds))
        records = steps.resolve_seeds(self.source, seeds)

        def store(session: Session) -> list[str]:
            seed_ids = steps.collect_seeds(session=session, job_id=self.job_id, records=records)
            self._job(session).seed_ids = seed_ids
            self._plan_ahead(session)
            return seed_ids

        seed_ids = self.transaction(store)
        log.info("crawl_seeded", job_id=self.job_id, seeds=len(seed_ids))

    def step(self) -> str | None:
        """Do one unit of work; None when the crawl is done."""
        planned, self.next_plan = self.next_plan, _UNPLANNED
        plan = self.transaction(self._plan) if planned is _UNPLANNED else planned
        if not isinstance(plan, Plan):
            return None
        answer = self._fetch(plan.request)
        if plan.kind == "collect":
            self._store_collected(plan, answer)
        else:
            self.transaction(lambda session: self._expand(session, plan, answer))
        self.steps_done += 1
        return plan.kind

    def _plan(self, session: Session) -> Plan | None:
        self._keep_statistics_fresh(session)
        return make_plan(session=session, job_id=self.job_id, params=self.params)

    def _plan_ahead(self, session: Session) -> None:
        """Choose the next step inside this step's transaction, once what it depends on is
        written: its request leaves now, while the rest is written and committed; statistics
        are refreshed last."""
        following = make_plan(session=session, job_id=self.job_id, params=self.params)
        if following is not None:
            self.prefetcher.start(following.request)
            self._keep_statistics_fresh(session)
        self._after_commit.append(lambda: setattr(self, "next_plan", following))

    def _keep_statistics_fresh(self, session: Session) -> None:
        """Re-analyze the crawl's tables each time they grew by half (see refresh_statistics)."""
        size = crawl_q.count_frontier(
            session=session,
            job_id=self.job_id,
            states=[*crawl_q.IN_FRONTIER, FrontierState.CANDIDATE.value],
        )
        if size > 1.5 * self.analyzed_size:
            ranking_q.refresh_statistics(session=session)
            self._after_commit.append(lambda: setattr(self, "analyzed_size", size))

    def _store_collected(self, plan: Plan, records: Sequence[PaperRecord | None]) -> None:
        def store(session: Session) -> None:
            collected = steps.collect(
                session=session,
                job_id=self.job_id,
                candidates=plan.candidates,
                records=records,
                known=self.known_rows,
            )
            self._plan_ahead(session)
            steps.finish_collect(session=session, job_id=self.job_id, collected=collected)
            self._after_commit.append(lambda: self._remember(collected.stored.ids))

        self.transaction(store)

    def _expand(self, session: Session, plan: Plan, citations: list[CitationRecord]) -> None:
        assert plan.entry is not None
        steps.expand(
            session=session,
            job_id=self.job_id,
            entry=plan.entry,
            params=self.params,
            citations=citations,
        )
        self._plan_ahead(session)

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
            return outcome_of(job), candidates

        outcome, candidates = self.transaction(count)
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
            return outcome_of(job)

        return self.transaction(close)

    def _count_requests(self, job: CrawlJob) -> None:
        """What the job had, plus what this process sent (the same however often it runs)."""
        job.requests_made = self.requests_before + _requests(self.source) - self.requests_at_start


def _requests(source: PaperSource) -> int:
    return int(getattr(source, "requests_made", 0))


def outcome_of(job: CrawlJob) -> CrawlOutcome:
    return CrawlOutcome(
        job_id=job.id,
        status=job.status,
        papers_collected=job.papers_collected,
        papers_expanded=job.papers_expanded,
        edges_stored=job.edges_stored,
        requests_made=job.requests_made,
        error=job.error,
    )
