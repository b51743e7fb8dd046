"""Summarizing one paper: claim it, find its best text, pay a provider at most once, store.

A summary is keyed by (paper, provider, model, prompt version, language). The provider's raw
answer is committed before it is parsed, so a worker that dies afterwards, or a retry, parses
the stored answer instead of paying again; an answer that was paid for but is unusable
(truncated, unparseable, a refusal) is final for its key: a new prompt version or model asks
again. Paid providers stop for the day when the daily
token budget is spent; those summaries are deferred, not failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from refnet.core.errors import PermanentError, TransientError
from refnet.db.base import utcnow
from refnet.db.models import InputKind, Paper, SummaryStatus
from refnet.db.queries import summaries as summaries_q
from refnet.db.queries.summaries import SummaryKey
from refnet.db.session import session_scope
from refnet.summarizer.paper_text import PaperText, best_text
from refnet.summarizer.pdf import PdfFetcher
from refnet.summarizer.prompts import PROMPT_VERSION
from refnet.summarizer.providers.base import (
    ProviderAnswer,
    RefusedAnswer,
    SummaryInput,
    SummaryProvider,
    parse_answer,
)

log = structlog.get_logger(__name__)
NOTHING_TO_SUMMARIZE = "nothing to summarize: no open-access PDF text, abstract or TL;DR"


@dataclass
class Summarizer:
    database_url: str
    provider: SummaryProvider
    language: str = "en"
    fetcher: PdfFetcher | None = None  # None: summarize abstracts only
    max_pages: int = 40
    max_input_chars: int = 60_000
    daily_token_budget: int = 2_000_000
    stale_claim: timedelta = summaries_q.STALE_CLAIM

    @property
    def key(self) -> SummaryKey:
        return SummaryKey(
            provider=self.provider.name,
            model=self.provider.model,
            prompt_version=PROMPT_VERSION,
            language=self.language,
        )

    def summarize(self, paper_id: int) -> str:
        """Summarize one paper; returns the summary's status afterwards.

        Raises TransientError (after recording it) when a later retry may succeed.
        """
        claimed, status, paper = self._claim(paper_id)
        if paper is None:
            log.info("summary_skipped_missing_paper", paper_id=paper_id)
            return "missing"
        if status == SummaryStatus.ANSWERED:
            return self._finish(paper_id, self._stored_answer(paper_id))
        if not claimed:
            return status or "busy"
        if self.provider.paid and self._budget_spent():
            self._set(paper_id, status=SummaryStatus.DEFERRED, error=self._budget_message())
            return SummaryStatus.DEFERRED.value
        try:
            text = best_text(
                paper=paper,
                database_url=self.database_url,
                fetcher=self.fetcher,
                max_pages=self.max_pages,
                max_chars=self.max_input_chars,
            )
            if text is None:
                raise PermanentError(NOTHING_TO_SUMMARIZE)
            answer = self._ask(paper, text)
        except TransientError as exc:
            self._set(paper_id, status=SummaryStatus.PENDING, error=str(exc))
            raise
        except RefusedAnswer as exc:
            self._store_answer(paper_id, exc.answer)
            self._set(paper_id, status=SummaryStatus.FAILED, error=str(exc))
            return SummaryStatus.FAILED.value
        except PermanentError as exc:
            self._set(paper_id, status=SummaryStatus.FAILED, error=str(exc))
            log.warning("summary_failed", paper_id=paper_id, reason=str(exc))
            return SummaryStatus.FAILED.value
        return self._finish(paper_id, answer)

    def _claim(self, paper_id: int) -> tuple[bool, str | None, PaperText | None]:
        with session_scope(self.database_url) as session:
            paper = session.get(Paper, paper_id)
            if paper is None:
                return False, None, None
            existing = summaries_q.get_summary(session=session, paper_id=paper_id, key=self.key)
            if existing is not None and (
                existing.status in (SummaryStatus.DONE, SummaryStatus.ANSWERED)
                or summaries_q.is_paid_failure(existing)
            ):
                return False, existing.status, PaperText.of(paper)
            claimed = summaries_q.claim_summary(
                session=session,
                paper_id=paper_id,
                key=self.key,
                stale_before=utcnow() - self.stale_claim,
            )
            return claimed, None if claimed else SummaryStatus.RUNNING.value, PaperText.of(paper)

    def _ask(self, paper: PaperText, text: tuple[str, InputKind]) -> ProviderAnswer:
        body, kind = text
        self._set(paper.id, status=SummaryStatus.RUNNING, input_kind=kind.value)
        item = SummaryInput(
            title=paper.title, text=body, input_kind=kind.value, language=self.language
        )
        answer = self.provider.answer(item)
        self._store_answer(paper.id, answer)
        return answer

    def _store_answer(self, paper_id: int, answer: ProviderAnswer) -> None:
        """Commit what was paid for before anything else can go wrong."""
        self._set(
            paper_id,
            status=SummaryStatus.ANSWERED,
            raw_response=answer.text,
            input_tokens=answer.input_tokens,
            output_tokens=answer.output_tokens,
            completed_at=utcnow(),
            error=None,
        )

    def _stored_answer(self, paper_id: int) -> ProviderAnswer:
        with session_scope(self.database_url) as session:
            summary = summaries_q.get_summary(session=session, paper_id=paper_id, key=self.key)
            assert summary is not None and summary.raw_response is not None
            return ProviderAnswer(
                text=summary.raw_response,
                input_tokens=summary.input_tokens,
                output_tokens=summary.output_tokens,
                truncated=False,
            )

    def _finish(self, paper_id: int, answer: ProviderAnswer) -> str:
        try:
            fields = parse_answer(answer)
        except PermanentError as exc:
            self._set(paper_id, status=SummaryStatus.FAILED, error=str(exc))
            log.warning("summary_failed", paper_id=paper_id, reason=str(exc))
            return SummaryStatus.FAILED.value
        self._set(
            paper_id,
            status=SummaryStatus.DONE,
            tldr=fields.tldr,
            summary=fields.summary,
            key_points=fields.key_points,
            keywords=fields.keywords,
            error=None,
        )
        log.info(
            "paper_summarized",
            paper_id=paper_id,
            provider=self.provider.name,
            tokens=answer.input_tokens + answer.output_tokens,
        )
        return SummaryStatus.DONE.value

    def _budget_spent(self) -> bool:
        with session_scope(self.database_url) as session:
            used = summaries_q.tokens_used_since(
                session=session, provider=self.provider.name, since=_start_of_day()
            )
        return used >= self.daily_token_budget

    def _budget_message(self) -> str:
        return (
            f"daily token budget of {self.daily_token_budget} tokens for {self.provider.name} "
            "is spent; deferred: `refnet summarize --pending` picks it up after midnight UTC"
        )

    def _set(self, paper_id: int, *, status: SummaryStatus, **values: Any) -> None:
        with session_scope(self.database_url) as session:
            summaries_q.set_summary(
                session=session,
                paper_id=paper_id,
                key=self.key,
                values={"status": status.value, **values},
            )


def _start_of_day() -> datetime:
    now = utcnow()
    return now.replace(hour=0, minute=0, second=0, microsecond=0)
