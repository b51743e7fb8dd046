"""Retention keeps the newest backup of each recent day, ISO week and month, per kind."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from refnet.ops.backup import last_good_backup, list_backups, prune_backups
from refnet.ops.backup_files import BackupInfo, BackupKind, write_metadata
from tests.integration.ops.backup_support import settings_for


def _fake_backup(directory: Path, kind: BackupKind, created_at: datetime, size: int = 10) -> str:
    """A backup as `create_backup` would leave it, made at `created_at`."""
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{kind.value}-{created_at:%Y%m%dT%H%M%SZ}"
    data = directory / f"{name}{'.dump' if kind is BackupKind.DATABASE else '.tar.gz'}"
    data.write_bytes(b"x" * size)
    write_metadata(
        BackupInfo(
            name=name,
            kind=kind,
            created_at=created_at,
            file=data,
            size=size,
            sha256="0" * 64,
            duration_seconds=1.5,
            refnet_version="0.1.0",
        )
    )
    return name


def test_retention_keeps_daily_weekly_and_monthly_backups(sqlite_url: str, tmp_path: Path) -> None:
    settings = settings_for(sqlite_url, tmp_path, keep_daily=3, keep_weekly=2, keep_monthly=3)
    directory = settings.backup_dir
    now = datetime(2026, 6, 17, 12, 0, tzinfo=UTC)  # a Wednesday
    # Two backups a day (02:00 and 14:00) for 120 days.
    made = {}
    for days in range(120):
        for hour in (2, 14):
            moment = (now - timedelta(days=days)).replace(hour=hour)
            if moment <= now:
                made[moment] = _fake_backup(directory, BackupKind.DATABASE, moment)
    vault_name = _fake_backup(directory, BackupKind.VAULT, now - timedelta(days=300))

    removed = prune_backups(settings=settings, now=now)

    kept = {listing.name for listing in list_backups(settings=settings)}
    expected = {
        made[datetime(2026, 6, 17, 2, 0, tzinfo=UTC)],  # daily: 17, 16, 15 June
        made[datetime(2026, 6, 16, 14, 0, tzinfo=UTC)],
        made[datetime(2026, 6, 15, 14, 0, tzinfo=UTC)],  # also newest of ISO week 25
        made[datetime(2026, 6, 14, 14, 0, tzinfo=UTC)],  # weekly: Sunday ends ISO week 24
        made[datetime(2026, 5, 31, 14, 0, tzinfo=UTC)],  # monthly: June, May, April
        made[datetime(2026, 4, 30, 14, 0, tzinfo=UTC)],
        vault_name,  # the only vault backup is the newest good one of its kind
    }
    assert kept == expected
    assert len(removed) == len(made) + 1 - len(expected)
    assert {info.name for info in removed}.isdisjoint(kept)
    assert sorted(path.name for path in directory.iterdir()) == sorted(
        f"{name}{suffix}"
        for name in expected
        for suffix in (".json", ".tar.gz" if name.startswith("vault") else ".dump")
    )


def test_retention_never_deletes_the_newest_good_backup_or_damaged_ones(
    sqlite_url: str, tmp_path: Path
) -> None:
    settings = settings_for(sqlite_url, tmp_path, keep_daily=1, keep_weekly=0, keep_monthly=0)
    directory = settings.backup_dir
    now = datetime(2026, 6, 17, 12, 0, tzinfo=UTC)
    good = _fake_backup(directory, BackupKind.DATABASE, now - timedelta(days=2))
    older = _fake_backup(directory, BackupKind.DATABASE, now - timedelta(days=3))
    damaged = _fake_backup(directory, BackupKind.DATABASE, now - timedelta(hours=1))
    (directory / f"{damaged}.dump").write_bytes(b"short")
    stale = directory / f".{damaged}.dump.partial-0badc0de"
    stale.write_bytes(b"left by a crash")
    os.utime(stale, (time.time() - 3 * 86400, time.time() - 3 * 86400))
    fresh = directory / ".database-x.dump.partial-12345678"
    fresh.write_bytes(b"being written")

    removed = prune_backups(settings=settings)  # partial files age by the clock

    assert [info.name for info in removed] == [older]
    assert {listing.name for listing in list_backups(settings=settings)} == {good, damaged}
    assert not stale.exists() and fresh.exists()
    latest = last_good_backup(settings=settings, kind="database")
    assert latest is not None and latest.name == good
    assert latest.size == 10 and latest.duration == 1.5
    assert latest.created_at == now - timedelta(days=2)
    assert last_good_backup(settings=settings, kind=BackupKind.VAULT) is None
