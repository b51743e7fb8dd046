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
    Paper,
    PdfDocument,
    Summary,
    SummaryStatus,
)
from refnet.db.queries._dialect import insert_rows
from refnet.db.queries.crawl import IN_FRONTIER

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
    *, session: Session, paper_id: int, key: SummaryKey, stale_before: datetime
) -> bool:
    """Take the summary for this worker (compare-and-set); False when it is done or taken.

    A claim older than `stale_before` belongs to a worker that died, and is taken over.
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
    return bool(getattr(result, "rowcount", 0))


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

    Settled: done; failed after a paid answer (final for the key); or claimed by a worker since
    `stale_before` (default: 30 minutes ago). A claim older than that belongs to a worker that
    died, and its paper is offered again.
    """
    stale_before = stale_before or utcnow() - STALE_CLAIM
    settled = or_(
        Summary.status == SummaryStatus.DONE.value,
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
    values = {
        "status": status,
        "url": url,
        "sha256": sha256,
        "size_bytes": size_bytes,
        "pages": pages,
        "error": error,
        "fetched_at": utcnow(),
    }
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
