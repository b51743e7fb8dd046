"""Database backups on PostgreSQL and SQLite: made, verified and restored to the same rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from refnet.db.migrate import HEAD_REVISION
from refnet.db.models import Paper
from refnet.db.session import session_scope
from refnet.ops.backup import (
    BackupKind,
    create_backup,
    list_backups,
    restore_backup,
    verify_backup,
)
from refnet.ops.backup_files import sha256_of
from tests.integration.generator.factory import make_paper, update_paper
from tests.integration.ops.backup_support import fill_network, settings_for, table_stats


def test_backup_verify_restore_brings_back_the_backed_up_rows(
    database_url: str, tmp_path: Path
) -> None:
    settings = settings_for(database_url, tmp_path)
    ids = fill_network(database_url)
    before = table_stats(database_url)

    info = create_backup(settings=settings, kind="database")

    assert info.schema_revision == HEAD_REVISION
    assert info.contents == before
    assert info.contents["papers"].rows == len(ids)
    assert info.contents["citations"].rows == len(ids) - 1
    assert info.sha256 == sha256_of(info.file)
    metadata = json.loads((settings.backup_dir / f"{info.name}.json").read_text())
    assert metadata["kind"] == "database"
    assert metadata["dialect"] == ("sqlite" if database_url.startswith("sqlite") else "postgresql")
    assert metadata["size"] == info.file.stat().st_size
    assert metadata["contents"]["papers"]["rows"] == len(ids)
    assert metadata["refnet_version"] and metadata["duration_seconds"] >= 0

    report = verify_backup(settings=settings, name=info.name)
    assert report.name == info.name and len(report.checks) == 2

    # The database moves on: a paper renamed, one deleted, one added.
    update_paper(database_url, ids[0], title="Renamed after the backup")
    with session_scope(database_url) as session:
        session.execute(sa.delete(Paper).where(Paper.id == ids[-1]))
    make_paper(database_url, title="Added after the backup")
    assert table_stats(database_url) != before

    restored = restore_backup(settings=settings, name=info.name)

    assert table_stats(database_url) == before
    with session_scope(database_url) as session:
        titles = set(session.scalars(sa.select(Paper.title)))
    assert "Renamed after the backup" not in titles and "Added after the backup" not in titles
    assert restored.safety_backup is not None and not restored.needs_upgrade
    # The safety backup holds the database as it was just before the restore.
    listed = {listing.name: listing for listing in list_backups(settings=settings)}
    safety = listed[restored.safety_backup].info
    assert safety is not None and safety.contents["papers"].rows == len(ids)
    assert safety.contents != before and safety.reason.startswith("safety copy")
    # The restored database takes writes again.
    make_paper(database_url, title="Written after the restore")


def test_backup_of_a_database_with_nothing_in_it_restores(
    database_url: str, tmp_path: Path
) -> None:
    settings = settings_for(database_url, tmp_path)
    info = create_backup(settings=settings, kind=BackupKind.DATABASE)
    assert info.contents["papers"].rows == 0
    fill_network(database_url)
    verify_backup(settings=settings, name=info.name)
    restore_backup(settings=settings, name=f"{info.file.name}")
    assert table_stats(database_url)["papers"].rows == 0


def test_list_shows_backups_newest_first_with_their_state(
    database_url: str, tmp_path: Path
) -> None:
    settings = settings_for(database_url, tmp_path)
    fill_network(database_url, papers=2)
    first = create_backup(settings=settings, kind="database")
    second = create_backup(settings=settings, kind="database")
    with second.file.open("r+b") as stream:
        stream.truncate(second.size // 2)

    listings = list_backups(settings=settings)

    assert [listing.name for listing in listings] == [second.name, first.name]
    assert listings[1].ok and listings[1].info is not None
    assert listings[1].info.schema_revision == HEAD_REVISION
    assert not listings[0].ok and "truncated" in listings[0].detail


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_postgres_verify_uses_a_scratch_database_it_drops(
    database_url: str, tmp_path: Path
) -> None:
    settings = settings_for(database_url, tmp_path)
    fill_network(database_url, papers=2)
    info = create_backup(settings=settings, kind="database")
    verify_backup(settings=settings, name=info.name)
    engine = sa.create_engine(database_url)
    with engine.connect() as connection:
        scratch = connection.scalars(
            sa.text("SELECT datname FROM pg_database WHERE datname LIKE '%\\_verify\\_%'")
        ).all()
    engine.dispose()
    assert scratch == []
