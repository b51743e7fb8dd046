"""Backup retention: grandfather-father-son, per kind.

Of each kind's good backups, kept are the newest of each of the newest `keep_daily` days, of
each of the newest `keep_weekly` ISO weeks, and of each of the newest `keep_monthly` months
(days, weeks and months in UTC, counting only those that have a backup); and always the newest
good backup. Backups that fail the cheap check (missing or truncated data, unreadable metadata)
are never deleted here, so that an operator can look at them; `refnet backup list` shows them.
Hidden `.partial-` files older than a day (left by a crash) are removed.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import datetime

import structlog

from refnet.core.config import Settings
from refnet.db.base import utcnow
from refnet.ops.backup_catalog import find_backups
from refnet.ops.backup_files import BackupInfo, BackupKind, is_partial, metadata_path
from refnet.ops.backup_files import remove_quietly as _remove

log = structlog.get_logger(__name__)
STALE_PARTIAL_SECONDS = 24 * 3600


def _newest_per(
    backups: list[BackupInfo], period: Callable[[datetime], Hashable], keep: int
) -> set[str]:
    """Names of the newest backup in each of the `keep` newest periods (`backups` newest
    first)."""
    kept: dict[Hashable, str] = {}
    for info in backups:
        key = period(info.created_at)
        if key not in kept:
            if len(kept) == keep:
                break
            kept[key] = info.name
    return set(kept.values())


def backups_to_keep(
    backups: list[BackupInfo], *, daily: int, weekly: int, monthly: int
) -> set[str]:
    """The names to keep of one kind's good backups."""
    ordered = sorted(backups, key=lambda info: info.created_at, reverse=True)
    if not ordered:
        return set()
    return (
        {ordered[0].name}
        | _newest_per(ordered, lambda moment: moment.date(), daily)
        | _newest_per(ordered, lambda moment: moment.isocalendar()[:2], weekly)
        | _newest_per(ordered, lambda moment: (moment.year, moment.month), monthly)
    )


def prune_backups(*, settings: Settings, now: datetime | None = None) -> list[BackupInfo]:
    """Delete the backups retention does not keep; returns those removed. Partial files are
    aged against `now` (default: the clock)."""
    directory = settings.backup_dir
    listings = find_backups(directory)
    removed: list[BackupInfo] = []
    for kind in BackupKind:
        good = [
            listing.info
            for listing in listings
            if listing.ok and listing.info is not None and listing.info.kind is kind
        ]
        keep = backups_to_keep(
            good,
            daily=settings.backup.keep_daily,
            weekly=settings.backup.keep_weekly,
            monthly=settings.backup.keep_monthly,
        )
        for info in good:
            if info.name not in keep:
                _remove(metadata_path(directory, info.name))  # first: no longer a backup
                _remove(info.file)
                removed.append(info)
                log.info("backup_pruned", backup=info.name, kind=kind.value)
    cutoff = (now or utcnow()).timestamp() - STALE_PARTIAL_SECONDS
    if directory.is_dir():
        for path in directory.iterdir():
            if is_partial(path) and path.stat().st_mtime < cutoff:
                _remove(path)
    return removed
