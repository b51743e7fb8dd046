"""Verified backups of the database and the vault: create, list, verify, restore.

Every backup carries, next to its data file, what it should contain (row counts and content
checksums per table, or a digest of the vault's files) and the sha256 of the data file.
`verify_backup` restores it into a scratch database (or reads the archive) and compares;
`restore_backup` refuses a damaged backup, a schema this code does not know, a database at a
newer schema and (unless forced) a database being written to, and takes a safety backup of what
it replaces first. Retention lives in `refnet.ops.retention`.
"""

from __future__ import annotations

import sqlite3
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import structlog

from refnet.core.config import Settings
from refnet.db.base import utcnow
from refnet.ops import backup_postgres, backup_sqlite, backup_vault
from refnet.ops.backup_catalog import BackupListing, find_backups, last_good_backup
from refnet.ops.backup_create import create_backup, database_dialect
from refnet.ops.backup_files import (
    BackupCorrupt,
    BackupFailed,
    BackupInfo,
    BackupKind,
    ContentStats,
    check_data_file,
    load_info,
)
from refnet.ops.restore import RestoreReport, restore_backup
from refnet.ops.restore_guards import RestoreRefused
from refnet.ops.retention import prune_backups
from refnet.ops.table_checksums import differences

__all__ = [
    "BackupCorrupt",
    "BackupFailed",
    "BackupInfo",
    "BackupKind",
    "BackupListing",
    "RestoreRefused",
    "RestoreReport",
    "VerifyReport",
    "backup_age",
    "create_backup",
    "last_good_backup",
    "list_backups",
    "prune_backups",
    "restore_backup",
    "verify_backup",
]

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class VerifyReport:
    name: str
    kind: BackupKind
    checks: list[str]  # what was checked and passed, in order


def list_backups(*, settings: Settings) -> list[BackupListing]:
    """Backups in the backup directory, newest first, each with a cheap check of its data
    file (present, of the recorded size); `verify_backup` checks the sha256 and contents."""
    return find_backups(settings.backup_dir)


def verify_backup(*, settings: Settings, name: str) -> VerifyReport:
    """Check the data file's sha256, then restore it into a scratch database (or read the
    archive) and compare its contents with the metadata; BackupCorrupt names the failed check."""
    info = load_info(settings.backup_dir, name)
    check_data_file(info, full=True)
    checks = [f"sha256 of {info.file.name} matches ({info.size} bytes)"]
    found = _restored_contents(settings, info)
    problems = differences(info.contents, found)
    if problems:
        raise BackupCorrupt(f"backup {info.name}: content check failed: {'; '.join(problems)}")
    what = "files" if info.kind is BackupKind.VAULT else "tables"
    checks.append(f"restored copy matches the metadata ({len(found)} {what} compared)")
    log.info("backup_verified", backup=info.name, kind=info.kind.value)
    return VerifyReport(name=info.name, kind=info.kind, checks=checks)


def _restored_contents(settings: Settings, info: BackupInfo) -> dict[str, ContentStats]:
    if info.kind is BackupKind.VAULT:
        return {"files": backup_vault.check_archive(path=info.file)}
    url = settings.effective_database_url
    if info.dialect != database_dialect(url):
        raise BackupFailed(
            f"backup {info.name} is of a {info.dialect} database; checking it needs "
            f"DATABASE_URL to point at {info.dialect}, not {database_dialect(url)}"
        )
    if info.dialect == "sqlite":
        with tempfile.TemporaryDirectory(prefix="refnet-verify-") as scratch:
            copy = Path(scratch) / "restored.sqlite3"
            try:
                backup_sqlite.restore_copy(source=info.file, target=copy)
            except sqlite3.DatabaseError as exc:
                raise BackupCorrupt(f"backup {info.name}: restore check failed ({exc})") from None
            return backup_sqlite.file_stats(path=copy, check_integrity=True)[0]
    with backup_postgres.scratch_database(url=url) as scratch_url:
        try:
            backup_postgres.restore_database(url=scratch_url, source=info.file, clean=False)
        except backup_postgres.ToolFailed as exc:
            raise BackupCorrupt(f"backup {info.name}: restore check failed: {exc}") from None
        return backup_postgres.database_stats(url=scratch_url)[0]


def backup_age(info: BackupInfo, *, now: datetime | None = None) -> float:
    """Seconds since `info` was made (for health checks)."""
    return ((now or utcnow()) - info.created_at).total_seconds()
