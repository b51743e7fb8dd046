"""Exponential backoff with jitter, shared by every retry that waits outside a request loop."""

from __future__ import annotations

import random

MAX_DELAY = 1800.0  # no retry waits longer: the broker's patience is set from it
TASK_BACKOFF_BASE = 15.0


def backoff_seconds(
    retries: int,
    *,
    base: float,
    cap: float,
    at_least: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds before the next try after `retries` earlier retries: `base * 2**retries` (at most
    `cap`) with equal jitter (half fixed, half random), never less than `at_least` (e.g. a
    `Retry-After`), never more than `cap`."""
    ceiling = min(cap, base * 2.0 ** max(retries, 0))
    delay = ceiling / 2 + (rng or random).uniform(0.0, ceiling / 2)
    return min(cap, max(delay, at_least or 0.0))


def task_retry_delay(retries: int, retry_after: float | None = None) -> float:
    """Countdown before a task's retry number `retries + 1`: never less than `retry_after`."""
    return backoff_seconds(retries, base=TASK_BACKOFF_BASE, cap=MAX_DELAY, at_least=retry_after)
