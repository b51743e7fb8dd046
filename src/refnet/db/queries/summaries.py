"""Summaries (keyed by paper, provider, model, prompt version, language) and PDF records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import Session

from refnet.db.base import utcnow
from refnet.db.models import (
    COLLECTED_STATES,
    FrontierEntry,
    InputKind,
    Paper,
    PdfDocument,
    PdfStatus,
    Summary,
    SummaryStatus,
)
from refnet.db.queries._dialect import insert_rows
from refnet.db.queries.crawl import IN_FRONTIER

STALE_CLAIM = timedelta(minutes=30)  # longer than a summary task's hard time limit
CLAIMABLE = (SummaryStatus.PENDING, SummaryStatus.FAILED, SummaryStatus.DEFERRED)
IN_VAULT = COLLECTED_STATES
# A PDF that keeps failing for passing reasons is tried again later and later, then given up.
PDF_RETRY_LATER_MAX = timedelta(days=30)
PDF_MAX_ATTEMPTS = 10


@dataclass(frozen=True, slots=True)
class SummaryKey:
    """What makes two summaries the same: retrying one never pays a provider twice."""

    provider: str
    model: str
    prompt_version: str
    language: str

    def matches(self) -> Any:
        return and_(
            Summary.provider == self.provider,
            Summary.model == self.model,
            Summary.prompt_version == self.prompt_version,
            Summary.language == self.language,
        )


def get_summary(*, session: Session, paper_id: int, key: SummaryKey) -> Summary | None:
    return session.scalars(
        select(Summary).where(Summary.paper_id == paper_id, key.matches())
    ).first()


def pdf_retry_due(now: datetime) -> Any:
    """The summary's paper has a PDF that failed for passing reasons and is due another try."""
    return exists().where(
        PdfDocument.paper_id == Summary.paper_id,
        PdfDocument.status == PdfStatus.RETRYING.value,
        PdfDocument.retry_at <= now,
    )


def upgradable(now: datetime) -> Any:
    """Done from the abstract or TL;DR because the PDF was temporarily unavailable, and due to be
    made again from the PDF."""
    return and_(
        Summary.status == SummaryStatus.DONE.value,
        Summary.input_kind != InputKind.PDF.value,
        pdf_retry_due(now),
    )


def claim_summary(
    *,
    session: Session,
    paper_id: int,
    key: SummaryKey,
    stale_before: datetime,
    upgrade: bool = False,
) -> bool:
    """Take the summary for this worker (compare-and-set); False when it is done or taken.

    A claim older than `stale_before` belongs to a worker that died, and is taken over. With
    `upgrade`, a summary that is done but `upgradable` is taken instead, and its PDF is held back
    from other workers for as long as a claim lasts.
    """
    now = utcnow()
    insert_rows(
        session,
        Summary,
        [
            {
                "paper_id": paper_id,
                "provider": key.provider,
                "model": key.model,
                "prompt_version": key.prompt_version,
                "language": key.language,
                "status": SummaryStatus.PENDING.value,
                "key_points": [],
                "keywords": [],
                "input_tokens": 0,
                "output_tokens": 0,
                "attempts": 0,
                "created_at": now,
                "updated_at": now,
            }
        ],
    )
    claimable = or_(
        Summary.status.in_([s.value for s in CLAIMABLE]),
        and_(Summary.status == SummaryStatus.RUNNING.value, Summary.claimed_at < stale_before),
    )
    if upgrade:
        claimable = upgradable(now)
    result = session.execute(
        update(Summary)
        .where(Summary.paper_id == paper_id, key.matches(), claimable)
        .values(
            status=SummaryStatus.RUNNING.value,
            attempts=Summary.attempts + 1,
            claimed_at=now,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    claimed = bool(getattr(result, "rowcount", 0))
    if claimed and upgrade:
        session.execute(
            update(PdfDocument)
            .where(PdfDocument.paper_id == paper_id)
            .values(retry_at=now + STALE_CLAIM)
            .execution_options(synchronize_session=False)
        )
    return claimed


def is_upgradable(*, session: Session, summary_id: int, now: datetime) -> bool:
    return bool(session.scalar(select(Summary.id).where(Summary.id == summary_id, upgradable(now))))


def release_summary(
    *,
    session: Session,
    paper_id: int,
    key: SummaryKey,
    status: SummaryStatus,
    input_kind: str | None = None,
) -> None:
    """Give back a claim this worker cannot finish (a paid answer already stored stays)."""
    values: dict[str, Any] = {"status": status.value, "updated_at": utcnow()}
    if input_kind is not None:
        values["input_kind"] = input_kind
    session.execute(
        update(Summary)
        .where(
            Summary.paper_id == paper_id,
            key.matches(),
            Summary.status == SummaryStatus.RUNNING.value,
        )
        .values(values)
        .execution_options(synchronize_session=False)
    )


def retry_pdf_later(*, session: Session, paper_id: int, retry_at: datetime) -> None:
    """Offer the paper's PDF again at `retry_at`, with its summary due to be made from it."""
    session.execute(
        update(PdfDocument)
        .where(PdfDocument.paper_id == paper_id)
        .values(status=PdfStatus.RETRYING.value, retry_at=retry_at)
        .execution_options(synchronize_session=False)
    )


def is_paid_failure(summary: Summary) -> bool:
    """Failed after the provider answered (and was paid): retrying would pay again."""
    return summary.status == SummaryStatus.FAILED and summary.raw_response is not None


def tokens_used_since(*, session: Session, provider: str, since: datetime) -> int:
    """Tokens paid to a provider for answers received since `since`."""
    total = session.scalar(
        select(func.coalesce(func.sum(Summary.input_tokens + Summary.output_tokens), 0)).where(
            Summary.provider == provider, Summary.completed_at >= since
        )
    )
    return int(total or 0)


def papers_needing_summary(
    *,
    session: Session,
    key: SummaryKey,
    job_id: int | None = None,
    retry_failed: bool = True,
    stale_before: datetime | None = None,
) -> list[int]:
    """Vault papers without a settled summary for this key, oldest first.

    Settled: done (unless `upgradable`); failed after a paid answer (final for the key); or
    claimed by a worker since `stale_before` (default: 30 minutes ago). A claim older than that
    belongs to a worker that died, and its paper is offered again.
    """
    now = utcnow()
    stale_before = stale_before or now - STALE_CLAIM
    settled = or_(
        and_(Summary.status == SummaryStatus.DONE.value, ~upgradable(now)),
        and_(Summary.status == SummaryStatus.FAILED.value, Summary.raw_response.is_not(None)),
        and_(Summary.status == SummaryStatus.RUNNING.value, Summary.claimed_at >= stale_before),
    )
    if not retry_failed:
        settled = or_(settled, Summary.status == SummaryStatus.FAILED.value)
    has_summary = exists().where(Summary.paper_id == Paper.id, key.matches(), settled)
    query = select(Paper.id).where(Paper.crawl_state.in_(IN_VAULT), ~has_summary)
    if job_id is not None:
        query = query.join(FrontierEntry, FrontierEntry.paper_id == Paper.id).where(
            FrontierEntry.job_id == job_id, FrontierEntry.state.in_(IN_FRONTIER)
        )
    return list(session.scalars(query.order_by(Paper.id)))


def job_summary_counts(*, session: Session, job_id: int) -> dict[str, int]:
    """The job's papers by summary outcome: `done:pdf`, `done:abstract`, `failed`, …, and
    `pdf:retrying` for PDFs to be tried again later."""
    in_job = select(FrontierEntry.paper_id).where(
        FrontierEntry.job_id == job_id, FrontierEntry.state.in_(IN_FRONTIER)
    )
    rows = session.execute(
        select(Summary.status, Summary.input_kind, func.count())
        .where(Summary.paper_id.in_(in_job))
        .group_by(Summary.status, Summary.input_kind)
    )
    counts: dict[str, int] = {}
    for status, input_kind, count in rows:
        name = f"{status}:{input_kind}" if status == SummaryStatus.DONE else status
        counts[name] = counts.get(name, 0) + count
    retrying = session.scalar(
        select(func.count())
        .select_from(PdfDocument)
        .where(PdfDocument.paper_id.in_(in_job), PdfDocument.status == PdfStatus.RETRYING.value)
    )
    if retrying:
        counts["pdf:retrying"] = retrying
    return counts


def summary_counts(*, session: Session) -> dict[str, int]:
    rows = session.execute(select(Summary.status, func.count()).group_by(Summary.status))
    return {status: count for status, count in rows}


def get_pdf(*, session: Session, paper_id: int) -> PdfDocument | None:
    return session.get(PdfDocument, paper_id)


def record_pdf(
    *,
    session: Session,
    paper_id: int,
    status: str,
    url: str | None = None,
    sha256: str | None = None,
    size_bytes: int | None = None,
    pages: int | None = None,
    error: str | None = None,
) -> None:
    """Record a settled outcome: fetched, unusable, or unavailable for good."""
    _store_pdf(
        session,
        paper_id,
        {
            "status": status,
            "url": url,
            "sha256": sha256,
            "size_bytes": size_bytes,
            "pages": pages,
            "error": error,
            "attempts": 0,
            "retry_at": None,
            "fetched_at": utcnow(),
        },
    )


def record_pdf_retry(
    *,
    session: Session,
    paper_id: int,
    error: str,
    fallback_after: int,
    retry_later: timedelta,
) -> int:
    """Count one more transient failure of the paper's PDF; returns the failures so far.

    From the `fallback_after`-th failure on, the next try is `retry_later` away, doubling with
    each failure (at most PDF_RETRY_LATER_MAX); after PDF_MAX_ATTEMPTS the PDF is unavailable.
    """
    record = session.get(PdfDocument, paper_id, with_for_update=True)
    attempts = (record.attempts if record and record.status == PdfStatus.RETRYING else 0) + 1
    now = utcnow()
    status, retry_at = PdfStatus.RETRYING.value, None
    if attempts >= PDF_MAX_ATTEMPTS:
        status, error = PdfStatus.UNAVAILABLE.value, f"gave up after {attempts} attempts: {error}"
    elif attempts >= fallback_after:
        wait = retry_later * 2 ** (attempts - fallback_after)
        retry_at = now + min(wait, PDF_RETRY_LATER_MAX)
    values = {"status": status, "error": error, "attempts": attempts, "retry_at": retry_at}
    _store_pdf(session, paper_id, {**values, "fetched_at": now})
    return attempts


def _store_pdf(session: Session, paper_id: int, values: dict[str, Any]) -> None:
    insert_rows(
        session,
        PdfDocument,
        [{"paper_id": paper_id, **values}],
        on_conflict=lambda statement: statement.on_conflict_do_update(
            index_elements=["paper_id"], set_=values
        ),
    )


def set_summary(
    *, session: Session, paper_id: int, key: SummaryKey, values: dict[str, Any]
) -> None:
    session.execute(
        update(Summary)
        .where(Summary.paper_id == paper_id, key.matches())
        .values(**values, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
