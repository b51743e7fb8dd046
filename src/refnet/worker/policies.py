"""How every RefNet task is run: redelivery safety, one retry policy, time limits.

Every task is idempotent (DESIGN.md §3), so all of them acknowledge late and are redelivered when
their worker dies. A `TransientError` is retried after a countdown that is the larger of an
exponential backoff with jitter and the error's `retry_after` (a `Retry-After` from an API, or the
time the shared rate limiter would have made the task wait): a worker never sleeps through it.
In-process (the embedded default) nothing waits: the error reaches the caller, which reports it.
"""

from __future__ import annotations

import inspect
import time
import typing
from functools import cached_property
from typing import Any, NoReturn

import structlog
from celery import Task
from celery.exceptions import Reject
from kombu.exceptions import OperationalError
from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from refnet.core.backoff import MAX_DELAY, task_retry_delay
from refnet.core.errors import InvalidInput, TransientError
from refnet.core.handoff import (
    BACKUP_DATABASE,
    BACKUP_VAULT,
    CRAWL_SEEDS,
    GENERATE_VAULT,
    RECRAWL_WATCHED,
    SUMMARIZE_JOB,
    SUMMARIZE_PAPERS,
    SUMMARIZE_PENDING,
)

log = structlog.get_logger(__name__)
MAX_RETRY_DELAY = MAX_DELAY
MAX_RETRIES = 8
# How long a task waits for an unreachable broker (Redis restarting) to take its retry.
BROKER_WAIT = 10 * 60
CRAWL_TIME_LIMIT = 3 * 3600

# (soft, hard) time limits in seconds. A soft limit lets a task hand its remaining work to a
# fresh task before the hard limit kills it.
TIME_LIMITS: dict[str, tuple[int, int]] = {
    CRAWL_SEEDS: (CRAWL_TIME_LIMIT - 300, CRAWL_TIME_LIMIT),
    SUMMARIZE_JOB: (240, 300),
    SUMMARIZE_PENDING: (240, 300),
    SUMMARIZE_PAPERS: (1500, 1800),
    GENERATE_VAULT: (1500, 1800),
    RECRAWL_WATCHED: (240, 300),
    BACKUP_DATABASE: (3 * 3600 - 300, 3 * 3600),
    BACKUP_VAULT: (3600 - 120, 3600),
}


def visibility_timeout(longest_queue_limit: int = 0) -> int:
    """How long the broker waits before handing a task that is still running (acks_late) or
    waiting for its countdown to a second worker: past every time limit and the longest retry
    delay."""
    longest = max(longest_queue_limit, *(hard for _, hard in TIME_LIMITS.values()))
    return int(longest + MAX_RETRY_DELAY + 600)


VISIBILITY_TIMEOUT = visibility_timeout()


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
        self.check_arguments(args, kwargs)
        try:
            return super().__call__(*args, **kwargs)
        except TransientError as exc:
            if self.request.is_eager or self.request.called_directly:
                raise
            countdown = task_retry_delay(self.request.retries, exc.retry_after)
            self.retry_when_the_broker_takes_it(exc, countdown)

    def retry_when_the_broker_takes_it(self, exc: TransientError, countdown: float) -> NoReturn:
        """`self.retry`, waiting for the broker while it cannot take the retry message: Celery
        would reject the delivery for good, and the work it stands for would be lost. Each try
        after the first publishes on a fresh connection (the pool's may be broken)."""
        try:
            raise self.retry(exc=exc, countdown=countdown) from exc
        except Reject as rejected:
            failure = rejected.args[0]
        deadline = time.monotonic() + BROKER_WAIT
        pause = 1.0
        while time.monotonic() < deadline:
            log.warning("task_retry_waits_for_broker", task=self.name, error=str(failure))
            time.sleep(pause)
            pause = min(pause * 2, 30.0)
            try:
                with self.app.connection_for_write() as connection:
                    connection.ensure_connection(max_retries=1)
                    producer = connection.Producer(auto_declare=False)
                    raise self.retry(exc=exc, countdown=countdown, producer=producer) from exc
            except Reject as rejected:
                failure = rejected.args[0]
            except OperationalError as error:
                failure = error
        raise Reject(failure, requeue=False)

    def check_arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """InvalidInput naming each malformed argument (a message from an older version, or one
        written by hand), before the task touches anything."""
        try:
            bound = inspect.signature(self.run).bind(*args, **kwargs)
            self._arguments.model_validate(bound.arguments)
        except TypeError as exc:
            raise InvalidInput(f"malformed arguments for {self.name}: {exc}") from None
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
                for error in exc.errors(include_url=False)
            )
            raise InvalidInput(f"malformed arguments for {self.name}: {problems}") from None

    @cached_property
    def _arguments(self) -> type[BaseModel]:
        hints = typing.get_type_hints(self.run)
        fields: dict[str, Any] = {
            name: (
                hints.get(name, Any),
                ... if parameter.default is inspect.Parameter.empty else parameter.default,
            )
            for name, parameter in inspect.signature(self.run).parameters.items()
        }
        return create_model("Arguments", __config__=ConfigDict(strict=True), **fields)

    def on_failure(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        if self.request.is_eager or self.request.called_directly:
            return  # the caller sees the error itself
        from refnet.worker import failures

        delivery = self.request.delivery_info or {}
        failures.record(
            task_id=task_id,
            task_name=self.name,
            queue=delivery.get("routing_key"),
            kwargs=kwargs or {},
            exc=exc,
            retries=self.request.retries,
        )
