"""File plumbing: merging with the user's edits, atomic writes, and leaving others' files alone."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
import yaml

from refnet.generator import vault
from refnet.generator.vault import (
    MARKER,
    FileResult,
    atomic_write,
    compose_note,
    merge_file,
    merge_note,
    note_stems,
    remove_stale_temp_files,
    split_note,
    write_merged,
    write_result,
)

OURS = {"title": "New Title", "tags": ["paper"], "year": 2020}
BODY = "# New Title\n\nRefNet's body.\n"


def user_edited_note() -> str:
    return (
        "---\n"
        "title: Old Title\n"
        "rating: 5  # out of five\n"
        "tags:\n"
        "- paper\n"
        "- my-own-tag\n"
        "status:\n"
        "  - reading\n"
        "  - later\n"
        "year: 2019\n"
        "---\n"
        "# Old Title\n\nOld body.\n\n"
        f"{MARKER}\n"
        "My notes, with [[links]] and #tags.\r\n"
        "---\n"
        "%% refnet:end %% quoted inside a line\n"
        "  trailing spaces  \n"
    )


def test_a_new_note_is_front_matter_body_and_marker() -> None:
    text = compose_note(OURS, BODY, None)
    assert text == (
        "---\ntitle: New Title\ntags:\n- paper\nyear: 2020\n---\n"
        f"# New Title\n\nRefNet's body.\n\n{MARKER}\n"
    )


def test_merge_keeps_the_users_part_verbatim_and_their_keys_after_ours() -> None:
    text = compose_note(OURS, BODY, user_edited_note())
    front, body = split_note(text)
    assert front == (
        "title: New Title\ntags:\n- paper\nyear: 2020\n"
        "rating: 5  # out of five\nstatus:\n  - reading\n  - later\n"
    )
    assert body.endswith(user_edited_note().split(MARKER + "\n", 1)[1])
    assert "Old body" not in body
    assert compose_note(OURS, BODY, text) == text  # stable from then on


def test_merge_falls_back_to_yaml_for_keys_it_cannot_split_by_line() -> None:
    existing = f"---\n{{rating: 5, title: Old}}\n---\nbody\n{MARKER}\nmine\n"
    front, body = split_note(compose_note(OURS, BODY, existing))
    assert yaml.safe_load(front or "") == OURS | {"rating": 5}
    assert body.endswith(f"{MARKER}\nmine\n")


def test_refnet_repairs_its_own_keys_even_when_the_user_broke_them() -> None:
    existing = f"---\ntitle: [unclosed\n---\nbody\n{MARKER}\nmine\n"
    front, body = split_note(compose_note(OURS, BODY, existing))
    assert yaml.safe_load(front or "") == OURS
    assert body.endswith(f"{MARKER}\nmine\n")


def test_a_note_without_front_matter_gets_ours_and_keeps_the_users_part() -> None:
    text = compose_note(OURS, BODY, f"just a body\n{MARKER}\nmine")
    assert text.startswith("---\ntitle: New Title\n")
    assert text.endswith(f"{MARKER}\nmine")


@pytest.mark.parametrize(
    ("existing", "reason"),
    [
        ("---\ntitle: x\nrating: [unclosed\n---\nbody\n%% refnet:end %%\n", "not valid YAML"),
        ("---\n- a list\n---\nbody\n%% refnet:end %%\n", "key: value"),
        ("---\ntitle: x\nbody without a closing fence\n", "closing"),
        ("---\ntitle: x\n---\nThe user deleted the marker line.\n", "missing"),
    ],
)
def test_notes_that_cannot_be_merged_safely_are_left_alone(
    tmp_path: Path, existing: str, reason: str
) -> None:
    path = tmp_path / "note.md"
    path.write_text(existing)
    result = write_result(path, merge_note(path, OURS, BODY, owned=True))
    assert result.status == "failed"
    assert reason in (result.error or "")
    assert path.read_text() == existing


def test_a_file_refnet_did_not_write_is_never_touched(tmp_path: Path) -> None:
    path = tmp_path / "note.md"
    path.write_text(f"someone else's\n{MARKER}\n")
    result = merge_note(path, OURS, BODY, owned=False)
    assert result.status == "failed"
    assert "did not write" in (result.error or "")
    assert path.read_text() == f"someone else's\n{MARKER}\n"


def test_unchanged_bytes_are_not_written(tmp_path: Path) -> None:
    path = tmp_path / "note.md"
    first = write_result(path, merge_note(path, OURS, BODY, owned=True))
    before = path.stat().st_ino
    second = merge_note(path, OURS, BODY, owned=True)
    assert (first.status, second.status) == ("written", "unchanged")
    assert first.content_hash == second.content_hash
    assert write_result(path, second) == second
    assert path.stat().st_ino == before


def test_atomic_write_replaces_the_file(tmp_path: Path) -> None:
    path = tmp_path / "note.md"
    path.write_bytes(b"old")
    atomic_write(path, b"new")
    assert path.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["note.md"]


@pytest.mark.parametrize("failing", ["replace", "fsync", "write"])
@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_a_failed_write_leaves_the_old_file_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str, code: int
) -> None:
    path = tmp_path / "note.md"
    path.write_bytes(b"old")

    def fail(*args: object) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(vault.os, failing, fail)
    result = write_result(path, FileResult("changed", "hash", data=b"new"))
    monkeypatch.undo()
    assert result.status == "failed"
    assert result.error == f"{errno.errorcode[code]}: {os.strerror(code)}"
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["note.md"]


def saving_during_fsync(monkeypatch: pytest.MonkeyPatch, save: Callable[[], None]) -> None:
    """The user saves right after RefNet synced its temp file, before the rename."""
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        real_fsync(fd)
        save()

    monkeypatch.setattr(vault.os, "fsync", fsync)


def test_a_file_saved_after_the_merge_read_it_is_not_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "note.md"
    path.write_text(compose_note(OURS, BODY, None))
    merged = merge_note(path, {**OURS, "year": 2021}, BODY, owned=True)
    saving_during_fsync(monkeypatch, lambda: path.write_text(path.read_text() + "Mine.\n"))
    assert write_result(path, merged) == FileResult("edited")
    assert path.read_text().endswith(f"{MARKER}\nMine.\n")
    assert [p.name for p in tmp_path.iterdir()] == ["note.md"]  # no temp file left


def test_a_file_created_where_there_was_none_is_not_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "note.md"
    merged = merge_note(path, OURS, BODY, owned=True)
    assert merged.base == vault.ABSENT
    saving_during_fsync(monkeypatch, lambda: path.write_text("someone else's\n"))
    assert write_result(path, merged).status == "edited"
    assert path.read_text() == "someone else's\n"


def test_a_file_saved_unchanged_meanwhile_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "note.md"
    path.write_text(compose_note(OURS, BODY, None))
    merged = merge_note(path, {**OURS, "year": 2021}, BODY, owned=True)
    saving_during_fsync(monkeypatch, lambda: path.write_text(path.read_text()))  # same bytes
    assert write_result(path, merged).status == "written"
    assert "year: 2021" in path.read_text()


def test_write_merged_merges_again_until_the_file_holds_still(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "note.md"
    path.write_text(compose_note(OURS, BODY, None))
    saves = iter(["One.\n", "Two.\n"])

    def save() -> None:
        if (line := next(saves, None)) is not None:
            path.write_text(path.read_text() + line)

    saving_during_fsync(monkeypatch, save)
    merge = partial(merge_note, path, {**OURS, "year": 2021}, BODY, owned=True)
    assert write_merged(path, merge).status == "written"
    text = path.read_text()
    assert "year: 2021" in text and text.endswith(f"{MARKER}\nOne.\nTwo.\n")


def test_write_merged_gives_up_on_a_file_that_never_holds_still(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "note.md"
    path.write_text(compose_note(OURS, BODY, None))
    saving_during_fsync(monkeypatch, lambda: path.write_text(path.read_text() + "More.\n"))
    merge = partial(merge_note, path, {**OURS, "year": 2021}, BODY, owned=True)
    assert write_merged(path, merge) == FileResult("failed", error=vault.EDITED_ERROR)
    text = path.read_text()
    assert "year: 2021" not in text
    assert text.endswith("More.\n" * vault.WRITE_ATTEMPTS)


def test_a_directory_where_the_note_should_be_fails_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "note.md"
    path.mkdir()
    result = write_result(path, merge_note(path, OURS, BODY, owned=True))
    assert result.status == "failed"
    assert (result.error or "").startswith("EISDIR")


def test_a_canvas_the_user_rearranged_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "seed.canvas"
    first = write_result(path, merge_file(path, b'{"nodes":[]}', owned=True, last_hash=None))
    path.write_bytes(b'{"nodes":[{"moved":true}]}')
    again = merge_file(path, b'{"nodes":[1]}', owned=True, last_hash=first.content_hash)
    assert again.status == "unchanged"
    assert again.content_hash == first.content_hash
    assert path.read_bytes() == b'{"nodes":[{"moved":true}]}'


def test_note_stems_cover_the_whole_vault_but_not_hidden_folders(tmp_path: Path) -> None:
    for name in ("papers/Lewis2020.md", "notes/deep/mine.MD", ".trash/gone.md", "a.canvas"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    assert note_stems(tmp_path) == {"lewis2020", "mine"}


def test_only_refnets_own_stale_temp_files_are_swept(tmp_path: Path) -> None:
    (tmp_path / "papers").mkdir()
    stale = tmp_path / "papers" / ".refnet-0123456789ab.tmp"
    fresh = tmp_path / "papers" / ".refnet-ba9876543210.tmp"
    mine = tmp_path / "papers" / ".refnet-notes.tmp"  # not a name RefNet makes
    for path in (stale, fresh, mine):
        path.write_text("x")
    os.utime(stale, (0, 0))
    os.utime(mine, (0, 0))
    assert remove_stale_temp_files(tmp_path) == 1
    assert not stale.exists() and fresh.exists() and mine.exists()
    assert remove_stale_temp_files(tmp_path / "missing") == 0
