"""Restoring a backup over the database or the vault, after the checks that make it safe.

Refused before anything is touched: a damaged backup, a schema this code does not know, a
database at a newer schema than the backup, another dialect, and (unless forced) a database
being written to. A safety backup of what is replaced is taken first. On PostgreSQL the restore
is one transaction (`pg_restore --single-transaction`): a failure leaves the database as it was.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import structlog

from refnet.core.config import Settings
from refnet.core.errors import TransientError
from refnet.db import migrate, paper_changes
from refnet.db.session import get_engine
from refnet.ops import backup_postgres, backup_sqlite, backup_vault
from refnet.ops.backup_create import create_backup, database_dialect
from refnet.ops.backup_files import (
    BackupCorrupt,
    BackupFailed,
    BackupInfo,
    BackupKind,
    check_data_file,
    load_info,
)
from refnet.ops.restore_guards import (
    RestoreRefused,
    WritersCheck,
    refuse_active_writers,
    refuse_newer_backup,
    refuse_newer_target,
)
from refnet.ops.table_checksums import differences

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class RestoreReport:
    name: str
    kind: BackupKind
    safety_backup: str | None  # the backup taken of what was replaced
    schema_revision: str | None
    needs_upgrade: bool  # the restored schema is behind the code: run `refnet db upgrade`


def restore_backup(
    *,
    settings: Settings,
    name: str,
    force: bool = False,
    writers_check: WritersCheck | None = None,
) -> RestoreReport:
    """Replace the database (or the vault) with the backup `name`, after a safety backup of
    it; refused (RestoreRefused, BackupCorrupt) before anything is touched when unsafe.
    `writers_check` adds writers the database cannot see (e.g. tasks in the broker)."""
    info = load_info(settings.backup_dir, name)
    try:
        check_data_file(info, full=True)
    except BackupCorrupt as exc:
        raise BackupCorrupt(f"{exc}; nothing was restored") from None
    url = settings.effective_database_url
    if info.kind is BackupKind.VAULT:
        return _restore_vault(settings, info, force=force, writers_check=writers_check)
    if info.dialect != database_dialect(url):
        raise RestoreRefused(
            f"backup {info.name} is of a {info.dialect} database; DATABASE_URL points at "
            f"{database_dialect(url)}"
        )
    refuse_newer_backup(info)
    exists = info.dialect == "postgresql" or backup_sqlite.database_path(url).exists()
    current = migrate.current_revision(url) if exists else None
    refuse_newer_target(current=current, info=info)
    if not force:
        refuse_active_writers(url=url if current else None, writers_check=writers_check)
    safety = None
    if current is not None:
        reason = f"safety copy before restoring {info.name}"
        safety = create_backup(settings=settings, kind=BackupKind.DATABASE, reason=reason).name
    if info.dialect == "sqlite":
        _restore_sqlite(url, info)
    else:
        _restore_postgres(url, info, safety=safety, check=not force)
    get_engine(url).dispose()
    paper_changes.advance(url)
    log.info("backup_restored", backup=info.name, kind=info.kind.value, safety_backup=safety)
    return RestoreReport(
        name=info.name,
        kind=info.kind,
        safety_backup=safety,
        schema_revision=info.schema_revision,
        needs_upgrade=info.schema_revision != migrate.HEAD_REVISION,
    )


def _restore_sqlite(url: str, info: BackupInfo) -> None:
    live = backup_sqlite.database_path(url)
    try:
        backup_sqlite.restore_database(source=info.file, live=live, expected=info.contents)
    except sqlite3.Error as exc:
        if "locked" in str(exc):
            message = f"the SQLite database is busy ({exc}); nothing was restored"
            raise TransientError(message) from None
        raise BackupFailed(f"restore failed ({exc}); the database is as it was") from None
    except OSError as exc:
        raise BackupFailed(
            f"cannot stage the restore next to {live} ({exc.strerror}); the database is as it was"
        ) from None


def _restore_postgres(url: str, info: BackupInfo, *, safety: str | None, check: bool) -> None:
    try:
        backup_postgres.restore_database(url=url, source=info.file, clean=True)
    except backup_postgres.ToolFailed as exc:
        message = f"{exc}; the restore was rolled back and the database is as it was"
        raise BackupFailed(message) from None
    if not check:  # forced: workers may be writing already, counts would not compare
        return
    problems = differences(info.contents, backup_postgres.database_stats(url=url)[0])
    if problems:
        kept = f"; the database before the restore is in backup {safety}" if safety else ""
        raise BackupFailed(f"restored database differs from the backup: {problems[0]}{kept}")


def _restore_vault(
    settings: Settings, info: BackupInfo, *, force: bool, writers_check: WritersCheck | None
) -> RestoreReport:
    vault = settings.vault_dir
    found = backup_vault.check_archive(path=info.file)
    problems = differences(info.contents, {"files": found})
    if problems:
        raise BackupCorrupt(f"backup {info.name}: content check failed: {problems[0]}")
    if not force:
        url = settings.effective_database_url
        has_database = not settings.is_embedded or backup_sqlite.database_path(url).exists()
        refuse_active_writers(url=url if has_database else None, writers_check=writers_check)
    safety = None
    if vault.is_dir():
        reason = f"safety copy before restoring {info.name}"
        safety = create_backup(settings=settings, kind=BackupKind.VAULT, reason=reason).name
    backup_vault.restore_vault(source=info.file, vault=vault)
    log.info("backup_restored", backup=info.name, kind=info.kind.value, safety_backup=safety)
    return RestoreReport(
        name=info.name,
        kind=info.kind,
        safety_backup=safety,
        schema_revision=None,
        needs_upgrade=False,
    )
