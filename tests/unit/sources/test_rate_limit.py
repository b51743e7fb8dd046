"""The in-memory limiter spaces requests evenly and backs everyone off after a penalty."""

from __future__ import annotations

import itertools
import threading

import pytest

from refnet.sources.rate_limit import (
    MemoryRateLimiter,
    RateLimitWait,
    RedisRateLimiter,
    make_rate_limiter,
)


class FakeClock:
    """A clock that only moves when someone sleeps on it."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def acquire_times(limiter: MemoryRateLimiter, clock: FakeClock, count: int) -> list[float]:
    times = []
    for _ in range(count):
        limiter.acquire()
        times.append(clock.now)
    return times


def gaps(times: list[float]) -> list[float]:
    return [round(b - a, 9) for a, b in itertools.pairwise(times)]


def test_first_request_goes_out_at_once() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(2.0, clock=clock, sleep=clock.sleep)

    limiter.acquire()

    assert clock.now == 1000.0
    assert clock.sleeps == []


def test_back_to_back_requests_are_spaced_by_the_interval() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(4.0, clock=clock, sleep=clock.sleep)

    times = acquire_times(limiter, clock, 6)

    assert gaps(times) == [0.25] * 5


def test_an_idle_limiter_does_not_bank_slots_for_a_burst() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(1.0, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    clock.now += 30.0  # nobody asked for half a minute

    times = acquire_times(limiter, clock, 3)

    assert times[0] == 1030.0
    assert gaps(times) == [1.0, 1.0]


def test_penalize_pushes_the_next_slot_back() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(10.0, clock=clock, sleep=clock.sleep)
    limiter.acquire()

    limiter.penalize(5.0)
    times = acquire_times(limiter, clock, 2)

    assert times == [1005.0, 1005.1]


def test_penalize_never_brings_slots_forward() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(0.5, clock=clock, sleep=clock.sleep)
    limiter.acquire()  # next slot at +2s

    limiter.penalize(0.5)
    limiter.acquire()

    assert clock.now == 1002.0


def test_threads_sharing_a_limiter_get_distinct_evenly_spaced_slots() -> None:
    clock = FakeClock(start=0.0)  # frozen: each reservation's wait is its slot
    limiter = MemoryRateLimiter(50.0, clock=clock, sleep=clock.sleep)
    slots: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(25):
            wait = limiter.reserve()
            with lock:
                slots.append(wait)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(round(slot, 6) for slot in slots) == [round(i * 0.02, 6) for i in range(200)]


@pytest.mark.parametrize("rate", [0.0, -1.0])
def test_a_rate_must_be_positive(rate: float) -> None:
    with pytest.raises(ValueError, match="rate_per_second"):
        MemoryRateLimiter(rate)


def test_make_rate_limiter_picks_memory_without_redis_url() -> None:
    assert isinstance(make_rate_limiter(rate_per_second=1.0, redis_url=None), MemoryRateLimiter)


def test_make_rate_limiter_picks_redis_with_a_url() -> None:
    # Building the client does not connect, so no server is needed here.
    limiter = make_rate_limiter(rate_per_second=1.0, redis_url="redis://127.0.0.1:1/0")
    assert isinstance(limiter, RedisRateLimiter)
    assert limiter.interval == 1.0


def test_a_caller_will_not_wait_past_its_limit_and_reserves_nothing() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(1.0, clock=clock, sleep=clock.sleep)
    limiter.penalize(3600.0)  # Semantic Scholar asked every worker to wait an hour

    with pytest.raises(RateLimitWait) as refused:
        limiter.acquire(max_wait=60.0)

    assert refused.value.retry_after == pytest.approx(3600.0)
    assert clock.sleeps == []  # the caller was not held
    assert limiter.reserve() == pytest.approx(3600.0)  # and took no slot from anyone


def test_a_caller_that_wakes_late_pushes_the_next_slot_back() -> None:
    clock = FakeClock()

    def late_sleep(seconds: float) -> None:  # a busy process: the thread resumes 0.3 s late
        clock.sleep(seconds + 0.3)

    limiter = MemoryRateLimiter(1.0, clock=clock, sleep=late_sleep)
    limiter.acquire()
    limiter.acquire()  # due at +1.0, really goes at +1.3
    woke = clock.now

    assert limiter.reserve() == pytest.approx(woke + 1.0 - clock.now)  # a full interval after
