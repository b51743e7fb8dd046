"""Request rate limits per user (else per client address), by category, with `limits`.

Categories: `login` (sign-in and refresh, per client address), `read` (GET), `write` (other
changes), `crawl` (crawl triggers, on top of `write`). Limits come from RATE_LIMIT__*; counters
live in Redis when REDIS_URL is set, so every API process shares them, else in this process.

Every limited answer carries `RateLimit-Limit`; a refusal is a 429 with `Retry-After`,
`RateLimit-Remaining: 0` and `RateLimit-Reset`. If the counter store is unreachable, requests
pass (logged): an outage of Redis must not take reads down with it. Sign-in attempts are held by
the lockout instead, which fails closed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import structlog
from limits import RateLimitItem, parse
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string

from refnet.api.errors import ApiError
from refnet.core.config import Settings

log = structlog.get_logger(__name__)
CATEGORIES = ("login", "read", "write", "crawl")


@dataclass(frozen=True, slots=True)
class Verdict:
    limit: RateLimitItem
    allowed: bool
    retry_after: int = 0

    def headers(self) -> dict[str, str]:
        headers = {"RateLimit-Limit": str(self.limit.amount)}
        if not self.allowed:
            headers["RateLimit-Remaining"] = "0"
            headers["RateLimit-Reset"] = str(self.retry_after)
            headers["Retry-After"] = str(self.retry_after)
        return headers


class RateLimits:
    def __init__(self, settings: Settings) -> None:
        configured = settings.rate_limit
        self.items = {name: parse(getattr(configured, name)) for name in CATEGORIES}
        if settings.redis_url:
            storage = storage_from_string(
                f"async+{settings.redis_url}",
                implementation="redispy",
                key_prefix="refnet:ratelimit",
                socket_timeout=1.0,
                socket_connect_timeout=1.0,
            )
        else:
            storage = storage_from_string("async+memory://")
        self.limiter = SlidingWindowCounterRateLimiter(storage)

    async def check(self, category: str, key: str) -> Verdict:
        item = self.items[category]
        try:
            if await self.limiter.hit(item, category, key):
                return Verdict(item, True)
            stats = await self.limiter.get_window_stats(item, category, key)
        except Exception as exc:  # the store's own errors differ by backend
            log.warning("rate_limit_store_unavailable", reason=type(exc).__name__)
            return Verdict(item, True)
        retry = max(1, math.ceil(stats.reset_time - time.time()))
        return Verdict(item, False, retry)

    async def enforce(self, category: str, key: str) -> dict[str, str]:
        """The headers to add to the answer; ApiError 429 when the limit is spent."""
        verdict = await self.check(category, key)
        if not verdict.allowed:
            raise ApiError(
                429,
                f"too many {category} requests; try again in {verdict.retry_after} s",
                headers=verdict.headers(),
            )
        return verdict.headers()
