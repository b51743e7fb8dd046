"""The best text to summarize a paper from: its open-access PDF, else its abstract or TL;DR."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from refnet.db.models import InputKind, Paper, PdfStatus
from refnet.db.queries import summaries as summaries_q
from refnet.db.session import session_scope
from refnet.summarizer.extract import ExtractionError, extract_text
from refnet.summarizer.pdf import PdfFetcher, PdfUnavailable, pdf_locations

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


def best_text(
    *,
    paper: PaperText,
    database_url: str,
    fetcher: PdfFetcher | None,
    max_pages: int,
    max_chars: int,
) -> tuple[str, InputKind] | None:
    """(text, kind) to summarize, or None when the paper offers nothing.

    PDF problems (none available, corrupt, encrypted, scanned) are recorded on the paper's PDF
    record and the abstract is used instead; a PDF host that is down raises TransientError.
    """
    if fetcher is not None:
        text = _pdf_text(paper, database_url, fetcher, max_pages, max_chars)
        if text:
            return text, InputKind.PDF
    if paper.abstract:
        return paper.abstract[:max_chars], InputKind.ABSTRACT
    if paper.tldr:
        return paper.tldr, InputKind.TLDR
    return None


def _pdf_text(
    paper: PaperText, database_url: str, fetcher: PdfFetcher, max_pages: int, max_chars: int
) -> str | None:
    locations = pdf_locations(
        open_access_pdf_url=paper.open_access_pdf_url,
        arxiv_id=paper.arxiv_id,
        external_ids=paper.external_ids,
    )
    if not locations:
        return None
    path, url, sha256, size = _cached_pdf(paper.id, database_url, fetcher)
    if path is None:
        try:
            fetched = fetcher.fetch(locations)
        except PdfUnavailable as exc:
            _record(database_url, paper.id, PdfStatus.UNAVAILABLE, error=str(exc))
            return None
        path, url, sha256, size = fetched.path, fetched.url, fetched.sha256, fetched.size
    try:
        extracted = extract_text(path, max_pages=max_pages)
    except ExtractionError as exc:
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
    return extracted.prioritized(max_chars) or None


def _cached_pdf(
    paper_id: int, database_url: str, fetcher: PdfFetcher
) -> tuple[Path | None, str | None, str | None, int | None]:
    with session_scope(database_url) as session:
        record = summaries_q.get_pdf(session=session, paper_id=paper_id)
        if record is None or record.status != PdfStatus.FETCHED or not record.sha256:
            return None, None, None, None
        return fetcher.cached(record.sha256), record.url, record.sha256, record.size_bytes


def _record(database_url: str, paper_id: int, status: PdfStatus, **values: Any) -> None:
    with session_scope(database_url) as session:
        summaries_q.record_pdf(session=session, paper_id=paper_id, status=status.value, **values)
