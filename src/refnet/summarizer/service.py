"""Summarizing one paper: claim it, find its best text, pay a provider at most once, store.

A summary is keyed by (paper, provider, model, prompt version, language). The provider's raw
answer is committed before it is parsed, so a worker that dies afterwards, or a retry, parses
the stored answer instead of paying again; an answer that was paid for but is unusable
(truncated, unparseable, a refusal) is final for its key: a new prompt version or model asks
again. Paid providers stop for the day when the daily token budget is spent; those summaries are
deferred, not failed.

Each paper's outcome is its own. A passing failure (a PDF host or the provider down) comes back
as `RETRY` with the seconds to wait, for the caller to try that paper again; after
`max_attempts` tries it is `failed`, and `refnet summarize --pending` gives it as many again. A
summary made from the abstract because the PDF host kept failing is remade from the PDF when that
PDF is due another try (`remake.py`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

import structlog

from refnet.core.backoff import MAX_DELAY, backoff_seconds
from refnet.core.errors import PermanentError, TransientError
from refnet.db.base import utcnow
from refnet.db.models import Paper, SummaryStatus
from refnet.db.queries import summaries as summaries_q
from refnet.db.queries.summaries import SummaryKey
from refnet.db.session import session_scope
from refnet.summarizer.outcome import RETRY, SummaryOutcome
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
from refnet.summarizer.remake import remake_from_pdf

log = structlog.get_logger(__name__)
NOTHING_TO_SUMMARIZE = "nothing to summarize: no open-access PDF text, abstract or TL;DR"
DURABLE_ATTEMPTS = 5  # writes of a paid answer, against a database that blinks
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Claim:
    paper: PaperText | None  # None: no such paper
    status: str | None = None  # the summary's status when it was not claimed
    claimed: bool = False
    attempts: int = 0  # tries of this summary so far, this one included
    remake: int | None = None  # a done summary's id, claimed to be remade from the PDF


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
    # The task delivery this summarizer works for: the same delivery after a crash takes back
    # its own claims at once.
    claimer: str | None = None

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
        if claim.remake is not None:
            return remake_from_pdf(self, claim.paper, claim.remake)
        if claim.status == SummaryStatus.ANSWERED:
            return self._finish(paper_id, self._stored_answer(paper_id))
        if not claim.claimed:
            return SummaryOutcome(claim.status or SummaryStatus.RUNNING.value)
        try:
            return self._summarize_claimed(claim.paper, claim.attempts)
        except BaseException:  # a soft time limit, a lost database: the next try starts over
            with session_scope(self.database_url) as session:
                summaries_q.release_summary(session=session, paper_id=paper_id, key=self.key)
            raise

    def _claim(self, paper_id: int) -> _Claim:
        with session_scope(self.database_url) as session:
            paper = session.get(Paper, paper_id)
            if paper is None:
                return _Claim(None)
            text = PaperText.of(paper)
            existing = summaries_q.get_summary(session=session, paper_id=paper_id, key=self.key)
            stale_before = utcnow() - self.stale_claim
            if existing is not None and existing.status == SummaryStatus.DONE:
                remake = summaries_q.claim_remake(
                    session=session, paper_id=paper_id, key=self.key, stale_before=stale_before
                )
                return _Claim(text, status=existing.status, remake=existing.id if remake else None)
            if existing is not None and (
                existing.status == SummaryStatus.ANSWERED or summaries_q.is_paid_failure(existing)
            ):
                return _Claim(text, status=existing.status)
            claimed = summaries_q.claim_summary(
                session=session,
                paper_id=paper_id,
                key=self.key,
                stale_before=stale_before,
                claimer=self.claimer,
            )
            attempts = (existing.attempts if existing is not None else 0) + 1
            return _Claim(text, claimed=claimed, attempts=attempts)

    def _summarize_claimed(self, paper: PaperText, attempts: int) -> SummaryOutcome:
        if self.provider.paid and self.budget_spent():
            self._set(
                paper.id, status=SummaryStatus.DEFERRED, error=self.budget_message(), attempts=0
            )
            return SummaryOutcome(SummaryStatus.DEFERRED.value)
        try:
            text = self.best_text(paper)
            if text is None:
                raise PermanentError(NOTHING_TO_SUMMARIZE)
            self._set(paper.id, status=SummaryStatus.RUNNING, input_kind=text.kind.value)
            answer = self.provider.answer(self.summary_input(paper, text))
        except TransientError as exc:
            return self._transient(paper.id, exc, attempts)
        except RefusedAnswer as refused:
            paid = refused.answer
            self.durably(lambda: self._store_answer(paper.id, paid))
            return self._fail(paper.id, str(refused))
        except PermanentError as exc:
            return self._fail(paper.id, str(exc))
        self.durably(lambda: self._store_answer(paper.id, answer))
        return self._finish(paper.id, answer)

    # -- shared with remakes ----------------------------------------------------------------

    def best_text(self, paper: PaperText) -> ChosenText | None:
        return best_text(
            paper=paper,
            database_url=self.database_url,
            fetcher=self.fetcher,
            reading=self.reading,
            max_chars=self.max_input_chars,
        )

    def summary_input(self, paper: PaperText, text: ChosenText) -> SummaryInput:
        return SummaryInput(
            title=paper.title, text=text.text, input_kind=text.kind.value, language=self.language
        )

    def durably(self, write: Callable[[], T]) -> T:
        """A write of something already paid for, retried in place while the database blinks."""
        for attempt in range(DURABLE_ATTEMPTS):
            try:
                return write()
            except TransientError:
                if attempt + 1 == DURABLE_ATTEMPTS:
                    raise
                time.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def budget_spent(self) -> bool:
        with session_scope(self.database_url) as session:
            used = summaries_q.tokens_used_today(session=session, provider=self.provider.name)
        return used >= self.daily_token_budget

    def budget_message(self) -> str:
        return (
            f"daily token budget of {self.daily_token_budget} tokens for {self.provider.name} "
            "is spent; deferred: `refnet summarize --pending` picks it up after midnight UTC"
        )

    # -- outcomes ---------------------------------------------------------------------------

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

    def _finish(self, paper_id: int, answer: ProviderAnswer) -> SummaryOutcome:
        try:
            fields = parse_answer(answer)
        except PermanentError as exc:
            return self._fail(paper_id, str(exc))
        self._set(
            paper_id,
            status=SummaryStatus.DONE,
            tldr=fields.tldr,
            summary=fields.summary,
            key_points=fields.key_points,
            keywords=fields.keywords,
            error=None,
            attempts=0,
        )
        log.info(
            "paper_summarized",
            paper_id=paper_id,
            provider=self.provider.name,
            tokens=answer.input_tokens + answer.output_tokens,
        )
        return SummaryOutcome(SummaryStatus.DONE.value)

    def _transient(self, paper_id: int, exc: TransientError, attempts: int) -> SummaryOutcome:
        if attempts >= self.max_attempts:
            reason = (
                f"{exc} (gave up after {attempts} attempts; `refnet summarize --pending` "
                "tries again)"
            )
            return self._fail(paper_id, reason)
        self._set(paper_id, status=SummaryStatus.PENDING, error=str(exc))
        wait = backoff_seconds(
            attempts - 1, base=self.retry_delay, cap=MAX_DELAY, at_least=exc.retry_after
        )
        log.info("summary_retry", paper_id=paper_id, attempts=attempts, retry_in=round(wait, 1))
        return SummaryOutcome(RETRY, retry_in=wait)

    def _fail(self, paper_id: int, reason: str) -> SummaryOutcome:
        """Failed; the next pending sweep gets all its attempts again (unless it was paid for)."""
        self._set(paper_id, status=SummaryStatus.FAILED, error=reason, attempts=0)
        log.warning("summary_failed", paper_id=paper_id, reason=reason)
        return SummaryOutcome(SummaryStatus.FAILED.value)

    def _set(self, paper_id: int, *, status: SummaryStatus, **values: Any) -> None:
        with session_scope(self.database_url) as session:
            summaries_q.set_summary(
                session=session,
                paper_id=paper_id,
                key=self.key,
                values={"status": status.value, **values},
            )


def summarize_until_settled(
    summarizer: Summarizer, paper_ids: Sequence[int], settled: Callable[[], None]
) -> Counter[str]:
    """Summarize papers here and now: a paper that fails for a passing reason is tried again
    after the others (each try counts an attempt, so this ends); `settled` is called per paper."""
    outcomes: Counter[str] = Counter()
    todo = list(paper_ids)
    while todo:
        again = []
        for paper_id in todo:
            outcome = summarizer.summarize(paper_id)
            if outcome.status == RETRY:
                again.append(paper_id)
                continue
            outcomes[outcome.status] += 1
            settled()
        todo = again
    return outcomes
