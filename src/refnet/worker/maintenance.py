"""Maintenance tasks (queue `maintenance`): backups, their retention, health, statistics.

A backup is not idempotent (each run makes a file), so one run of a kind at a time holds a Redis
lock: a duplicate delivered while it runs does nothing, and a message redelivered after its run
finished finds its own completion mark and does nothing either.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog
from celery import shared_task

from refnet.core.config import get_settings
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
LOCK_SECONDS = 3 * 3600
DONE_SECONDS = 24 * 3600


@contextmanager
def once(task_id: str | None, key: str) -> Iterator[bool]:
    """True when this delivery should do the work: no other run of `key` holds the lock and this
    task id has not finished before. Without Redis (in-process), always True."""
    redis_url = get_settings().redis_url
    if not redis_url or task_id is None:
        yield True
        return
    import redis

    client = redis.Redis.from_url(redis_url)
    done_key = f"refnet:maintenance:done:{task_id}"
    lock = client.lock(f"refnet:maintenance:lock:{key}", timeout=LOCK_SECONDS, blocking=False)
    try:
        if client.exists(done_key) or not lock.acquire():
            log.info("maintenance_skipped", work=key, reason="done or running elsewhere")
            yield False
            return
        try:
            yield True
            client.set(done_key, "1", ex=DONE_SECONDS)
        finally:
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
