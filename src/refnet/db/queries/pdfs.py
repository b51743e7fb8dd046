"""What RefNet knows of each paper's open-access PDF: fetched, unusable, unavailable, or failing
for a passing reason and due another try at `retry_at`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, update
from sqlalchemy.orm import Session

from refnet.db.base import as_utc, utcnow
from refnet.db.models import PdfDocument, PdfStatus, Summary
from refnet.db.queries._dialect import insert_rows

# A PDF that keeps failing for passing reasons is tried again later and later, then given up.
RETRY_LATER_MAX = timedelta(days=30)
MAX_ATTEMPTS = 10


def get_pdf(*, session: Session, paper_id: int) -> PdfDocument | None:
    return session.get(PdfDocument, paper_id)


def waiting_for_retry(record: PdfDocument | None, *, fallback_after: int) -> bool:
    """The PDF failed often enough that the abstract is used, and its next try is not due."""
    return (
        record is not None
        and record.status == PdfStatus.RETRYING
        and record.attempts >= fallback_after
        and record.retry_at is not None
        and as_utc(record.retry_at) > utcnow()
    )


def pdf_retry_due(now: datetime) -> Any:
    """The summary's paper has a PDF that failed for passing reasons and is due another try."""
    return exists().where(
        PdfDocument.paper_id == Summary.paper_id,
        PdfDocument.status == PdfStatus.RETRYING.value,
        PdfDocument.retry_at <= now,
    )


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
    _store(
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
    each failure (at most RETRY_LATER_MAX); after MAX_ATTEMPTS the PDF is unavailable.
    """
    record = session.get(PdfDocument, paper_id, with_for_update=True)
    attempts = (record.attempts if record and record.status == PdfStatus.RETRYING else 0) + 1
    now = utcnow()
    status, retry_at = PdfStatus.RETRYING.value, None
    if attempts >= MAX_ATTEMPTS:
        status, error = PdfStatus.UNAVAILABLE.value, f"gave up after {attempts} attempts: {error}"
    elif attempts >= fallback_after:
        wait = retry_later * 2 ** (attempts - fallback_after)
        retry_at = now + min(wait, RETRY_LATER_MAX)
    values = {"status": status, "error": error, "attempts": attempts, "retry_at": retry_at}
    _store(session, paper_id, {**values, "fetched_at": now})
    return attempts


def retry_pdf_later(*, session: Session, paper_id: int, retry_at: datetime) -> None:
    """Offer the paper's PDF (and the remake of its summary from it) again at `retry_at`."""
    session.execute(
        update(PdfDocument)
        .where(PdfDocument.paper_id == paper_id)
        .values(status=PdfStatus.RETRYING.value, retry_at=retry_at)
        .execution_options(synchronize_session=False)
    )


def _store(session: Session, paper_id: int, values: dict[str, Any]) -> None:
    insert_rows(
        session,
        PdfDocument,
        [{"paper_id": paper_id, **values}],
        on_conflict=lambda statement: statement.on_conflict_do_update(
            index_elements=["paper_id"], set_=values
        ),
    )
