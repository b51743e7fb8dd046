"""Damaged backups, unusable backup directories, newer schemas and busy databases: each gives a
clear error and leaves the database and the existing backups as they were."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from refnet.core.errors import NotFound
from refnet.db import migrate
from refnet.db.base import utcnow
from refnet.db.models import CrawlJob, JobStatus
from refnet.db.session import dispose_engines, session_scope
from refnet.ops.backup import (
    BackupCorrupt,
    BackupFailed,
    RestoreRefused,
    create_backup,
    list_backups,
    restore_backup,
    verify_backup,
)
from refnet.ops.backup_files import sha256_of
from refnet.ops.restore_guards import migration_chain
from tests.integration.generator.factory import make_paper
from tests.integration.ops.backup_support import fill_network, settings_for, table_stats


def _truncate(path: Path) -> None:
    with path.open("r+b") as stream:
        stream.truncate(path.stat().st_size * 2 // 3)


def _flip_bytes(path: Path) -> None:
    """Same size, different bytes: only the sha256 can tell."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 16] = bytes(b ^ 0xFF for b in data[middle : middle + 16])
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("damage", "check"), [(_truncate, "size check failed"), (_flip_bytes, "sha256 check failed")]
)
def test_damaged_backup_is_refused_by_verify_and_restore(
    database_url: str, tmp_path: Path, damage: object, check: str
) -> None:
    settings = settings_for(database_url, tmp_path)
    fill_network(database_url)
    info = create_backup(settings=settings, kind="database")
    make_paper(database_url, title="After the backup")
    current = table_stats(database_url)
    damage(info.file)  # type: ignore[operator]

    with pytest.raises(BackupCorrupt, match=check):
        verify_backup(settings=settings, name=info.name)
    with pytest.raises(BackupCorrupt, match=f"{check}.*nothing was restored"):
        restore_backup(settings=settings, name=info.name)

    assert table_stats(database_url) == current
    assert [listing.name for listing in list_backups(settings=settings)] == [info.name]


def test_backup_whose_data_is_not_what_its_metadata_describes_fails_the_content_check(
    database_url: str, tmp_path: Path
) -> None:
    """A data file swapped for another (with a matching sha256 in the metadata) restores fine,
    but its tables are not the ones recorded: verify compares them row for row."""
    settings = settings_for(database_url, tmp_path)
    fill_network(database_url, papers=3)
    older = create_backup(settings=settings, kind="database")
    make_paper(database_url, title="Only in the newer backup")
    newer = create_backup(settings=settings, kind="database")
    older.file.write_bytes(newer.file.read_bytes())
    metadata_file = settings.backup_dir / f"{older.name}.json"
    metadata = json.loads(metadata_file.read_text())
    metadata.update(size=newer.size, sha256=sha256_of(older.file))
    metadata_file.write_text(json.dumps(metadata))

    with pytest.raises(BackupCorrupt, match=r"content check failed: .*papers has 4 rows.* says 3"):
        verify_backup(settings=settings, name=older.name)


def test_unknown_and_malformed_names_are_clear_errors(sqlite_url: str, tmp_path: Path) -> None:
    settings = settings_for(sqlite_url, tmp_path)
    with pytest.raises(NotFound, match="no backup named database-20200101T000000Z"):
        verify_backup(settings=settings, name="database-20200101T000000Z")
    with pytest.raises(Exception, match="is not a backup name"):
        restore_backup(settings=settings, name="../../etc/passwd")


def test_backup_directory_that_cannot_be_a_directory_is_a_clear_error(
    database_url: str, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    settings = settings_for(database_url, tmp_path, dir=blocker / "backups")
    fill_network(database_url, papers=2)

    with pytest.raises(BackupFailed, match=f"backup directory {blocker / 'backups'} is not a"):
        create_backup(settings=settings, kind="database")
    assert blocker.read_text() == "not a directory"


FULL_DISK_SCRIPT = """
import resource, signal, sys
from refnet.core.config import BackupSettings, Settings
from refnet.ops.backup import create_backup
from refnet.core.errors import RefNetError
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
settings = Settings(backup=BackupSettings(dir=sys.argv[2]), vault_dir=sys.argv[3])
try:
    create_backup(settings=settings, kind=sys.argv[4])
except RefNetError as exc:
    print(f"{type(exc).__name__}: {exc}")
    sys.exit(3)
"""


@pytest.mark.parametrize("kind", ["database", "vault"])
def test_full_backup_disk_leaves_no_partial_backup_and_keeps_the_others(
    database_url: str, tmp_path: Path, kind: str
) -> None:
    """A file-size limit (RLIMIT_FSIZE) makes every write past it fail as on a full disk."""
    settings = settings_for(database_url, tmp_path)
    fill_network(database_url, papers=40)
    vault = settings.vault_dir
    vault.mkdir()
    (vault / "big.md").write_bytes(os.urandom(300_000))
    earlier = create_backup(settings=settings, kind=kind)
    before = sorted(path.name for path in settings.backup_dir.iterdir())
    environment = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
    if settings.database_url:
        environment["DATABASE_URL"] = settings.database_url
    environment["REFNET_DATA_DIR"] = str(tmp_path)
    limit = max(earlier.size // 3, 20_000)

    result = subprocess.run(
        [
            sys.executable,
            "-c",
            FULL_DISK_SCRIPT,
            str(limit),
            str(settings.backup_dir),
            str(vault),
            kind,
        ],
        env=environment,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )

    assert result.returncode == 3, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    # SQLite reports a failed write as an I/O error, which may be a full disk or a failing one.
    assert re.match(
        f"BackupFailed: backup directory {re.escape(str(settings.backup_dir))} "
        r"(is full|could not be written \(disk I/O error\): is it full\?)",
        result.stdout,
    ), result.stdout
    assert sorted(path.name for path in settings.backup_dir.iterdir()) == before
    verify_backup(settings=settings, name=earlier.name)


def _previous_revision() -> str:
    return migration_chain()[-2]


def test_restore_refused_when_the_database_is_at_a_newer_schema_than_the_backup(
    database_url: str, tmp_path: Path
) -> None:
    settings = settings_for(database_url, tmp_path)
    fill_network(database_url, papers=2)
    previous = _previous_revision()
    migrate.downgrade(database_url, previous)
    dispose_engines()
    try:
        old = create_backup(settings=settings, kind="database")
        assert old.schema_revision == previous
    finally:
        migrate.upgrade(database_url)
        dispose_engines()
    current = table_stats(database_url)

    with pytest.raises(RestoreRefused, match=f"newer than backup {old.name} \\({previous}\\)"):
        restore_backup(settings=settings, name=old.name, force=True)

    assert table_stats(database_url) == current
    assert len(list_backups(settings=settings)) == 1  # not even a safety backup was needed


def test_restore_refused_for_a_backup_of_a_schema_newer_than_the_code(
    database_url: str, tmp_path: Path
) -> None:
    settings = settings_for(database_url, tmp_path)
    fill_network(database_url, papers=2)
    with session_scope(database_url) as session:
        session.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    try:
        future = create_backup(settings=settings, kind="database")
    finally:
        with session_scope(database_url) as session:
            session.execute(
                sa.text("UPDATE alembic_version SET version_num = :head"),
                {"head": migrate.HEAD_REVISION},
            )
    with pytest.raises(RestoreRefused, match="revision 9999, newer than this version"):
        restore_backup(settings=settings, name=future.name)


def _running_crawl(url: str, *, silent_for: timedelta) -> int:
    with session_scope(url) as session:
        job = CrawlJob(
            source="snapshot:test",
            status=JobStatus.RUNNING.value,
            runner="a-worker",
            heartbeat_at=utcnow() - silent_for,
        )
        session.add(job)
        session.flush()
        return job.id


def test_restore_refused_while_a_crawl_is_running_unless_forced(
    database_url: str, tmp_path: Path
) -> None:
    settings = settings_for(database_url, tmp_path)
    fill_network(database_url, papers=3)
    info = create_backup(settings=settings, kind="database")
    job_id = _running_crawl(database_url, silent_for=timedelta(seconds=5))
    current = table_stats(database_url)

    with pytest.raises(RestoreRefused, match=f"crawl job {job_id} .*pass --force"):
        restore_backup(settings=settings, name=info.name)
    assert table_stats(database_url) == current

    restore_backup(settings=settings, name=info.name, force=True)
    assert table_stats(database_url) == info.contents


def test_crawl_silent_past_its_lease_and_broker_writers(database_url: str, tmp_path: Path) -> None:
    settings = settings_for(database_url, tmp_path)
    fill_network(database_url, papers=2)
    info = create_backup(settings=settings, kind="database")
    _running_crawl(database_url, silent_for=timedelta(hours=2))  # its process died long ago

    with pytest.raises(RestoreRefused, match="summarize task abc in the broker"):
        restore_backup(
            settings=settings,
            name=info.name,
            writers_check=lambda: ["summarize task abc in the broker"],
        )
    report = restore_backup(settings=settings, name=info.name, writers_check=list)
    assert report.name == info.name
