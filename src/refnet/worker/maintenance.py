"""Maintenance tasks (queue `maintenance`): backups, their retention, health, statistics.

A backup is not idempotent (each run makes a file), so one run of a kind at a time holds a Redis
lock, renewed while it runs: a duplicate delivered while it runs does nothing, a message
redelivered after its run finished finds its own completion mark and does nothing either, and one
redelivered because its process died waits for the dead run's lock to lapse (a minute), then
does the work.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
import structlog
from celery import shared_task
from redis.exceptions import LockError
from redis.lock import Lock

from refnet.core.config import get_settings
from refnet.core.errors import TransientError
from refnet.core.handoff import (
    BACKUP_DATABASE,
    BACKUP_VAULT,
    CHECK_HEALTH,
    PRUNE_BACKUPS,
    REPORT_STATISTICS,
)
from refnet.db.queries.operations import statistics
from refnet.db.session import session_scope

log = structlog.get_logger(__name__)
# A run renews its lock every LOCK_SECONDS / 3; the lock of a run that died lapses by itself.
LOCK_SECONDS = 60
DONE_SECONDS = 24 * 3600


@contextmanager
def renewed(lock: Lock) -> Iterator[None]:
    """Keep `lock` from lapsing while the body runs, however long it takes."""
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(LOCK_SECONDS / 3):
            with contextlib.suppress(LockError, redis.RedisError):
                lock.reacquire()

    renewer = threading.Thread(target=renew, name="maintenance-lock", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join()


@contextmanager
def once(task_id: str | None, key: str) -> Iterator[bool]:
    """True when this delivery should do the work: no other run of `key` holds the lock and this
    task id has not finished before. Without Redis (in-process), always True.

    A delivery whose own earlier delivery still holds the lock (its process was killed mid-run,
    and the message came back) is retried once that lock has lapsed: the work is done, once."""
    redis_url = get_settings().redis_url
    if not redis_url or task_id is None:
        yield True
        return

    client = redis.Redis.from_url(redis_url)
    done_key = f"refnet:maintenance:done:{task_id}"
    lock = client.lock(f"refnet:maintenance:lock:{key}", timeout=LOCK_SECONDS, blocking=False)
    try:
        if client.exists(done_key):
            log.info("maintenance_skipped", work=key, reason="done already")
            yield False
            return
        if not lock.acquire(token=task_id):
            if client.get(lock.name) == task_id.encode():
                lapses_in = max(int(client.pttl(lock.name)), 0) / 1000  # type: ignore[arg-type]
                raise TransientError(
                    f"an earlier delivery of this task holds the {key} lock", retry_after=lapses_in
                )
            log.info("maintenance_skipped", work=key, reason="running elsewhere")
            yield False
            return
        try:
            with renewed(lock):
                yield True
            client.set(done_key, "1", ex=DONE_SECONDS)
        finally:
            with contextlib.suppress(LockError):
                lock.release()
    finally:
        client.close()


def _backup(task_id: str | None, kind: str) -> dict[str, Any]:
    from refnet.ops.backup import create_backup

    with once(task_id, f"backup:{kind}") as mine:
        if not mine:
            return {"skipped": True}
        info = create_backup(settings=get_settings(), kind=kind)
        return {"name": info.name, "bytes": info.size, "seconds": round(info.duration_seconds, 3)}


@shared_task(name=BACKUP_DATABASE, bind=True)
def backup_database(self: Any) -> dict[str, Any]:
    """A verified-on-write backup of the database (pg_dump, or SQLite's online backup)."""
    return _backup(self.request.id, "database")


@shared_task(name=BACKUP_VAULT, bind=True)
def backup_vault(self: Any) -> dict[str, Any]:
    """An archive of the vault."""
    return _backup(self.request.id, "vault")


@shared_task(name=PRUNE_BACKUPS)
def prune_backups() -> dict[str, Any]:
    """Remove backups past the retention settings (BACKUP__KEEP_*)."""
    from refnet.ops.backup import prune_backups as prune

    removed = prune(settings=get_settings())
    return {"removed": len(removed)}


@shared_task(name=CHECK_HEALTH, bind=True)
def check_health(self: Any) -> dict[str, Any]:
    """Check every part, store and log the findings."""
    from refnet.worker.health import run_health_checks

    findings = run_health_checks(get_settings(), app=self.app)
    problems = [f"{check.part}: {check.detail}" for check in findings if not check.ok]
    return {"checks": len(findings), "problems": problems}


@shared_task(name=REPORT_STATISTICS)
def report_statistics() -> dict[str, int]:
    """Log the network's size and the pipeline's state (kept as the entry's last outcome)."""
    with session_scope(get_settings().effective_database_url) as session:
        counts = statistics(session=session)
    log.info("statistics_report", **counts)
    return counts
