"""What a restore checks before it touches anything: schema revisions and active writers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import lru_cache

import sqlalchemy as sa

from refnet.core.errors import PermanentError
from refnet.db import migrate
from refnet.db.base import as_utc, utcnow
from refnet.db.models import CrawlJob, JobStatus, RequestStatus, TaskRequest
from refnet.db.queries.crawl import JOB_LEASE
from refnet.db.session import get_engine
from refnet.ops.backup_files import BackupInfo

# Something else writing in the database (or queued in the broker) that a restore would
# overwrite: each answers a phrase such as "crawl job 12 (heartbeat 14:02:11 UTC)".
WritersCheck = Callable[[], list[str]]


class RestoreRefused(PermanentError):
    """A restore that was not started; the message says why and what to do instead."""


@lru_cache(maxsize=1)
def migration_chain() -> tuple[str, ...]:
    """The code's migration chain, oldest first."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(migrate.MIGRATIONS_DIR))
    return tuple(revision.revision for revision in reversed(list(script.walk_revisions())))


def _position(revision: str | None) -> int | None:
    """Where `revision` sits in the chain: -1 for no schema, None for one this code does not
    know (written by a newer RefNet)."""
    if revision is None:
        return -1
    chain = migration_chain()
    return chain.index(revision) if revision in chain else None


def refuse_newer_backup(info: BackupInfo) -> None:
    """A backup of a schema newer than this code's is for a newer RefNet."""
    if info.schema_revision is None:
        raise RestoreRefused(f"backup {info.name} holds no RefNet schema (no alembic_version)")
    if _position(info.schema_revision) is None:
        raise RestoreRefused(
            f"backup {info.name} is at schema revision {info.schema_revision}, newer than this "
            f"version of RefNet knows (its newest is {migrate.HEAD_REVISION}); restore it with "
            "the RefNet version that made it"
        )


def refuse_newer_target(*, current: str | None, info: BackupInfo) -> None:
    """Restoring an older schema over a newer one would leave the newer schema's tables beside
    old data, under an old revision number."""
    position, wanted = _position(current), _position(info.schema_revision)
    assert wanted is not None  # refuse_newer_backup ran first
    if position is None or position > wanted:
        raise RestoreRefused(
            f"the database is at schema revision {current}, newer than backup {info.name} "
            f"({info.schema_revision}); restoring it in place would mix the two schemas. "
            "Restore it into an empty database (point DATABASE_URL at a new one), then run "
            "`refnet db upgrade`"
        )


def database_writers(url: str) -> list[str]:
    """Crawl jobs running with a fresh lease, and summary/vault requests running."""
    writers: list[str] = []
    with get_engine(url).connect() as connection:
        present = set(sa.inspect(connection).get_table_names())
        if CrawlJob.__tablename__ in present:
            writers += _running_crawls(connection, JOB_LEASE)
        if TaskRequest.__tablename__ in present:
            requests = connection.execute(
                sa.select(TaskRequest.id, TaskRequest.kind).where(
                    TaskRequest.status == RequestStatus.RUNNING.value
                )
            )
            writers += [f"{kind} request {request_id} (running)" for request_id, kind in requests]
    return writers


def _running_crawls(connection: sa.Connection, lease: timedelta) -> list[str]:
    rows = connection.execute(
        sa.select(CrawlJob.id, CrawlJob.heartbeat_at, CrawlJob.updated_at).where(
            CrawlJob.status == JobStatus.RUNNING.value
        )
    )
    now, found = utcnow(), []
    for job_id, heartbeat_at, updated_at in rows:
        heartbeat = as_utc(heartbeat_at or updated_at)
        if now - heartbeat < lease:
            found.append(f"crawl job {job_id} (heartbeat {heartbeat:%H:%M:%S} UTC)")
    return found


def refuse_active_writers(*, url: str | None, writers_check: WritersCheck | None) -> None:
    writers = database_writers(url) if url is not None else []
    if writers_check is not None:
        writers += writers_check()
    if writers:
        shown = ", ".join(writers[:5]) + (
            f" and {len(writers) - 5} more" if len(writers) > 5 else ""
        )
        raise RestoreRefused(
            f"work is writing to the database: {shown}. Stop the workers or wait for it to "
            "finish, or pass --force to restore anyway (their writes since the backup are lost)"
        )
