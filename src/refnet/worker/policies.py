"""How every RefNet task is run: redelivery safety, one retry policy, time limits.

Every task is idempotent (DESIGN.md §3), so all of them acknowledge late and are redelivered when
their worker dies. A `TransientError` is retried after a countdown that is the larger of an
exponential backoff with jitter and the error's `retry_after` (a `Retry-After` from an API, or the
time the shared rate limiter would have made the task wait): a worker never sleeps through it.
In-process (the embedded default) nothing waits: the error reaches the caller, which reports it.
"""

from __future__ import annotations

from typing import Any

from celery import Task

from refnet.core.backoff import MAX_DELAY, task_retry_delay
from refnet.core.errors import TransientError
from refnet.core.handoff import (
    CRAWL_SEEDS,
    GENERATE_VAULT,
    SUMMARIZE_JOB,
    SUMMARIZE_PAPERS,
    SUMMARIZE_PENDING,
)

MAX_RETRY_DELAY = MAX_DELAY
MAX_RETRIES = 8
CRAWL_TIME_LIMIT = 3 * 3600

# (soft, hard) time limits in seconds. A soft limit lets a task hand its remaining work to a
# fresh task before the hard limit kills it.
TIME_LIMITS: dict[str, tuple[int, int]] = {
    CRAWL_SEEDS: (CRAWL_TIME_LIMIT - 300, CRAWL_TIME_LIMIT),
    SUMMARIZE_JOB: (240, 300),
    SUMMARIZE_PENDING: (240, 300),
    SUMMARIZE_PAPERS: (1500, 1800),
    GENERATE_VAULT: (1500, 1800),
}

# The broker must not hand a task that is still running (acks_late) or waiting for its countdown
# to a second worker before this.
VISIBILITY_TIMEOUT = int(max(hard for _, hard in TIME_LIMITS.values()) + MAX_RETRY_DELAY + 600)


def task_annotations() -> dict[str, dict[str, Any]]:
    return {
        name: {"soft_time_limit": soft, "time_limit": hard}
        for name, (soft, hard) in TIME_LIMITS.items()
    }


class RefNetTask(Task[..., Any]):
    """The base class of every task of the RefNet app."""

    acks_late = True
    reject_on_worker_lost = True
    max_retries = MAX_RETRIES

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except TransientError as exc:
            if self.request.is_eager or self.request.called_directly:
                raise
            countdown = task_retry_delay(self.request.retries, exc.retry_after)
            raise self.retry(exc=exc, countdown=countdown) from exc
