"""SQLite backups: SQLite's online backup API, in both directions.

A backup is a consistent copy made while the database is in use (`sqlite3.Connection.backup`),
switched to a self-contained rollback journal so the file needs no `-wal` beside it. A restore
first copies the backup next to the live file and checks it against the metadata, then copies
it into the live database with the same API in one write transaction: every connection, in this
process or another, sees the old database or the restored one and nothing in between, and a
failure part-way is rolled back by SQLite's journal. (Renaming a file over the live one would
leave open connections reading the unlinked old file, and its `-wal` beside the new one.)
"""

from __future__ import annotations

import secrets
import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

from refnet.ops.backup_files import BackupCorrupt, BackupFailed, ContentStats, remove_quietly
from refnet.ops.table_checksums import differences, sqlite_stats

BUSY_TIMEOUT_SECONDS = 30


def database_path(url: str) -> Path:
    path = make_url(url).database
    if not path or path == ":memory:":
        raise BackupFailed("an in-memory SQLite database cannot be backed up or restored")
    return Path(path)


def _open_backup_file(path: Path) -> sqlite3.Connection:
    """A backup file, read only and unlocked (nothing else writes it)."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)


def copy_database(*, source: Path, target: Path) -> None:
    """A consistent copy of the live database `source`, in one piece, at `target`."""
    if not source.is_file():
        raise BackupFailed(f"nothing to back up: the database file {source} does not exist")
    live = sqlite3.connect(source, timeout=BUSY_TIMEOUT_SECONDS)
    try:
        copy = sqlite3.connect(target)
        try:
            live.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")
            copy.commit()
        finally:
            copy.close()
    finally:
        live.close()


def file_stats(*, path: Path, check_integrity: bool) -> tuple[dict[str, ContentStats], str | None]:
    """Per-table stats and schema revision of the SQLite file at `path`; BackupCorrupt when it is
    not a sound SQLite database."""
    try:
        connection = _open_backup_file(path)
        try:
            if check_integrity:
                problems = [row[0] for row in connection.execute("PRAGMA integrity_check")]
                if problems != ["ok"]:
                    raise BackupCorrupt(f"integrity check failed: {'; '.join(problems[:3])}")
            return sqlite_stats(connection)
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        raise BackupCorrupt(f"{path.name} is not a readable SQLite database ({exc})") from None


def restore_copy(*, source: Path, target: Path) -> None:
    """Copy the backup file `source` to the new file `target` with the backup API."""
    backup = _open_backup_file(source)
    try:
        copy = sqlite3.connect(target)
        try:
            backup.backup(copy)
        finally:
            copy.close()
    finally:
        backup.close()


def restore_database(*, source: Path, live: Path, expected: dict[str, ContentStats]) -> None:
    """Make the live database at `live` a copy of the backup file `source`, whose tables must
    match `expected`; on any failure `live` is left as it was."""
    staging = live.with_name(f".{live.name}.restore-{secrets.token_hex(4)}")
    try:
        restore_copy(source=source, target=staging)
        found, _revision = file_stats(path=staging, check_integrity=True)
        problems = differences(expected, found)
        if problems:
            raise BackupCorrupt(f"restored copy differs from the metadata: {problems[0]}")
        if not live.exists():
            live.parent.mkdir(parents=True, exist_ok=True)
            staging.replace(live)
            return
        staged = sqlite3.connect(staging)
        try:
            target = sqlite3.connect(live, timeout=BUSY_TIMEOUT_SECONDS)
            try:
                staged.backup(target)  # one write transaction on the live file
            finally:
                target.close()
        finally:
            staged.close()
    finally:
        for leftover in (staging, staging.with_name(staging.name + "-journal")):
            remove_quietly(leftover)
