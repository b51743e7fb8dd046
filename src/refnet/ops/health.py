"""Readiness: can this process do its work right now?

Each check answers with the name of the part and what is wrong, so `/ready` can say "database:
schema at 0003, code needs 0005" instead of a bare 503. Checks are quick (a second at most) and
never raise.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from refnet.core.config import Settings
from refnet.db import migrate
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
