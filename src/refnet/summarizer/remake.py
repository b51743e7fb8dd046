"""Remaking a summary from the PDF it had to do without.

A summary made from the abstract because the PDF host kept failing is remade once its PDF is
due another try (`summaries_q.remake_due`). The summary stays done and unchanged throughout, so
notes keep showing it; the remake has a claim of its own, and the provider's answer is kept in
`remake_response` before it is parsed, so a worker that dies afterwards never pays again. If
the PDF is still out of reach, or the new answer is unusable, the summary stays as it was.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from refnet.core.errors import PermanentError, TransientError
from refnet.db.base import utcnow
from refnet.db.models import InputKind, Summary, SummaryStatus
from refnet.db.queries import pdfs as pdfs_q
from refnet.db.queries import summaries as summaries_q
from refnet.db.session import session_scope
from refnet.summarizer.outcome import SummaryOutcome
from refnet.summarizer.paper_text import PaperText
from refnet.summarizer.providers.base import ProviderAnswer, RefusedAnswer, parse_answer

if TYPE_CHECKING:
    from refnet.summarizer.service import Summarizer

log = structlog.get_logger(__name__)


def remake_from_pdf(summarizer: Summarizer, paper: PaperText, summary_id: int) -> SummaryOutcome:
    """Remake the claimed summary `summary_id` from the paper's PDF, if it can be had now."""
    try:
        answer = _kept_answer(summarizer, summary_id) or _ask(summarizer, paper, summary_id)
        if answer is not None:
            _apply(summarizer, paper, summary_id, answer)
    finally:
        with session_scope(summarizer.database_url) as session:
            summaries_q.release_remake(session=session, summary_id=summary_id)
    return SummaryOutcome(SummaryStatus.DONE.value)


def _kept_answer(summarizer: Summarizer, summary_id: int) -> ProviderAnswer | None:
    """A remake answer paid for by a worker that died before parsing it."""
    with session_scope(summarizer.database_url) as session:
        summary = session.get(Summary, summary_id)
        if summary is None or summary.remake_response is None:
            return None
        return ProviderAnswer(summary.remake_response, 0, 0, truncated=False)


def _ask(summarizer: Summarizer, paper: PaperText, summary_id: int) -> ProviderAnswer | None:
    if summarizer.provider.paid and summarizer.budget_spent():
        return None  # the claim expires and the remake is offered again
    try:
        text = summarizer.best_text(paper)  # fetches the PDF, recording how that went
        if text is None or text.kind != InputKind.PDF:
            return None  # still out of reach: the PDF record says when to try again
        answer = summarizer.provider.answer(summarizer.summary_input(paper, text))
    except TransientError as exc:
        log.info("summary_remake_postponed", paper_id=paper.id, reason=str(exc))
        with session_scope(summarizer.database_url) as session:
            retry_at = utcnow() + summarizer.reading.retry_later
            pdfs_q.retry_pdf_later(session=session, paper_id=paper.id, retry_at=retry_at)
        return None
    except RefusedAnswer as refused:
        _keep(summarizer, summary_id, refused.answer)
        log.warning("summary_remake_refused", paper_id=paper.id, reason=str(refused))
        return None
    _keep(summarizer, summary_id, answer)
    return answer


def _keep(summarizer: Summarizer, summary_id: int, answer: ProviderAnswer) -> None:
    def store() -> None:
        with session_scope(summarizer.database_url) as session:
            summaries_q.store_remake_answer(
                session=session,
                summary_id=summary_id,
                text=answer.text,
                input_tokens=answer.input_tokens,
                output_tokens=answer.output_tokens,
            )

    summarizer.durably(store)


def _apply(
    summarizer: Summarizer, paper: PaperText, summary_id: int, answer: ProviderAnswer
) -> None:
    try:
        fields = parse_answer(answer)
    except PermanentError as exc:  # paid for, but unusable: the summary stays as it was
        log.warning("summary_remake_unusable", paper_id=paper.id, reason=str(exc))
        with session_scope(summarizer.database_url) as session:
            summaries_q.end_remake(session=session, summary_id=summary_id)
        return
    with session_scope(summarizer.database_url) as session:
        summaries_q.end_remake(
            session=session,
            summary_id=summary_id,
            values={
                "input_kind": InputKind.PDF.value,
                "tldr": fields.tldr,
                "summary": fields.summary,
                "key_points": fields.key_points,
                "keywords": fields.keywords,
                "raw_response": answer.text,
                "error": None,
            },
        )
    log.info("paper_summary_remade", paper_id=paper.id, provider=summarizer.provider.name)
