"""Summaries from Anthropic's Messages API, through the official SDK.

The SDK retries 408/409/429/5xx (529 "overloaded" included), timeouts and dropped connections
`max_retries` times, honouring `retry-after-ms`/`retry-after`. It would sleep through any
`retry-after`, even an hour's, holding a worker: a middleware stops at `MAX_SDK_RETRY_WAIT`
and the call fails with `TransientError(retry_after=…)` so the task layer reschedules instead.

What is left when the SDK gives up is mapped to RefNet's errors: rate limits, overload, 5xx,
timeouts and connection failures are `TransientError` (with the server's retry-after);
authentication, permission, bad request, not found and other 4xx are `PermanentError` with the
API's own message. A refusal (`stop_reason == "refusal"`) is a `PermanentError`; hitting the
token limit (`max_tokens`, or the context window) marks the answer `truncated`. Errors are
raised `from None` and redacted: the key never reaches a message, a traceback or a log.
"""

from __future__ import annotations

import time
from typing import Any

import anthropic

from refnet.core.errors import PermanentError, TransientError
from refnet.summarizer.prompts import build_prompt
from refnet.summarizer.providers.base import (
    ProviderAnswer,
    RefusedAnswer,
    SummaryInput,
    error_detail,
    log_answer,
    log_failure,
    redact,
    retry_after_seconds,
)

MAX_SDK_RETRY_WAIT = 120.0  # seconds; a longer retry-after is the task layer's to wait out
_TRUNCATED_STOPS = frozenset({"max_tokens", "model_context_window_exceeded"})
_RETRYABLE_STATUSES = frozenset({408, 409, 429})


class RetryAfterTooLong(Exception):
    """The API asked to wait longer than the SDK should sleep inside one call."""

    def __init__(self, status: int, retry_after: float) -> None:
        super().__init__(f"HTTP {status}, retry after {retry_after:.0f} s")
        self.status = status
        self.retry_after = retry_after


class _RefuseLongRetryAfter(anthropic.Middleware):
    def handle(
        self, request: anthropic.APIRequest, call_next: anthropic.CallNext
    ) -> anthropic.APIResponse[Any]:
        response = call_next(request)
        status = response.status_code
        if status in _RETRYABLE_STATUSES or status >= 500:
            wait = retry_after_seconds(response.headers)
            if wait is not None and wait > MAX_SDK_RETRY_WAIT:
                response.http_response.close()
                raise RetryAfterTooLong(status, wait)
        return response


class AnthropicProvider:
    """`SummaryProvider` for Claude models."""

    name = "anthropic"
    paid = True

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str | None = None,
        max_tokens: int = 1024,
        timeout: float = 60.0,
        max_retries: int = 2,
    ) -> None:
        self.model = model
        self.max_tokens = max_tokens
        self._api_key = api_key
        self._client = anthropic.Anthropic(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            middleware=[_RefuseLongRetryAfter()],
        )

    def __repr__(self) -> str:
        return f"AnthropicProvider(model={self.model!r}, base_url={str(self._client.base_url)!r})"

    def answer(self, item: SummaryInput) -> ProviderAnswer:
        system, user = build_prompt(item)
        started = time.monotonic()
        try:
            message = self._client.messages.create(
                model=self.model,
                max_tokens=self.max_tokens,
                system=system,
                messages=[{"role": "user", "content": user}],
            )
        except (anthropic.AnthropicError, RetryAfterTooLong) as exc:
            error = self._error(exc)
            log_failure(self, exc, error)
            raise error from None
        usage = message.usage
        answer = ProviderAnswer(
            text="".join(block.text for block in message.content if block.type == "text"),
            input_tokens=usage.input_tokens
            + (usage.cache_creation_input_tokens or 0)
            + (usage.cache_read_input_tokens or 0),
            output_tokens=usage.output_tokens,
            truncated=message.stop_reason in _TRUNCATED_STOPS,
        )
        log_answer(self, item, answer, started=started, stop_reason=message.stop_reason)
        if message.stop_reason == "refusal":
            raise RefusedAnswer(_refusal_reason(message), answer)
        return answer

    def _error(self, exc: Exception) -> Exception:
        if isinstance(exc, RetryAfterTooLong):
            return TransientError(
                f"Anthropic API answered HTTP {exc.status} and asked to wait "
                f"{exc.retry_after:.0f} s",
                retry_after=exc.retry_after,
            )
        if isinstance(exc, anthropic.APITimeoutError):
            return TransientError("the Anthropic API did not answer in time")
        if isinstance(exc, anthropic.APIConnectionError):
            return TransientError("could not connect to the Anthropic API")
        if isinstance(exc, anthropic.APIStatusError):
            status = exc.status_code
            detail = redact(error_detail(exc.body) or "no message", self._api_key)
            message = f"Anthropic API error {status}: {detail}"
            if status in _RETRYABLE_STATUSES or status >= 500:
                retry_after = retry_after_seconds(exc.response.headers)
                return TransientError(message, retry_after=retry_after)
            return PermanentError(message)
        return PermanentError(f"Anthropic API call failed: {type(exc).__name__}")


def _refusal_reason(message: anthropic.types.Message) -> str:
    reason = "the model refused to summarize this paper"
    details = message.stop_details
    if details is not None and details.category:
        reason += f" (policy category: {details.category})"
    if details is not None and details.explanation:
        reason += f": {details.explanation}"
    return reason
