"""The best text to summarize a paper from: its open-access PDF, else its abstract or TL;DR."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import structlog

from refnet.core.metrics import PDF_DOWNLOADS
from refnet.db.models import InputKind, Paper, PdfDocument, PdfStatus
from refnet.db.queries import pdfs as pdfs_q
from refnet.db.session import session_scope
from refnet.summarizer.extract import ExtractionError
from refnet.summarizer.isolation import extract_isolated
from refnet.summarizer.pdf import (
    PdfFetcher,
    PdfTemporarilyUnavailable,
    PdfUnavailable,
    pdf_locations,
)

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class PaperText:
    """What the summarizer needs of a paper, detached from any session."""

    id: int
    title: str
    abstract: str | None
    tldr: str | None
    open_access_pdf_url: str | None
    arxiv_id: str | None
    external_ids: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, paper: Paper) -> PaperText:
        return cls(
            id=paper.id,
            title=paper.title or paper.s2_id,
            abstract=paper.abstract,
            tldr=paper.tldr,
            open_access_pdf_url=paper.open_access_pdf_url,
            arxiv_id=paper.arxiv_id,
            external_ids={str(k): str(v) for k, v in (paper.external_ids or {}).items()},
        )


@dataclass(frozen=True, slots=True)
class PdfReading:
    """How PDFs are read: page cap, limits of the reading process, patience with their hosts."""

    max_pages: int = 40
    timeout: float = 60.0  # seconds one PDF may take to read
    memory_bytes: int = 1024 * 1024 * 1024  # memory one PDF may take to read
    attempts: int = 3  # transient failures before the abstract is summarized instead
    retry_later: timedelta = timedelta(hours=24)  # then the PDF is tried again this much later


@dataclass(frozen=True, slots=True)
class ChosenText:
    text: str
    kind: InputKind


def best_text(
    *,
    paper: PaperText,
    database_url: str,
    fetcher: PdfFetcher | None,
    reading: PdfReading,
    max_chars: int,
) -> ChosenText | None:
    """The text to summarize, or None when the paper offers nothing.

    PDF problems (none available, corrupt, encrypted, scanned, too demanding to read) are
    recorded on the paper's PDF record and the abstract is used instead. A PDF host that fails
    for a passing reason (timeouts, 429, 5xx) raises `PdfTemporarilyUnavailable` for the first
    `reading.attempts - 1` failures; from then on the abstract is used and the PDF is left alone
    until it is due another try, `reading.retry_later` afterwards (see `pdfs_q.record_pdf_retry`).
    """
    if fetcher is not None:
        text = _pdf_text(paper, database_url, fetcher, reading, max_chars)
        if text:
            return ChosenText(text, InputKind.PDF)
    if paper.abstract:
        return ChosenText(paper.abstract[:max_chars], InputKind.ABSTRACT)
    if paper.tldr:
        return ChosenText(paper.tldr, InputKind.TLDR)
    return None


def _pdf_text(
    paper: PaperText, database_url: str, fetcher: PdfFetcher, reading: PdfReading, max_chars: int
) -> str | None:
    locations = pdf_locations(
        open_access_pdf_url=paper.open_access_pdf_url,
        arxiv_id=paper.arxiv_id,
        external_ids=paper.external_ids,
    )
    if not locations:
        return None
    with session_scope(database_url) as session:
        record = pdfs_q.get_pdf(session=session, paper_id=paper.id)
        if pdfs_q.waiting_for_retry(record, fallback_after=reading.attempts):
            return None  # the abstract it is, until the PDF is due another try
        path, url, sha256, size = _cached_pdf(record, fetcher)
    if path is None:
        try:
            fetched = fetcher.fetch(locations)
        except PdfTemporarilyUnavailable as exc:
            PDF_DOWNLOADS.labels("retrying").inc()
            failures = _count_transient_failure(database_url, paper.id, str(exc), reading)
            if failures < reading.attempts:
                raise
            log.info("pdf_fallback_to_abstract", paper_id=paper.id, reason=str(exc))
            return None
        except PdfUnavailable as exc:
            PDF_DOWNLOADS.labels("unavailable").inc()
            _record(database_url, paper.id, PdfStatus.UNAVAILABLE, error=str(exc))
            return None
        PDF_DOWNLOADS.labels("fetched").inc()
        path, url, sha256, size = fetched.path, fetched.url, fetched.sha256, fetched.size
    try:
        extracted = extract_isolated(
            path,
            max_pages=reading.max_pages,
            timeout=reading.timeout,
            memory_bytes=reading.memory_bytes,
        )
        text = extracted.prioritized(max_chars)
        if not text:
            raise ExtractionError("empty", f"{path.name}: no text outside the references")
    except ExtractionError as exc:
        PDF_DOWNLOADS.labels("failed").inc()
        _record(database_url, paper.id, PdfStatus.FAILED, url=url, sha256=sha256, error=str(exc))
        log.info("pdf_unusable", paper_id=paper.id, kind=exc.kind)
        return None
    _record(
        database_url,
        paper.id,
        PdfStatus.FETCHED,
        url=url,
        sha256=sha256,
        size_bytes=size,
        pages=extracted.pages,
    )
    return text


def _count_transient_failure(
    database_url: str, paper_id: int, error: str, reading: PdfReading
) -> int:
    with session_scope(database_url) as session:
        return pdfs_q.record_pdf_retry(
            session=session,
            paper_id=paper_id,
            error=error,
            fallback_after=reading.attempts,
            retry_later=reading.retry_later,
        )


def _cached_pdf(
    record: PdfDocument | None, fetcher: PdfFetcher
) -> tuple[Path | None, str | None, str | None, int | None]:
    if record is None or record.status != PdfStatus.FETCHED or not record.sha256:
        return None, None, None, None
    return fetcher.cached(record.sha256), record.url, record.sha256, record.size_bytes


def _record(database_url: str, paper_id: int, status: PdfStatus, **values: Any) -> None:
    with session_scope(database_url) as session:
        pdfs_q.record_pdf(session=session, paper_id=paper_id, status=status.value, **values)
