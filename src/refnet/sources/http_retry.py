"""JSON over HTTP with pacing and retries, for the Semantic Scholar client.

This is the part of the client that is not about the API's resources. Every attempt waits for
the rate limiter first. 429/500/502/503/504, timeouts, dropped connections and unparseable 200
bodies are retried with full-jitter exponential backoff; a `Retry-After` header is honoured (at
least that long) and passed to the limiter so every worker backs off. Neither a `Retry-After`
longer than `backoff_cap` nor a limiter slot further away than `max_wait` is slept through: the
call fails at once with `TransientError(retry_after=...)` so the task layer reschedules it.
Other 4xx answers become `PermanentError`/`NotFound` at once.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import structlog

from refnet.core.errors import NotFound, PermanentError, TransientError
from refnet.core.gcpause import gc_paused
from refnet.core.metrics import S2_RATE_LIMIT_WAIT, S2_REQUESTS
from refnet.sources.rate_limit import RateLimiter

log = structlog.get_logger(__name__)

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
_RETRYABLE_EXCEPTIONS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
_MAX_DETAIL = 300


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = 6
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    max_wait: float = 60.0  # longest wait for the rate limiter before giving the call back
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Full jitter on `base * 2**attempt` (capped), never less than `retry_after`."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2.0**attempt)
        return max(self.rng.uniform(0.0, ceiling), retry_after or 0.0)


class RetryableFailure(Exception):
    """One failed attempt that may succeed if repeated."""

    def __init__(
        self, reason: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: delta-seconds (decimals allowed) or a date."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def error_detail(response: httpx.Response) -> str:
    """The API's own words for an error (`error` or `message`), else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, Mapping):
        for key in ("error", "message"):
            if isinstance(body.get(key), str) and body[key].strip():
                return str(body[key]).strip()[:_MAX_DETAIL]
    text = response.text.strip()
    return text[:_MAX_DETAIL] if text else response.reason_phrase or "no details"


def _failure_for_status(response: httpx.Response, what: str) -> Exception:
    status = response.status_code
    detail = error_detail(response)
    if status in RETRYABLE_STATUSES:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return RetryableFailure(f"HTTP {status}: {detail}", status, retry_after)
    if status == 404:
        return NotFound(f"{what}: not found (HTTP 404: {detail})")
    hint = "; check the API key" if status in (401, 403) else ""
    return PermanentError(f"{what}: refused (HTTP {status}: {detail}){hint}")


def outcome_of(status: int) -> str:
    """A response's status as the outcome label of `refnet_s2_requests_total`."""
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "server_error"
    if status >= 400:
        return "client_error"
    return "ok"


def decode_json(response: httpx.Response, *, what: str, expect: type) -> Any:
    """The JSON body of a 2xx answer, or the failure to raise for any other answer."""
    if not response.is_success:
        raise _failure_for_status(response, what)
    try:
        with gc_paused():  # a large answer is a burst of small objects that form no cycles
            body = response.json()
    except ValueError as exc:
        raise RetryableFailure(f"malformed JSON body ({exc})", response.status_code) from exc
    if not isinstance(body, expect):
        got = type(body).__name__
        raise RetryableFailure(
            f"expected a JSON {expect.__name__}, got {got}", response.status_code
        )
    return body


@dataclass(slots=True)
class RetryingJsonClient:
    """Sends requests through `http`, paced by `limiter`, retried by `policy`."""

    http: httpx.Client
    limiter: RateLimiter
    policy: RetryPolicy
    service: str
    sleep: Callable[[float], None] = time.sleep
    attempts_made: int = 0  # HTTP requests sent, retries included
    _count_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def request(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        expect: type,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
    ) -> Any:
        """JSON body of `method path`; `endpoint` is the path template used in logs and errors."""
        what = f"{self.service} {endpoint}"
        attempts = self.policy.max_retries + 1
        for attempt in range(attempts):
            try:
                return self._attempt(
                    method, path, what=what, expect=expect, params=params, json=json
                )
            except RetryableFailure as failure:
                if attempt + 1 >= attempts or self._too_long(failure):
                    raise self._give_up(failure, endpoint=endpoint, attempts=attempt + 1) from None
                self._back_off(failure, endpoint=endpoint, attempt=attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(
        self,
        method: str,
        path: str,
        *,
        what: str,
        expect: type,
        params: Mapping[str, str | int] | None,
        json: Any,
    ) -> Any:
        waited = time.perf_counter()
        self.limiter.acquire(max_wait=self.policy.max_wait)
        S2_RATE_LIMIT_WAIT.inc(time.perf_counter() - waited)
        with self._count_lock:
            self.attempts_made += 1
        try:
            response = self.http.request(method, path, params=params, json=json)
        except _RETRYABLE_EXCEPTIONS as exc:
            S2_REQUESTS.labels("network_error").inc()
            raise RetryableFailure(f"{type(exc).__name__}: {exc}".rstrip(": ")) from exc
        S2_REQUESTS.labels(outcome_of(response.status_code)).inc()
        return decode_json(response, what=what, expect=expect)

    def _too_long(self, failure: RetryableFailure) -> bool:
        if failure.retry_after is None or failure.retry_after <= self.policy.backoff_cap:
            return False
        self.limiter.penalize(failure.retry_after)
        return True

    def _back_off(self, failure: RetryableFailure, *, endpoint: str, attempt: int) -> None:
        delay = self.policy.delay(attempt, failure.retry_after)
        if failure.retry_after:
            self.limiter.penalize(failure.retry_after)
        log.warning(
            "s2_request_retry",
            endpoint=endpoint,
            status=failure.status,
            reason=failure.reason,
            attempt=attempt + 1,
            delay=round(delay, 3),
            retry_after=failure.retry_after,
        )
        S2_RATE_LIMIT_WAIT.inc(delay)
        self.sleep(delay)

    def _give_up(
        self, failure: RetryableFailure, *, endpoint: str, attempts: int
    ) -> TransientError:
        log.error(
            "s2_request_failed",
            endpoint=endpoint,
            status=failure.status,
            reason=failure.reason,
            attempts=attempts,
        )
        message = f"{self.service} did not answer after {attempts} attempts: {failure.reason}"
        return TransientError(message, retry_after=failure.retry_after)
