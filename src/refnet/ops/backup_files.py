"""Backup files on disk: names, the metadata file next to each backup, atomic publication.

A backup is two files in the backup directory: the data (`database-20261201T020000Z.dump`,
`.sqlite3`, or `vault-….tar.gz`) and its metadata (`database-20261201T020000Z.json`). Both are
written under a hidden temporary name and renamed into place once complete, the data first and
the metadata last, so a backup whose metadata exists was complete when it was written; a crash
or a full disk leaves at most a hidden `.….partial-…` file, never a backup that looks good.
"""

from __future__ import annotations

import enum
import errno
import hashlib
import json
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from refnet.core.errors import InvalidInput, NotFound, PermanentError

METADATA_SUFFIX = ".json"
PARTIAL_MARK = ".partial-"
FORMAT_VERSION = 1
NAME = re.compile(r"^(database|vault)-\d{8}T\d{6}Z(?:-\d+)?$")
_CHUNK = 1024 * 1024


class BackupKind(enum.StrEnum):
    DATABASE = "database"
    VAULT = "vault"

    @classmethod
    def parse(cls, value: str) -> BackupKind:
        try:
            return cls(value.strip().lower())
        except ValueError:
            choices = ", ".join(kind.value for kind in cls)
            raise InvalidInput(f"unknown backup kind {value!r}; choose one of: {choices}") from None


class BackupFailed(PermanentError):
    """A backup or restore could not be made; the message says where and why."""


class BackupCorrupt(PermanentError):
    """A backup failed a check (checksum, size, row counts, contents); the message says which."""


@dataclass(frozen=True, slots=True)
class ContentStats:
    """What one table (or the vault's files) held: how many rows (files) and a digest of them."""

    rows: int
    checksum: str


@dataclass(frozen=True, slots=True)
class BackupInfo:
    """A backup as its metadata file describes it. `file` is the data file's path."""

    name: str
    kind: BackupKind
    created_at: datetime
    file: Path
    size: int
    sha256: str
    duration_seconds: float
    refnet_version: str
    dialect: str | None = None  # "postgresql" or "sqlite" (database backups)
    schema_revision: str | None = None  # alembic_version of the database backed up
    contents: dict[str, ContentStats] = field(default_factory=dict)  # tables, or "files"
    reason: str = "manual"

    @property
    def duration(self) -> float:
        """Seconds the backup took to make."""
        return self.duration_seconds

    def to_json(self) -> str:
        document: dict[str, Any] = asdict(self)
        document.update(
            format=FORMAT_VERSION,
            kind=self.kind.value,
            created_at=self.created_at.isoformat(),
            file=self.file.name,
        )
        return json.dumps(document, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, directory: Path) -> BackupInfo:
        """ValueError/KeyError/TypeError when the document is not a backup's metadata."""
        document = json.loads(text)
        file_name = str(document["file"])
        if Path(file_name).name != file_name or file_name.startswith("."):
            raise ValueError(f"data file name {file_name!r} is not a plain file name")
        created_at = datetime.fromisoformat(document["created_at"])
        return cls(
            name=str(document["name"]),
            kind=BackupKind(document["kind"]),
            created_at=created_at if created_at.tzinfo else created_at.replace(tzinfo=UTC),
            file=directory / file_name,
            size=int(document["size"]),
            sha256=str(document["sha256"]),
            duration_seconds=float(document["duration_seconds"]),
            refnet_version=str(document["refnet_version"]),
            dialect=document.get("dialect"),
            schema_revision=document.get("schema_revision"),
            contents={
                table: ContentStats(rows=int(stats["rows"]), checksum=str(stats["checksum"]))
                for table, stats in document.get("contents", {}).items()
            },
            reason=str(document.get("reason", "manual")),
        )


def describe_os_error(exc: OSError) -> str:
    """What an OSError says about a directory, in an operator's words."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return f"is full ({exc.strerror})"
    if exc.errno == errno.EROFS:
        return "is on a read-only file system"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "is not writable (permission denied)"
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        return "is not a directory (a file stands where it or a parent directory should be)"
    return f"cannot be written ({exc.strerror or exc})"


def directory_failure(directory: Path, exc: OSError) -> BackupFailed:
    return BackupFailed(f"backup directory {directory} {describe_os_error(exc)}")


def prepare_directory(directory: Path) -> Path:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise directory_failure(directory, exc) from None
    if not directory.is_dir():
        raise BackupFailed(f"backup directory {directory} is not a directory")
    return directory


def new_name(directory: Path, kind: BackupKind, created_at: datetime) -> str:
    """`<kind>-<UTC time>`, with `-2`, `-3`… when a backup of that second exists already."""
    base = f"{kind.value}-{created_at.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    name, number = base, 1
    while (directory / f"{name}{METADATA_SUFFIX}").exists() or any(directory.glob(f"{name}.*")):
        number += 1
        name = f"{base}-{number}"
    return name


def parse_name(name: str) -> str:
    """A backup's name from what a user typed: the name, or its data or metadata file name."""
    candidate = name.strip()
    for suffix in (METADATA_SUFFIX, ".dump", ".sqlite3", ".tar.gz"):
        candidate = candidate.removesuffix(suffix)
    if not NAME.match(candidate):
        raise InvalidInput(
            f"{name!r} is not a backup name; `refnet backup list` shows them "
            "(e.g. database-20261201T020000Z)"
        )
    return candidate


def metadata_path(directory: Path, name: str) -> Path:
    return directory / f"{name}{METADATA_SUFFIX}"


def load_info(directory: Path, name: str) -> BackupInfo:
    """The backup's metadata; NotFound without it, BackupCorrupt when it cannot be read."""
    name = parse_name(name)
    path = metadata_path(directory, name)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(f"no backup named {name} in {directory}") from None
    except OSError as exc:
        raise BackupFailed(f"cannot read {path}: {exc.strerror}") from None
    try:
        info = BackupInfo.from_json(text, directory)
    except (ValueError, KeyError, TypeError) as exc:
        raise BackupCorrupt(f"metadata file {path} is unreadable ({exc})") from None
    if info.name != name:
        raise BackupCorrupt(f"metadata file {path} describes another backup ({info.name})")
    return info


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_data_file(info: BackupInfo, *, full: bool) -> None:
    """BackupCorrupt unless the data file exists with the size (and, when `full`, the sha256)
    its metadata gives."""
    try:
        size = info.file.stat().st_size
    except FileNotFoundError:
        raise BackupCorrupt(f"backup {info.name}: data file {info.file.name} is missing") from None
    if size != info.size:
        hint = " (truncated?)" if size < info.size else ""
        raise BackupCorrupt(
            f"backup {info.name}: size check failed: {info.file.name} is {size} bytes, "
            f"its metadata says {info.size}{hint}"
        )
    if full and sha256_of(info.file) != info.sha256:
        raise BackupCorrupt(
            f"backup {info.name}: sha256 check failed: {info.file.name} is not the file that "
            "was written (altered or damaged)"
        )


def is_partial(path: Path) -> bool:
    return path.name.startswith(".") and PARTIAL_MARK in path.name


@contextmanager
def partial_file(final: Path) -> Iterator[Path]:
    """A hidden temporary path next to `final`, removed when the block raises."""
    temporary = final.with_name(f".{final.name}{PARTIAL_MARK}{secrets.token_hex(4)}")
    try:
        yield temporary
    except BaseException:
        remove_quietly(temporary)
        raise


def publish(temporary: Path, final: Path) -> None:
    """Flush `temporary` to disk and rename it to `final` (then flush the directory)."""
    with temporary.open("rb+") as stream:
        os.fsync(stream.fileno())
    os.replace(temporary, final)
    _sync_directory(final.parent)


def write_metadata(info: BackupInfo) -> Path:
    final = metadata_path(info.file.parent, info.name)
    with partial_file(final) as temporary:
        temporary.write_text(info.to_json(), encoding="utf-8")
        publish(temporary, final)
    return final


def remove_quietly(path: Path) -> None:
    with suppress(OSError):
        path.unlink()


def _sync_directory(directory: Path) -> None:
    with suppress(OSError):  # not every file system lets a directory be opened and flushed
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
