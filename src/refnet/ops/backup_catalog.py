"""What the backup directory holds: each backup with a cheap check, and the last good one."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from refnet.core.config import Settings
from refnet.ops.backup_files import (
    METADATA_SUFFIX,
    NAME,
    BackupCorrupt,
    BackupInfo,
    BackupKind,
    check_data_file,
    is_partial,
    load_info,
)


class BackupStatus(enum.StrEnum):
    OK = "ok"  # metadata readable, data file present with the recorded size
    DAMAGED = "damaged"  # data file missing or of another size
    BAD_METADATA = "bad metadata"  # the metadata file cannot be read
    INCOMPLETE = "incomplete"  # a data file without metadata: its backup never finished


@dataclass(frozen=True, slots=True)
class BackupListing:
    name: str
    status: BackupStatus
    detail: str
    info: BackupInfo | None  # None unless the metadata could be read

    @property
    def ok(self) -> bool:
        return self.status is BackupStatus.OK

    @property
    def kind(self) -> BackupKind | None:
        if self.info is not None:
            return self.info.kind
        return BackupKind(self.name.split("-", 1)[0])

    @property
    def created_at(self) -> datetime | None:
        return self.info.created_at if self.info else None


def find_backups(directory: Path) -> list[BackupListing]:
    """Every backup in `directory`, newest first (unreadable ones last, by name)."""
    if not directory.is_dir():
        return []
    names: dict[str, bool] = {}  # name -> has metadata
    for path in directory.iterdir():
        if is_partial(path) or path.name.startswith("."):
            continue
        stem = path.name.split(".", 1)[0]
        if NAME.match(stem):
            names[stem] = names.get(stem, False) or path.name == stem + METADATA_SUFFIX
    listings = [_listing(directory, name, has_metadata) for name, has_metadata in names.items()]
    return sorted(listings, key=_newest_first)


def _newest_first(listing: BackupListing) -> tuple[int, float, str]:
    if listing.info is None:
        return (1, 0.0, listing.name)
    return (0, -listing.info.created_at.timestamp(), listing.name)


def _listing(directory: Path, name: str, has_metadata: bool) -> BackupListing:
    if not has_metadata:
        return BackupListing(name, BackupStatus.INCOMPLETE, "no metadata file", None)
    try:
        info = load_info(directory, name)
    except BackupCorrupt as exc:
        return BackupListing(name, BackupStatus.BAD_METADATA, str(exc), None)
    try:
        check_data_file(info, full=False)
    except BackupCorrupt as exc:
        return BackupListing(name, BackupStatus.DAMAGED, str(exc), info)
    return BackupListing(name, BackupStatus.OK, "present, size matches", info)


def last_good_backup(*, settings: Settings, kind: BackupKind | str) -> BackupInfo | None:
    """The newest backup of `kind` that passes the cheap check (its metadata gives time, size
    and duration), or None."""
    wanted = BackupKind.parse(kind) if isinstance(kind, str) else kind
    for listing in find_backups(settings.backup_dir):
        if listing.ok and listing.info is not None and listing.info.kind is wanted:
            return listing.info
    return None
