"""Summaries from any OpenAI-compatible Chat Completions server, through the official SDK.

`base_url` selects the server: OpenAI itself when unset, or a local Ollama
(`http://localhost:11434/v1`), vLLM, LM Studio… Local servers need no key, so an absent key is
sent as a dummy ("not-needed"; never the OPENAI_API_KEY of the environment). JSON output is
requested with `response_format={"type": "json_object"}` unless `json_mode=False`, for servers
that reject the parameter; `parse_answer` copes with the fences and prose such models add.

The SDK retries 408/409/429/5xx, timeouts and dropped connections `max_retries` times,
honouring `retry-after-ms`/`retry-after` up to two minutes (longer: it gives up at once).
What is left is mapped to RefNet's errors: 429 (but an exhausted quota), 408/409, 5xx,
timeouts and connection failures are `TransientError` with the server's retry-after; other 4xx
are `PermanentError` with the API's message, redacted (OpenAI echoes a masked key on 401). A
refusal or the content filter is a `PermanentError`; `finish_reason == "length"` marks the
answer `truncated`. Local servers count as paid: an answer is expensive to recompute.
"""

from __future__ import annotations

import time

import openai
from openai.types.chat import ChatCompletion

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

NO_KEY = "not-needed"
_RETRYABLE_STATUSES = frozenset({408, 409, 429})
_PERMANENT_CODES = frozenset({"insufficient_quota"})  # a 429 that waiting does not fix


class OpenAICompatibleProvider:
    """`SummaryProvider` for OpenAI and OpenAI-compatible servers."""

    name = "openai"
    paid = True

    def __init__(
        self,
        *,
        api_key: str | None,
        model: str,
        base_url: str | None = None,
        max_tokens: int = 1024,
        timeout: float = 60.0,
        max_retries: int = 2,
        json_mode: bool = True,
    ) -> None:
        self.model = model
        self.max_tokens = max_tokens
        self.json_mode = json_mode
        self._api_key = api_key
        self._server = f"the server at {base_url}" if base_url else "the OpenAI API"
        self._client = openai.OpenAI(
            api_key=api_key or NO_KEY, base_url=base_url, timeout=timeout, max_retries=max_retries
        )

    def __repr__(self) -> str:
        base_url = str(self._client.base_url)
        return f"OpenAICompatibleProvider(model={self.model!r}, base_url={base_url!r})"

    def answer(self, item: SummaryInput) -> ProviderAnswer:
        system, user = build_prompt(item)
        started = time.monotonic()
        try:
            completion = self._client.chat.completions.create(
                model=self.model,
                messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
                max_tokens=self.max_tokens,
                response_format={"type": "json_object"} if self.json_mode else openai.omit,
            )
        except openai.OpenAIError as exc:
            error = self._error(exc)
            log_failure(self, exc, error)
            raise error from None
        answer, finish_reason = _answer(completion)
        log_answer(self, item, answer, started=started, finish_reason=finish_reason)
        _check_refusal(completion, answer)
        return answer

    def _error(self, exc: Exception) -> Exception:
        server = self._server
        if isinstance(exc, openai.APITimeoutError):
            return TransientError(f"{server} did not answer in time")
        if isinstance(exc, openai.APIConnectionError):
            return TransientError(f"could not connect to {server}")
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            detail = redact(error_detail(exc.body) or "no message", self._api_key)
            message = f"OpenAI-compatible API error {status}: {detail}"
            if status == 400 and self.json_mode and "response_format" in detail:
                message += " (this server may not support JSON mode; turn it off)"
            if exc.code in _PERMANENT_CODES:
                return PermanentError(message)
            if status in _RETRYABLE_STATUSES or status >= 500:
                retry_after = retry_after_seconds(exc.response.headers)
                return TransientError(message, retry_after=retry_after)
            return PermanentError(message)
        return PermanentError(f"OpenAI-compatible API call failed: {type(exc).__name__}")


def _answer(completion: ChatCompletion) -> tuple[ProviderAnswer, str | None]:
    if not completion.choices:
        raise PermanentError("the server answered without any choice")
    choice = completion.choices[0]
    usage = completion.usage
    answer = ProviderAnswer(
        text=choice.message.content or "",
        input_tokens=usage.prompt_tokens if usage else 0,
        output_tokens=usage.completion_tokens if usage else 0,
        truncated=choice.finish_reason == "length",
    )
    return answer, choice.finish_reason


def _check_refusal(completion: ChatCompletion, answer: ProviderAnswer) -> None:
    choice = completion.choices[0]
    if choice.message.refusal:
        reason = f"the model refused to summarize this paper: {choice.message.refusal}"
        raise RefusedAnswer(reason, answer)
    if choice.finish_reason == "content_filter":
        raise RefusedAnswer("the provider's content filter stopped the answer", answer)
