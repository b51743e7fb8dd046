"""Readiness (can this process do its work right now?) and the parts of the system health check.

Each check answers with the name of the part and what is wrong, so `/ready` can say "database:
schema at 0003, code needs 0005" instead of a bare 503. Checks are quick (a second at most) and
never raise.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from refnet.core.config import Settings
from refnet.db import migrate
from refnet.db.queries.operations import count_failures_by_task
from refnet.db.session import get_engine

TIMEOUT_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Check:
    part: str
    ok: bool
    detail: str


def database_check(url: str) -> Check:
    try:
        with get_engine(url).connect() as connection:
            revision = connection.execute(
                sa.text("SELECT version_num FROM alembic_version")
            ).scalar()
    except sa.exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return Check("database", False, f"unreachable or not migrated: {reason}")
    head = migrate.HEAD_REVISION
    if revision != head:
        return Check("database", False, f"schema at {revision}, this version needs {head}")
    return Check("database", True, f"schema at {head}")


def redis_check(url: str, part: str = "redis") -> Check:
    import redis

    client = redis.Redis.from_url(
        url, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        return Check(part, False, f"unreachable: {exc}")
    finally:
        client.close()
    return Check(part, True, "reachable")


def broker_check(url: str) -> Check:
    if url.startswith(("redis://", "rediss://")):
        return redis_check(url, part="broker")
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=TIMEOUT_SECONDS) as connection:
            connection.ensure_connection(max_retries=1, timeout=TIMEOUT_SECONDS)  # type: ignore[arg-type]
    except Exception as exc:  # kombu raises transport-specific errors
        return Check("broker", False, f"unreachable: {type(exc).__name__}")
    return Check("broker", True, "reachable")


def readiness(settings: Settings) -> list[Check]:
    checks = [database_check(settings.effective_database_url)]
    if settings.redis_url:
        checks.append(redis_check(settings.redis_url))
    broker = settings.broker_url
    if broker and broker != settings.redis_url:
        checks.append(broker_check(broker))
    return checks


def disk_check(part: str, path: Path, min_free_mb: int) -> Check:
    """Free space on the volume holding `path` (or its nearest existing parent)."""
    probe = path.resolve()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    usage = shutil.disk_usage(probe)
    free_mb = usage.free // (1024 * 1024)
    detail = f"{free_mb} MiB free of {usage.total // (1024 * 1024)} MiB at {probe}"
    if free_mb < min_free_mb:
        return Check(part, False, f"{detail}, below HEALTH__MIN_FREE_MB={min_free_mb}")
    return Check(part, True, detail)


def backup_check(settings: Settings, kind: str, now: datetime) -> Check:
    from refnet.ops.backup import last_good_backup

    part = f"backup_{kind}"
    latest = last_good_backup(settings=settings, kind=kind)
    if latest is None:
        return Check(part, False, f"no {kind} backup in {settings.backup_dir} yet")
    age_hours = (now - latest.created_at).total_seconds() / 3600
    detail = (
        f"last good {latest.created_at:%Y-%m-%d %H:%M} UTC ({age_hours:.1f} h ago), "
        f"{latest.size} bytes in {latest.duration_seconds:.1f} s"
    )
    if age_hours > settings.health.max_backup_age_hours:
        limit = settings.health.max_backup_age_hours
        return Check(part, False, f"{detail}: older than HEALTH__MAX_BACKUP_AGE_HOURS={limit:g}")
    return Check(part, True, detail)


def failures_check(session: Session) -> Check:
    waiting = count_failures_by_task(session=session)
    if not waiting:
        return Check("failed_tasks", True, "none waiting")
    return Check(
        "failed_tasks",
        False,
        f"{sum(waiting.values())} failed task(s) wait for a person ({', '.join(sorted(waiting))}): "
        "see `refnet tasks failed`",
    )
