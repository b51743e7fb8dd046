"""Pipeline hand-off between components: task names, retry policies, and enqueueing by name.

Components never import each other: a stage finishes its transaction, then starts the next by
its stable task name. On the embedded default the Celery app runs tasks eagerly, so the same
calls run the next stage in this process.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

import redis
import structlog
from celery import Celery

from refnet.core.config import get_settings
from refnet.core.errors import TransientError

log = structlog.get_logger(__name__)

CRAWL_SEEDS = "refnet.crawler.crawl_seeds"
SUMMARIZE_JOB = "refnet.summarizer.summarize_job"
SUMMARIZE_PENDING = "refnet.summarizer.summarize_pending"
SUMMARIZE_PAPERS = "refnet.summarizer.summarize_papers"
GENERATE_VAULT = "refnet.generator.generate_vault"

# Longest hard time limit below, plus the longest retry delay: the broker must not hand a task
# that is still running (acks_late) to a second worker before this.
CRAWL_TIME_LIMIT = 3 * 3600
MAX_RETRY_DELAY = 1800
VISIBILITY_TIMEOUT = CRAWL_TIME_LIMIT + MAX_RETRY_DELAY + 600

_RETRYING: dict[str, Any] = {
    "autoretry_for": (TransientError,),
    "retry_backoff": 15,
    "retry_backoff_max": MAX_RETRY_DELAY,
    "retry_jitter": True,
    "max_retries": 8,
    "acks_late": True,
    "reject_on_worker_lost": True,
}
CRAWL_POLICY: dict[str, Any] = {
    **_RETRYING,
    "soft_time_limit": CRAWL_TIME_LIMIT - 300,
    "time_limit": CRAWL_TIME_LIMIT,
}
SUMMARIZE_POLICY: dict[str, Any] = {**_RETRYING, "soft_time_limit": 1500, "time_limit": 1800}
SWEEP_POLICY: dict[str, Any] = {**_RETRYING, "soft_time_limit": 240, "time_limit": 300}
GENERATE_POLICY: dict[str, Any] = {**_RETRYING, "soft_time_limit": 1500, "time_limit": 1800}

VAULT_UPDATE_FLAG = "refnet:generator:vault-update-requested"


_pipeline_app: Celery | None = None


def use_app(app: Celery | None) -> Celery | None:
    """Make `app` the one every hand-off goes through (the worker module registers its own);
    returns the one it replaces."""
    global _pipeline_app
    previous, _pipeline_app = _pipeline_app, app
    return previous


def pipeline_app() -> Celery:
    """The registered Celery app; importing the worker module registers the configured one.

    Never Celery's `current_app`, which may be an unconfigured default that silently sends to
    amqp://localhost.
    """
    if _pipeline_app is None:
        import_module("refnet.worker.celery_app")
    assert _pipeline_app is not None
    return _pipeline_app


def enqueue(task_name: str, **kwargs: Any) -> None:
    """Start a task by name (in this process when tasks run eagerly)."""
    pipeline_app().signature(task_name, kwargs=kwargs).apply_async()
    log.info("task_enqueued", task=task_name)


def request_vault_update() -> None:
    """Ask for one incremental vault generation.

    With Redis, at most one request waits in the queue: the generator clears the flag before it
    reads what changed, so a change committed after that asks again and is never lost.
    """
    redis_url = get_settings().redis_url
    if pipeline_app().conf.task_always_eager or not redis_url:
        enqueue(GENERATE_VAULT)
        return
    client = redis.Redis.from_url(redis_url)
    try:
        if client.set(VAULT_UPDATE_FLAG, "1", nx=True, ex=6 * 3600):
            enqueue(GENERATE_VAULT)
    finally:
        client.close()


def vault_update_started() -> None:
    redis_url = get_settings().redis_url
    if pipeline_app().conf.task_always_eager or not redis_url:
        return
    client = redis.Redis.from_url(redis_url)
    try:
        client.delete(VAULT_UPDATE_FLAG)
    finally:
        client.close()
