"""Summaries, keyed by paper, provider, model, prompt version and language.

A summary is claimed by compare-and-set (`claim_summary`); a done summary made from the abstract
because its PDF kept failing is remade from the PDF when that PDF is due another try
(`remake_due`), under a claim of its own (`claim_remake`) while the summary stays done.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, false, func, or_, select, update
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
from refnet.db.queries.papers import touch_papers
from refnet.db.queries.pdfs import pdf_retry_due

STALE_CLAIM = timedelta(minutes=30)  # longer than a summary task's hard time limit
CLAIMABLE = (SummaryStatus.PENDING, SummaryStatus.FAILED, SummaryStatus.DEFERRED)
IN_VAULT = COLLECTED_STATES


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


def claim_summary(
    *,
    session: Session,
    paper_id: int,
    key: SummaryKey,
    stale_before: datetime,
    claimer: str | None = None,
) -> bool:
    """Take the summary for this worker (compare-and-set); False when it is done or taken.

    A claim older than `stale_before` belongs to a worker that died, and is taken over; so is a
    claim made by `claimer` itself (the same task delivered again after its worker died).
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
    running = Summary.status == SummaryStatus.RUNNING.value
    claimable = or_(
        Summary.status.in_([s.value for s in CLAIMABLE]),
        and_(running, Summary.claimed_at < stale_before),
        and_(running, Summary.claimed_by == claimer) if claimer is not None else false(),
    )
    result = session.execute(
        update(Summary)
        .where(Summary.paper_id == paper_id, key.matches(), claimable)
        .values(
            status=SummaryStatus.RUNNING.value,
            attempts=Summary.attempts + 1,
            claimed_at=now,
            claimed_by=claimer,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def remake_due(now: datetime, stale_before: datetime) -> Any:
    """A done summary to remake from the PDF, not claimed by a live worker: made from the
    abstract or TL;DR while its PDF is due another try, or with a paid remake answer to parse."""
    return and_(
        Summary.status == SummaryStatus.DONE.value,
        or_(Summary.remake_claimed_at.is_(None), Summary.remake_claimed_at < stale_before),
        or_(
            and_(Summary.input_kind != InputKind.PDF.value, pdf_retry_due(now)),
            Summary.remake_response.is_not(None),
        ),
    )


def claim_remake(
    *, session: Session, paper_id: int, key: SummaryKey, stale_before: datetime
) -> bool:
    """Take the remake of a done summary (compare-and-set); the summary stays done meanwhile."""
    now = utcnow()
    result = session.execute(
        update(Summary)
        .where(Summary.paper_id == paper_id, key.matches(), remake_due(now, stale_before))
        .values(remake_claimed_at=now, updated_at=Summary.updated_at)  # notes need no rewrite
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def store_remake_answer(
    *, session: Session, summary_id: int, text: str, input_tokens: int, output_tokens: int
) -> None:
    """Keep a paid remake answer before parsing it; its tokens count towards today's budget."""
    session.execute(
        update(Summary)
        .where(Summary.id == summary_id)
        .values(
            remake_response=text,
            input_tokens=Summary.input_tokens + input_tokens,
            output_tokens=Summary.output_tokens + output_tokens,
            completed_at=utcnow(),
            updated_at=Summary.updated_at,
        )
        .execution_options(synchronize_session=False)
    )


def end_remake(*, session: Session, summary_id: int, values: dict[str, Any] | None = None) -> None:
    """Close a remake: with `values`, the summary becomes the remade one; without, it stays."""
    changes: dict[str, Any] = {"remake_claimed_at": None, "remake_response": None}
    if values:
        changes.update(values, updated_at=utcnow())
    else:
        changes["updated_at"] = Summary.updated_at
    session.execute(
        update(Summary)
        .where(Summary.id == summary_id)
        .values(changes)
        .execution_options(synchronize_session=False)
    )


def release_remake(*, session: Session, summary_id: int) -> None:
    """Give a remake claim back (a paid answer already kept stays, to be parsed next time)."""
    session.execute(
        update(Summary)
        .where(Summary.id == summary_id)
        .values(remake_claimed_at=None, updated_at=Summary.updated_at)
        .execution_options(synchronize_session=False)
    )


def release_summary(*, session: Session, paper_id: int, key: SummaryKey) -> None:
    """Give back a claim this worker cannot finish (a paid answer already stored stays)."""
    session.execute(
        update(Summary)
        .where(
            Summary.paper_id == paper_id,
            key.matches(),
            Summary.status == SummaryStatus.RUNNING.value,
        )
        .values(status=SummaryStatus.PENDING.value, updated_at=utcnow())
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


def tokens_used_today(*, session: Session, provider: str) -> int:
    """Tokens paid to a provider since midnight UTC: what the daily budget counts."""
    midnight = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    return tokens_used_since(session=session, provider=provider, since=midnight)


def papers_needing_summary(
    *,
    session: Session,
    key: SummaryKey,
    job_id: int | None = None,
    retry_failed: bool = True,
    stale_before: datetime | None = None,
    limit: int | None = None,
) -> list[int]:
    """Vault papers without a settled summary for this key, oldest first (the first `limit`).

    Settled: done (unless `remake_due`); failed after a paid answer (final for the key); or
    claimed by a worker since `stale_before` (default: 30 minutes ago). A claim older than that
    belongs to a worker that died, and its paper is offered again.
    """
    now = utcnow()
    stale_before = stale_before or now - STALE_CLAIM
    settled = or_(
        and_(Summary.status == SummaryStatus.DONE.value, ~remake_due(now, stale_before)),
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
    return list(session.scalars(query.order_by(Paper.id).limit(limit)))


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


def set_summary(
    *, session: Session, paper_id: int, key: SummaryKey, values: dict[str, Any]
) -> None:
    session.execute(
        update(Summary)
        .where(Summary.paper_id == paper_id, key.matches())
        .values(**values, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def delete_summaries(*, session: Session, summary_ids: list[int]) -> None:
    """Delete summaries, and stamp their papers as changed so their vault notes drop them on
    the next incremental run (nothing else says a summary is gone). Delete them only here."""
    found = select(Summary.paper_id).where(Summary.id.in_(summary_ids))
    paper_ids = set(session.scalars(found))
    session.execute(delete(Summary).where(Summary.id.in_(summary_ids)))
    touch_papers(session=session, paper_ids=paper_ids)
