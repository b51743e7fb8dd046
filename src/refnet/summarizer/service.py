"""Summarizing one paper: claim it, find its best text, pay a provider at most once, store.

A summary is keyed by (paper, provider, model, prompt version, language). The provider's raw
answer is committed before it is parsed, so a worker that dies afterwards, or a retry, parses
the stored answer instead of paying again; an answer that was paid for but is unusable
(truncated, unparseable, a refusal) is final for its key: a new prompt version or model asks
again. Paid providers stop for the day when the daily token budget is spent; those summaries are
deferred, not failed.

Each paper's outcome is its own. A passing failure (a PDF host or the provider down) comes back
as `RETRY` with the seconds to wait, for the caller to try that paper again; after
`max_attempts` claims it is `failed`, and the pending sweep offers it again later. A summary made
from the abstract because the PDF host kept failing is made again from the PDF when that PDF is
due another try (`summaries_q.upgradable`); if the PDF still cannot be read, the summary stays
as it was and nothing is paid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog

from refnet.core.backoff import backoff_seconds
from refnet.core.errors import PermanentError, TransientError
from refnet.db.base import utcnow
from refnet.db.models import InputKind, Paper, Summary, SummaryStatus
from refnet.db.queries import summaries as summaries_q
from refnet.db.queries.summaries import SummaryKey
from refnet.db.session import session_scope
from refnet.summarizer.paper_text import ChosenText, PaperText, PdfReading, best_text
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
RETRY = "retry"  # outcome: try this paper again after `retry_in` seconds
RETRY_MAX_SECONDS = 1800.0


@dataclass(frozen=True, slots=True)
class SummaryOutcome:
    """`status`: a SummaryStatus value, "missing", "busy" or RETRY."""

    status: str
    retry_in: float | None = None


@dataclass(frozen=True, slots=True)
class _Claim:
    paper: PaperText | None
    claimed: bool
    status: str | None  # the summary's status when not claimed
    attempts: int = 0  # claims of this summary so far, this one included
    upgrade_from: str | None = None  # input kind of the done summary being made again


@dataclass
class Summarizer:
    database_url: str
    provider: SummaryProvider
    language: str = "en"
    fetcher: PdfFetcher | None = None  # None: summarize abstracts only
    reading: PdfReading = field(default_factory=PdfReading)
    max_input_chars: int = 60_000
    daily_token_budget: int = 2_000_000
    max_attempts: int = 5
    retry_delay: float = 30.0  # before the first retry of a paper; doubles with each attempt
    stale_claim: timedelta = summaries_q.STALE_CLAIM

    @property
    def key(self) -> SummaryKey:
        return SummaryKey(
            provider=self.provider.name,
            model=self.provider.model,
            prompt_version=PROMPT_VERSION,
            language=self.language,
        )

    def close(self) -> None:
        if self.fetcher is not None:
            self.fetcher.close()

    def summarize(self, paper_id: int) -> SummaryOutcome:
        """Summarize one paper, or say why not yet (see the module docstring)."""
        claim = self._claim(paper_id)
        if claim.paper is None:
            log.info("summary_skipped_missing_paper", paper_id=paper_id)
            return SummaryOutcome("missing")
        if claim.status == SummaryStatus.ANSWERED:
            return self._finish(paper_id, self._stored_answer(paper_id), None)
        if not claim.claimed:
            return SummaryOutcome(claim.status or "busy")
        try:
            return self._summarize_claimed(claim.paper, claim)
        except BaseException:  # a soft time limit, a lost database: the next try starts over
            self._release(paper_id, claim.upgrade_from)
            raise

    def _summarize_claimed(self, paper: PaperText, claim: _Claim) -> SummaryOutcome:
        upgrade_from = claim.upgrade_from
        if self.provider.paid and self._budget_spent():
            if upgrade_from:
                return self._keep(paper.id, upgrade_from)
            self._set(paper.id, status=SummaryStatus.DEFERRED, error=self._budget_message())
            return SummaryOutcome(SummaryStatus.DEFERRED.value)
        try:
            text = best_text(
                paper=paper,
                database_url=self.database_url,
                fetcher=self.fetcher,
                reading=self.reading,
                max_chars=self.max_input_chars,
            )
            if upgrade_from and (text is None or text.kind != InputKind.PDF):
                return self._keep(paper.id, upgrade_from)  # the PDF is still out of reach
            if text is None:
                raise PermanentError(NOTHING_TO_SUMMARIZE)
            answer = self._ask(paper, text)
        except TransientError as exc:
            return self._transient(paper.id, exc, claim)
        except RefusedAnswer as exc:
            self._store_answer(paper.id, exc.answer)
            return self._fail(paper.id, str(exc), upgrade_from)
        except PermanentError as exc:
            return self._fail(paper.id, str(exc), upgrade_from)
        return self._finish(paper.id, answer, upgrade_from)

    def _claim(self, paper_id: int) -> _Claim:
        with session_scope(self.database_url) as session:
            paper = session.get(Paper, paper_id)
            if paper is None:
                return _Claim(None, False, None)
            text = PaperText.of(paper)
            existing = summaries_q.get_summary(session=session, paper_id=paper_id, key=self.key)
            upgrade = existing is not None and self._upgradable(session, existing)
            if existing is not None and not upgrade and _settled(existing):
                return _Claim(text, False, existing.status)
            claimed = summaries_q.claim_summary(
                session=session,
                paper_id=paper_id,
                key=self.key,
                stale_before=utcnow() - self.stale_claim,
                upgrade=upgrade,
            )
            if not claimed:
                return _Claim(text, False, SummaryStatus.RUNNING.value)
            if existing is None:
                return _Claim(text, True, None, attempts=1)
            upgrade_from = (existing.input_kind or InputKind.ABSTRACT.value) if upgrade else None
            return _Claim(text, True, None, existing.attempts + 1, upgrade_from)

    @staticmethod
    def _upgradable(session: Any, summary: Summary) -> bool:
        if summary.status != SummaryStatus.DONE or summary.input_kind == InputKind.PDF:
            return False
        return summaries_q.is_upgradable(session=session, summary_id=summary.id, now=utcnow())

    def _ask(self, paper: PaperText, text: ChosenText) -> ProviderAnswer:
        self._set(paper.id, status=SummaryStatus.RUNNING, input_kind=text.kind.value)
        item = SummaryInput(
            title=paper.title, text=text.text, input_kind=text.kind.value, language=self.language
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

    def _finish(
        self, paper_id: int, answer: ProviderAnswer, upgrade_from: str | None
    ) -> SummaryOutcome:
        try:
            fields = parse_answer(answer)
        except PermanentError as exc:
            return self._fail(paper_id, str(exc), upgrade_from)
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
        return SummaryOutcome(SummaryStatus.DONE.value)

    def _transient(self, paper_id: int, exc: TransientError, claim: _Claim) -> SummaryOutcome:
        attempts = claim.attempts
        if claim.upgrade_from:
            self._keep(paper_id, claim.upgrade_from)
            with session_scope(self.database_url) as session:
                summaries_q.retry_pdf_later(
                    session=session, paper_id=paper_id, retry_at=utcnow() + self.reading.retry_later
                )
            return SummaryOutcome(SummaryStatus.DONE.value)
        if attempts >= self.max_attempts:
            reason = (
                f"{exc} (gave up after {attempts} attempts; `refnet summarize --pending` "
                "tries again)"
            )
            return self._fail(paper_id, reason, None)
        self._set(paper_id, status=SummaryStatus.PENDING, error=str(exc))
        wait = backoff_seconds(
            attempts - 1, base=self.retry_delay, cap=RETRY_MAX_SECONDS, at_least=exc.retry_after
        )
        log.info("summary_retry", paper_id=paper_id, attempts=attempts, retry_in=round(wait, 1))
        return SummaryOutcome(RETRY, retry_in=wait)

    def _fail(self, paper_id: int, reason: str, upgrade_from: str | None) -> SummaryOutcome:
        if upgrade_from:
            log.warning("summary_upgrade_failed", paper_id=paper_id, reason=reason)
            return self._keep(paper_id, upgrade_from)
        self._set(paper_id, status=SummaryStatus.FAILED, error=reason)
        log.warning("summary_failed", paper_id=paper_id, reason=reason)
        return SummaryOutcome(SummaryStatus.FAILED.value)

    def _keep(self, paper_id: int, input_kind: str) -> SummaryOutcome:
        """Leave a done summary as it was (made from `input_kind`)."""
        self._set(paper_id, status=SummaryStatus.DONE, input_kind=input_kind)
        return SummaryOutcome(SummaryStatus.DONE.value)

    def _release(self, paper_id: int, upgrade_from: str | None) -> None:
        """Give a claim back, unless the paid answer is already stored (it must be parsed)."""
        status = SummaryStatus.DONE if upgrade_from else SummaryStatus.PENDING
        with session_scope(self.database_url) as session:
            summaries_q.release_summary(
                session=session,
                paper_id=paper_id,
                key=self.key,
                status=status,
                input_kind=upgrade_from,
            )

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


def _settled(summary: Summary) -> bool:
    return summary.status in (
        SummaryStatus.DONE,
        SummaryStatus.ANSWERED,
    ) or summaries_q.is_paid_failure(summary)


def _start_of_day() -> datetime:
    now = utcnow()
    return now.replace(hour=0, minute=0, second=0, microsecond=0)
