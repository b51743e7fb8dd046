"""Request pacing for Semantic Scholar: evenly spaced slots, shared by every caller.

Each `acquire()` atomically reserves the next free slot (`slot = max(now, next_free)`,
`next_free = slot + interval`) and sleeps until it, so N callers together never exceed the
rate. `penalize(seconds)` pushes the next free slot back, e.g. after a 429 with `Retry-After`,
so every user of the limiter backs off, not only the one that was refused.

A caller that wakes late from its wait (a busy process: another thread held the interpreter)
pushes the next free slot to a full interval after it actually proceeds, so two requests never
leave closer together than the rate allows.

`acquire(max_wait=…)` never blocks longer than that: when the next free slot is further away
it reserves nothing and raises `RateLimitWait` (a `TransientError` whose `retry_after` is the
wait), so a worker's task is re-queued with that countdown instead of holding the worker.

`MemoryRateLimiter` serves the threads of one process (embedded mode); `RedisRateLimiter`
keeps the state in one Redis key updated by a Lua script that uses Redis `TIME` as the clock,
so the pacing holds across worker processes and hosts whatever their local clocks say.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from refnet.core.errors import TransientError

DEFAULT_REDIS_KEY = "refnet:ratelimit:semantic_scholar"
# State outlives the last reserved slot by this much, then Redis drops the key.
_KEY_GRACE_MS = 60_000

# KEYS[1] = state key (next free slot, microseconds on the Redis clock)
# ARGV[1] = interval in microseconds; ARGV[2] = penalty in microseconds (0 for acquire)
# ARGV[3] = grace in milliseconds; ARGV[4] = longest wait the caller accepts (microseconds, -1:
# any). Returns how long the caller must wait for its slot, in microseconds (0 for a penalty);
# a wait longer than ARGV[4] reserves nothing and comes back negated.
_LUA_RESERVE = """
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local penalty = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[4])
local next_free = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local wait = 0
if penalty > 0 then
  next_free = math.max(next_free, now + penalty)
else
  local slot = math.max(now, next_free)
  wait = slot - now
  if max_wait >= 0 and wait > max_wait then
    return string.format('%.0f', -wait)
  end
  next_free = slot + interval
end
local ttl_ms = math.floor((next_free - now) / 1000) + tonumber(ARGV[3])
redis.call('SET', KEYS[1], string.format('%.0f', next_free), 'PX', ttl_ms)
return string.format('%.0f', wait)
"""


class RateLimitWait(TransientError):
    """The next free slot is further away than the caller will wait; nothing was reserved."""

    def __init__(self, wait: float) -> None:
        super().__init__(
            f"Semantic Scholar's rate limit asks us to wait {wait:.0f}s", retry_after=wait
        )


class RateLimiter(Protocol):
    """Paces requests to one upstream API."""

    def acquire(self, max_wait: float | None = None) -> None:
        """Block until the caller may send one request; RateLimitWait rather than block for
        longer than `max_wait` seconds."""
        ...

    def penalize(self, seconds: float) -> None:
        """Push the next free slot at least `seconds` into the future, for every user."""
        ...


def _interval(rate_per_second: float) -> float:
    if rate_per_second <= 0:
        raise ValueError(f"rate_per_second must be positive, got {rate_per_second!r}")
    return 1.0 / rate_per_second


class MemoryRateLimiter:
    """Thread-safe limiter for one process."""

    def __init__(
        self,
        rate_per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = _interval(rate_per_second)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_free = float("-inf")

    def reserve(self, max_wait: float | None = None) -> float:
        """Reserve the next slot; return how many seconds to wait for it."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_free)
            if max_wait is not None and slot - now > max_wait:
                raise RateLimitWait(slot - now)
            self._next_free = slot + self.interval
            return slot - now

    def acquire(self, max_wait: float | None = None) -> None:
        wait = self.reserve(max_wait)
        if wait > 0:
            self._sleep(wait)
            self.penalize(self.interval)  # count the interval from when we really go

    def penalize(self, seconds: float) -> None:
        if seconds <= 0:
            return
        with self._lock:
            self._next_free = max(self._next_free, self._clock() + seconds)


class RedisRateLimiter:
    """Limiter shared by every process that uses the same Redis key."""

    def __init__(
        self,
        redis_url: str,
        *,
        rate_per_second: float,
        key: str = DEFAULT_REDIS_KEY,
    ) -> None:
        self.interval = _interval(rate_per_second)
        self.key = key
        self._redis_url = redis_url
        self._rate = rate_per_second
        import redis  # only processes that share a limiter pay for importing the client

        self._errors: tuple[type[Exception], ...] = (redis.RedisError,)
        self._client = redis.Redis.from_url(redis_url)
        self._script = self._client.register_script(_LUA_RESERVE)

    def __reduce__(self) -> tuple[Any, ...]:
        # Picklable (e.g. for multiprocessing): the copy opens its own connection pool.
        factory = functools.partial(
            RedisRateLimiter, self._redis_url, rate_per_second=self._rate, key=self.key
        )
        return (factory, ())

    def _run(self, *, penalty_us: int, max_wait_us: int = -1) -> int:
        interval_us = max(1, round(self.interval * 1_000_000))
        args = [interval_us, penalty_us, _KEY_GRACE_MS, max_wait_us]
        try:
            result = self._script(keys=[self.key], args=args)
        except self._errors as exc:
            raise TransientError(f"rate limiter unavailable: {exc}") from exc
        return int(result)

    def reserve(self, max_wait: float | None = None) -> float:
        """Reserve the next slot; return how many seconds to wait for it."""
        max_wait_us = -1 if max_wait is None else round(max_wait * 1_000_000)
        wait_us = self._run(penalty_us=0, max_wait_us=max_wait_us)
        if wait_us < 0:
            raise RateLimitWait(-wait_us / 1_000_000)
        return wait_us / 1_000_000

    def acquire(self, max_wait: float | None = None) -> None:
        wait = self.reserve(max_wait)
        if wait > 0:
            time.sleep(wait)
            self.penalize(self.interval)  # count the interval from when we really go

    def penalize(self, seconds: float) -> None:
        if seconds > 0:
            self._run(penalty_us=max(1, round(seconds * 1_000_000)))

    def close(self) -> None:
        self._client.close()


def make_rate_limiter(*, rate_per_second: float, redis_url: str | None) -> RateLimiter:
    """The Redis limiter when a URL is configured (the stack), else the in-memory one."""
    if redis_url:
        return RedisRateLimiter(redis_url, rate_per_second=rate_per_second)
    return MemoryRateLimiter(rate_per_second)
