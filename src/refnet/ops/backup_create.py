"""Making a backup: the data file and its metadata, written so that a failure leaves nothing.

The metadata is written last: a backup whose metadata exists was complete when it was written.
A full or unwritable backup directory is a BackupFailed naming the directory and what is wrong.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import structlog
from sqlalchemy.engine import make_url

import refnet
from refnet.core.config import Settings
from refnet.core.errors import TransientError
from refnet.db.base import utcnow
from refnet.ops import backup_postgres, backup_sqlite, backup_vault
from refnet.ops.backup_files import (
    BackupFailed,
    BackupInfo,
    BackupKind,
    directory_failure,
    new_name,
    partial_file,
    prepare_directory,
    publish,
    remove_quietly,
    sha256_of,
    write_metadata,
)

log = structlog.get_logger(__name__)
_SUFFIXES = {"postgresql": ".dump", "sqlite": ".sqlite3"}
_FULL = (
    "no space left",
    "file too large",
    "file size limit exceeded",
    "disk is full",
    "quota exceeded",
)


def database_dialect(url: str) -> str:
    dialect = make_url(url).get_backend_name()
    if dialect not in _SUFFIXES:
        raise BackupFailed(f"backups of {dialect} databases are not supported")
    return dialect


def create_backup(
    *, settings: Settings, kind: BackupKind | str, reason: str = "manual"
) -> BackupInfo:
    """Back up the database or the vault into the backup directory; its metadata is written
    last, so a backup that fails part-way leaves nothing behind."""
    kind = BackupKind.parse(kind) if isinstance(kind, str) else kind
    directory = prepare_directory(settings.backup_dir)
    created_at, started = utcnow(), time.monotonic()
    name = new_name(directory, kind, created_at)
    url = settings.effective_database_url
    dialect = database_dialect(url) if kind is BackupKind.DATABASE else None
    final = directory / f"{name}{_SUFFIXES[dialect] if dialect else '.tar.gz'}"
    try:
        with partial_file(final) as temporary:
            if dialect == "postgresql":
                contents, revision = backup_postgres.dump_database(url=url, target=temporary)
            elif dialect == "sqlite":
                source = backup_sqlite.database_path(url)
                backup_sqlite.copy_database(source=source, target=temporary)
                contents, revision = backup_sqlite.file_stats(path=temporary, check_integrity=False)
            else:
                vault = backup_vault.archive_vault(vault=settings.vault_dir, target=temporary)
                contents, revision = {"files": vault}, None
            info = BackupInfo(
                name=name,
                kind=kind,
                created_at=created_at,
                file=final,
                size=temporary.stat().st_size,
                sha256=sha256_of(temporary),
                duration_seconds=round(time.monotonic() - started, 3),
                refnet_version=refnet.__version__,
                dialect=dialect,
                schema_revision=revision,
                contents=contents,
                reason=reason,
            )
            publish(temporary, final)
        try:
            write_metadata(info)
        except BaseException:
            remove_quietly(final)
            raise
    except OSError as exc:
        if exc.filename and not Path(exc.filename).is_relative_to(directory):
            raise BackupFailed(f"cannot read {exc.filename}: {exc.strerror}") from None
        raise directory_failure(directory, exc) from None
    except backup_postgres.ToolFailed as exc:
        if any(words in exc.output.lower() for words in _FULL):
            raise BackupFailed(f"backup directory {directory} is full ({exc})") from None
        raise
    except sqlite3.Error as exc:
        raise _sqlite_failure(directory, exc) from None
    log.info(
        "backup_created",
        backup=name,
        kind=kind.value,
        size=info.size,
        duration_seconds=info.duration_seconds,
        reason=reason,
    )
    return info


def _sqlite_failure(directory: Path, exc: sqlite3.Error) -> Exception:
    message = str(exc)
    if "locked" in message:
        return TransientError(f"the SQLite database is busy ({message})")
    if any(words in message.lower() for words in _FULL):
        return BackupFailed(f"backup directory {directory} is full ({message})")
    if getattr(exc, "sqlite_errorname", "").startswith("SQLITE_IOERR"):
        return BackupFailed(
            f"backup directory {directory} could not be written ({message}): is it full?"
        )
    return BackupFailed(f"the SQLite backup into {directory} failed ({message})")
