"""Vault backups: archived, checked, restored by a swap; unsafe archives refused."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from refnet.ops.backup import (
    BackupCorrupt,
    BackupKind,
    create_backup,
    list_backups,
    restore_backup,
    verify_backup,
)
from refnet.ops.backup_files import sha256_of
from tests.integration.ops.backup_support import read_tree, settings_for, write_vault


def test_vault_backup_restores_the_vault_as_it_was(sqlite_url: str, tmp_path: Path) -> None:
    settings = settings_for(sqlite_url, tmp_path)
    vault = settings.vault_dir
    write_vault(vault)
    original = read_tree(vault)

    info = create_backup(settings=settings, kind=BackupKind.VAULT)
    assert info.file.name.endswith(".tar.gz") and info.contents["files"].rows == 4
    assert verify_backup(settings=settings, name=info.name).kind is BackupKind.VAULT

    (vault / "lewis2020retrieval.md").write_text("rewritten")
    (vault / "karpukhin2020dense.md").unlink()
    (vault / "new-note.md").write_text("written after the backup")
    changed = read_tree(vault)

    report = restore_backup(settings=settings, name=info.name)

    assert read_tree(vault) == original
    assert report.safety_backup is not None
    assert sorted(path.name for path in tmp_path.iterdir() if "refnet-" in path.name) == []
    # The safety backup holds the vault as it was just before; restoring it brings that back.
    restore_backup(settings=settings, name=report.safety_backup)
    assert read_tree(vault) == changed


def test_vault_restore_into_a_missing_vault(sqlite_url: str, tmp_path: Path) -> None:
    settings = settings_for(sqlite_url, tmp_path)
    write_vault(settings.vault_dir)
    original = read_tree(settings.vault_dir)
    info = create_backup(settings=settings, kind="vault")
    for path in sorted(settings.vault_dir.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    settings.vault_dir.rmdir()

    report = restore_backup(settings=settings, name=info.name)

    assert report.safety_backup is None
    assert read_tree(settings.vault_dir) == original


def test_vault_backup_of_a_missing_vault_is_a_clear_error(sqlite_url: str, tmp_path: Path) -> None:
    settings = settings_for(sqlite_url, tmp_path)
    with pytest.raises(Exception, match=f"the vault directory {settings.vault_dir} does not exist"):
        create_backup(settings=settings, kind="vault")
    assert list_backups(settings=settings) == []


def _replace_archive(info_file: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> None:
    """Write a hostile archive over a backup's data file, with metadata that matches its bytes
    (as an attacker who can write the backup directory would)."""
    with tarfile.open(info_file, "w:gz") as archive:
        for member, data in members:
            archive.addfile(member, io.BytesIO(data) if member.isfile() else None)
    metadata_file = info_file.with_name(info_file.name.removesuffix(".tar.gz") + ".json")
    metadata = json.loads(metadata_file.read_text())
    metadata.update(size=info_file.stat().st_size, sha256=sha256_of(info_file))
    metadata_file.write_text(json.dumps(metadata))


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    member = tarfile.TarInfo(name)
    member.size = len(data)
    return member, data


def _link(name: str, target: str, *, hard: bool = False) -> tuple[tarfile.TarInfo, bytes]:
    member = tarfile.TarInfo(name)
    member.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    member.linkname = target
    return member, b""


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        (_file("../outside.md", b"escaped"), "points outside the vault"),
        (_file("/tmp/absolute.md", b"escaped"), "points outside the vault"),
        (_link("notes/evil", "../../../etc/passwd"), "is a link"),
        (_link("notes/hard", "/etc/passwd", hard=True), "is a link"),
    ],
)
def test_unsafe_archive_members_are_refused(
    sqlite_url: str,
    tmp_path: Path,
    member: tuple[tarfile.TarInfo, bytes],
    reason: str,
) -> None:
    settings = settings_for(sqlite_url, tmp_path)
    write_vault(settings.vault_dir)
    current = read_tree(settings.vault_dir)
    info = create_backup(settings=settings, kind="vault")
    _replace_archive(info.file, [_file("ok.md", b"fine"), member])

    with pytest.raises(BackupCorrupt, match=reason):
        verify_backup(settings=settings, name=info.name)
    with pytest.raises(BackupCorrupt, match=reason):
        restore_backup(settings=settings, name=info.name)

    assert read_tree(settings.vault_dir) == current
    assert not (tmp_path / "outside.md").exists() and not Path("/tmp/absolute.md").exists()


def test_truncated_vault_archive_fails_verification(sqlite_url: str, tmp_path: Path) -> None:
    settings = settings_for(sqlite_url, tmp_path)
    write_vault(settings.vault_dir)
    (settings.vault_dir / "bulk.md").write_text("citation network " * 20000)
    info = create_backup(settings=settings, kind="vault")
    data = info.file.read_bytes()[: info.size // 2]
    info.file.write_bytes(data)
    metadata_file = settings.backup_dir / f"{info.name}.json"
    metadata = json.loads(metadata_file.read_text())
    metadata.update(size=len(data), sha256=sha256_of(info.file))  # only the contents can tell
    metadata_file.write_text(json.dumps(metadata))

    with pytest.raises(BackupCorrupt, match="is unreadable"):
        verify_backup(settings=settings, name=info.name)
