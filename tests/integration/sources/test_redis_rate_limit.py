"""The Redis limiter paces requests across OS processes, as Celery workers are."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import time
import uuid
from collections.abc import Iterator
from multiprocessing.queues import Queue

import pytest
import redis

from refnet.core.errors import TransientError
from refnet.sources.rate_limit import RateLimitWait, RedisRateLimiter
from tests.conftest import _unavailable

pytestmark = pytest.mark.redis

RATE = 20.0
INTERVAL = 1.0 / RATE
PROCESSES = 4
ACQUIRES_EACH = 10
# A process records its time after its local sleep ends; wake-up lateness differs a little
# between processes, so one gap may come out slightly short of the interval.
TOLERANCE = 0.4 * INTERVAL


@pytest.fixture
def limiter_redis_url() -> str:
    url = os.environ.get("REFNET_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        _unavailable("Redis", exc)
    return url


@pytest.fixture
def key(limiter_redis_url: str) -> Iterator[str]:
    name = f"refnet:test:ratelimit:{uuid.uuid4().hex}"
    yield name
    redis.Redis.from_url(limiter_redis_url).delete(name)


def acquire_many(
    limiter: RedisRateLimiter, start_at: float, count: int, out: Queue[list[float]]
) -> None:
    """Child process: wait for the common start, then take `count` slots."""
    time.sleep(max(0.0, start_at - time.time()))
    stamps = []
    for _ in range(count):
        limiter.acquire()
        stamps.append(time.time())
    out.put(stamps)


def run_processes(limiter: RedisRateLimiter) -> list[float]:
    ctx = multiprocessing.get_context("spawn")
    out: Queue[list[float]] = ctx.Queue()
    start_at = time.time() + 3.0  # time for the spawned interpreters to import everything
    workers = [
        ctx.Process(target=acquire_many, args=(limiter, start_at, ACQUIRES_EACH, out))
        for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    stamps = [stamp for _ in workers for stamp in out.get(timeout=60)]
    for worker in workers:
        worker.join(timeout=10)
        assert worker.exitcode == 0
    return sorted(stamps)


def test_processes_sharing_the_limiter_are_spaced_by_the_interval(
    limiter_redis_url: str, key: str
) -> None:
    limiter = RedisRateLimiter(limiter_redis_url, rate_per_second=RATE, key=key)

    stamps = run_processes(limiter)

    gaps = [later - earlier for earlier, later in itertools.pairwise(stamps)]
    assert len(stamps) == PROCESSES * ACQUIRES_EACH
    assert min(gaps) >= INTERVAL - TOLERANCE, sorted(gaps)[:5]
    assert stamps[-1] - stamps[0] >= (len(stamps) - 1) * INTERVAL - TOLERANCE
    # No one-second window holds more requests than the rate allows.
    busiest = max(sum(1 for t in stamps if start <= t < start + 1.0) for start in stamps)
    assert busiest <= RATE + 1


def test_a_penalty_seen_by_one_process_delays_everyone(limiter_redis_url: str, key: str) -> None:
    refused = RedisRateLimiter(limiter_redis_url, rate_per_second=RATE, key=key)
    other = RedisRateLimiter(limiter_redis_url, rate_per_second=RATE, key=key)

    refused.penalize(2.0)
    wait = other.reserve()

    assert 1.8 <= wait <= 2.0


def test_state_expires_after_the_last_reserved_slot(limiter_redis_url: str, key: str) -> None:
    limiter = RedisRateLimiter(limiter_redis_url, rate_per_second=RATE, key=key)

    limiter.acquire()

    ttl_ms = redis.Redis.from_url(limiter_redis_url).pttl(key)
    assert 0 < ttl_ms <= 61_000


def test_an_unreachable_redis_is_a_transient_error() -> None:
    limiter = RedisRateLimiter("redis://127.0.0.1:1/0", rate_per_second=RATE)

    with pytest.raises(TransientError, match="rate limiter unavailable"):
        limiter.acquire()


def test_a_worker_will_not_wait_past_its_limit_for_a_shared_slot(
    limiter_redis_url: str, key: str
) -> None:
    refused, other = (
        RedisRateLimiter(limiter_redis_url, rate_per_second=1.0, key=key) for _ in range(2)
    )
    refused.penalize(3600.0)

    started = time.monotonic()
    with pytest.raises(RateLimitWait) as waited:
        other.acquire(max_wait=60.0)

    assert time.monotonic() - started < 1.0
    assert 3590 < (waited.value.retry_after or 0) <= 3600
    assert 3590 < refused.reserve() <= 3600  # nothing was reserved by the refused call
