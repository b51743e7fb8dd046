"""Hand-off between pipeline stages: stable task names, and starting a task by name.

Components never import each other, nor the Celery wiring in `refnet.worker`: a stage commits
its transaction, then asks for the next one by name through the dispatcher that the process's
entry point installed (`refnet.worker.dispatch`): Celery queues in the stack, or this process,
one task after another, on the embedded default.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

import structlog

from refnet.core.config import get_settings

log = structlog.get_logger(__name__)

CRAWL_SEEDS = "refnet.crawler.crawl_seeds"
SUMMARIZE_JOB = "refnet.summarizer.summarize_job"
SUMMARIZE_PENDING = "refnet.summarizer.summarize_pending"
SUMMARIZE_PAPERS = "refnet.summarizer.summarize_papers"
GENERATE_VAULT = "refnet.generator.generate_vault"
RECRAWL_WATCHED = "refnet.crawler.recrawl_watched"
BACKUP_DATABASE = "refnet.maintenance.backup_database"
BACKUP_VAULT = "refnet.maintenance.backup_vault"
PRUNE_BACKUPS = "refnet.maintenance.prune_backups"
CHECK_HEALTH = "refnet.maintenance.check_health"
REPORT_STATISTICS = "refnet.maintenance.report_statistics"

VAULT_UPDATE_FLAG = "refnet:generator:vault-update-requested"
VAULT_UPDATE_FLAG_SECONDS = 6 * 3600


class Dispatcher(Protocol):
    """Starts tasks by name."""

    @property
    def runs_in_process(self) -> bool:
        """True when tasks run in the calling process rather than on workers."""
        ...

    def send(self, task_name: str, kwargs: Mapping[str, Any], *, countdown: float | None) -> None:
        """Start `task_name(**kwargs)`, not before `countdown` seconds where it can wait."""
        ...


class NoDispatcher(RuntimeError):
    """A stage tried to start another before the process's entry point set up dispatching."""


_dispatcher: Dispatcher | None = None


def use_dispatcher(dispatcher: Dispatcher | None) -> Dispatcher | None:
    """Install the dispatcher every hand-off goes through; returns the one it replaces."""
    global _dispatcher
    previous, _dispatcher = _dispatcher, dispatcher
    return previous


def current_dispatcher() -> Dispatcher:
    if _dispatcher is None:
        raise NoDispatcher(
            "no task dispatcher is set up: entry points (the refnet command, workers, the API) "
            "call refnet.worker.dispatch.start_dispatching() first"
        )
    return _dispatcher


def enqueue(task_name: str, *, countdown: float | None = None, **kwargs: Any) -> None:
    """Start a task by name (in this process when tasks run in-process)."""
    log.info("task_enqueued", task=task_name, countdown=countdown)
    current_dispatcher().send(task_name, kwargs, countdown=countdown)


def request_vault_update() -> None:
    """Ask for one incremental vault generation.

    With Redis, at most one request waits in the queue: the generator clears the flag before it
    reads what changed, so a change committed after that asks again and is never lost. In one
    process the dispatcher coalesces identical waiting tasks itself.
    """
    with _vault_flag() as flag:
        if flag is None or flag.set(VAULT_UPDATE_FLAG, "1", nx=True, ex=VAULT_UPDATE_FLAG_SECONDS):
            enqueue(GENERATE_VAULT)


def vault_update_started() -> None:
    with _vault_flag() as flag:
        if flag is not None:
            flag.delete(VAULT_UPDATE_FLAG)


@contextmanager
def _vault_flag() -> Iterator[Any]:
    """The Redis holding the vault-update flag; None in one process or without Redis."""
    redis_url = get_settings().redis_url
    if current_dispatcher().runs_in_process or not redis_url:
        yield None
        return
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        client.close()
