"""Vault backups: a tar.gz of the vault directory, with a digest over the files it holds.

The digest (`ContentStats`: how many files, sha256 over each file's path and sha256) is computed
from the bytes written into the archive, so checking an archive never needs the vault. Only
directories and regular files are archived; a symbolic link in the vault is left out (RefNet
writes none). Restoring refuses any member with an absolute path, a `..`, a link, or a special
file, then swaps the extracted copy in by renames.
"""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
import shutil
import tarfile
import zlib
from pathlib import Path, PurePosixPath
from typing import IO

from refnet.ops.backup_files import BackupCorrupt, BackupFailed, ContentStats

_RESTORE_MARK = ".refnet-restore-"
_REPLACED_MARK = ".refnet-replaced-"


class _HashingReader:
    """A file read into the archive, hashed on the way."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        chunk = self.stream.read(size)
        self.digest.update(chunk)
        return chunk


def _stats(manifest: list[tuple[str, str]]) -> ContentStats:
    digest = hashlib.sha256()
    for path, file_digest in sorted(manifest):
        digest.update(f"{path}\0{file_digest}\n".encode("utf-8", "surrogateescape"))
    return ContentStats(rows=len(manifest), checksum=digest.hexdigest())


def _ours(name: str) -> bool:
    return name.startswith((_RESTORE_MARK, _REPLACED_MARK))


def archive_vault(*, vault: Path, target: Path) -> ContentStats:
    """Write the vault's directories and regular files to the tar.gz `target`."""
    if not vault.is_dir():
        raise BackupFailed(f"nothing to back up: the vault directory {vault} does not exist")
    manifest: list[tuple[str, str]] = []
    with tarfile.open(target, "w:gz") as archive:
        for directory, subdirectories, files in os.walk(vault):
            here = Path(directory)
            subdirectories[:] = sorted(
                name
                for name in subdirectories
                if not (here / name).is_symlink() and not (here == vault and _ours(name))
            )
            for name in subdirectories:
                relative = (here / name).relative_to(vault).as_posix()
                archive.add(here / name, arcname=relative, recursive=False)
            for name in sorted(files):
                path = here / name
                if path.is_symlink() or not path.is_file():
                    continue
                relative = path.relative_to(vault).as_posix()
                with path.open("rb") as stream:
                    member = archive.gettarinfo(arcname=relative, fileobj=stream)
                    reader = _HashingReader(stream)
                    archive.addfile(member, reader)
                manifest.append((relative, reader.digest.hexdigest()))
    return _stats(manifest)


def _refuse_unsafe(member: tarfile.TarInfo) -> None:
    path = PurePosixPath(member.name)
    if path.is_absolute() or ".." in path.parts:
        raise BackupCorrupt(f"archive member {member.name!r} points outside the vault")
    if member.issym() or member.islnk():
        raise BackupCorrupt(f"archive member {member.name!r} is a link ({member.linkname!r})")
    if not (member.isfile() or member.isdir()):
        raise BackupCorrupt(f"archive member {member.name!r} is not a file or directory")


def check_archive(*, path: Path) -> ContentStats:
    """The digest of the archive's files; BackupCorrupt when it is unreadable or unsafe."""
    manifest: list[tuple[str, str]] = []
    try:
        with tarfile.open(path, "r:gz") as archive:
            for member in archive:
                _refuse_unsafe(member)
                if member.isfile():
                    stream = archive.extractfile(member)
                    assert stream is not None
                    digest = hashlib.sha256()
                    while chunk := stream.read(1024 * 1024):
                        digest.update(chunk)
                    manifest.append((PurePosixPath(member.name).as_posix(), digest.hexdigest()))
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        reason = str(exc) or type(exc).__name__
        raise BackupCorrupt(f"archive {path.name} is unreadable ({reason})") from None
    return _stats(manifest)


def restore_vault(*, source: Path, vault: Path) -> None:
    """Replace the vault with the archive's contents: extracted next to it, then swapped in.
    A vault that is a mount point (a container volume) cannot be renamed: its entries are
    swapped instead, inside it. The caller has checked the archive (`check_archive`); the
    extraction refuses unsafe members again (tarfile's `data` filter)."""
    mounted = vault.is_dir() and os.path.ismount(vault)
    staging_parent = vault if mounted else vault.parent
    staging_parent.mkdir(parents=True, exist_ok=True)
    staging = staging_parent / f"{_RESTORE_MARK}{vault.name}-{secrets.token_hex(4)}"
    try:
        with tarfile.open(source, "r:gz") as archive:
            archive.extractall(staging, filter="data")
        if mounted:
            _swap_entries(vault, staging)
        else:
            _swap_directory(vault, staging)
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise BackupCorrupt(f"archive {source.name} could not be extracted ({exc})") from None
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise BackupFailed(f"no space left next to the vault {vault} to restore into") from None
        raise BackupFailed(f"cannot restore the vault {vault}: {exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _swap_directory(vault: Path, staging: Path) -> None:
    replaced = vault.with_name(f"{_REPLACED_MARK}{vault.name}-{secrets.token_hex(4)}")
    if vault.exists():
        os.rename(vault, replaced)
    try:
        os.rename(staging, vault)
    except OSError:
        if replaced.exists():
            os.rename(replaced, vault)
        raise
    shutil.rmtree(replaced, ignore_errors=True)


def _swap_entries(vault: Path, staging: Path) -> None:
    replaced = vault / f"{_REPLACED_MARK}{secrets.token_hex(4)}"
    replaced.mkdir()
    moved: list[str] = []
    placed: list[str] = []
    try:
        for entry in sorted(os.listdir(vault)):
            if not _ours(entry):
                os.rename(vault / entry, replaced / entry)
                moved.append(entry)
        for entry in sorted(os.listdir(staging)):
            os.rename(staging / entry, vault / entry)
            placed.append(entry)
    except OSError:
        for entry in placed:
            _remove_entry(vault / entry)
        for entry in moved:
            os.rename(replaced / entry, vault / entry)
        replaced.rmdir()
        raise
    shutil.rmtree(replaced, ignore_errors=True)


def _remove_entry(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
