"""A note the user saves in Obsidian while RefNet is writing it keeps what the user saved.

The save is made at the last moment RefNet can notice it: right after the new note's temp file
is synced, before it is renamed over the note (`os.fsync` is the seam). Obsidian saves either
in place or through a temp file renamed over the note; both are simulated.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from refnet.generator import vault
from tests.integration.generator.factory import (
    MARKER,
    make_paper,
    make_summary,
    section,
    split,
    vault_rows,
)
from tests.integration.generator.sample import Network, generate

NOTE = "papers/nietzscheuntimely.md"  # `undated`: a new summary rewrites this note only
MINE = "My own words.\n"
TYPED = "Typed in Obsidian while RefNet wrote.\n"


def save_in_place(note: Path, text: str) -> None:
    with note.open("a", encoding="utf-8") as file:
        file.write(text)


def save_by_rename(note: Path, text: str) -> None:
    temp = note.with_name(f".{note.name}.obsidian-save")
    temp.write_text(note.read_text(encoding="utf-8") + text, encoding="utf-8")
    os.replace(temp, note)


def during_writes(monkeypatch: pytest.MonkeyPatch, edit: Callable[[], None], times: int) -> None:
    """Run `edit` after each of the first `times` fsyncs of a generation (one note's writes)."""
    real_fsync, done = os.fsync, []

    def fsync(fd: int) -> None:
        real_fsync(fd)
        if len(done) < times:
            done.append(fd)
            edit()

    monkeypatch.setattr(vault.os, "fsync", fsync)


@pytest.fixture
def note(network: Network, vault_dir: Path) -> Path:
    """A written note with the user's words below the marker; its paper just got a summary."""
    generate(network, vault_dir)
    path = vault_dir / NOTE
    save_in_place(path, MINE)
    make_summary(network.url, network.ids["undated"], tldr="Freshly summarized.")
    return path


@pytest.mark.parametrize("save", [save_in_place, save_by_rename], ids=["in-place", "rename"])
def test_a_note_saved_during_its_write_keeps_the_edit_and_gets_refnets_update(
    network: Network,
    vault_dir: Path,
    note: Path,
    monkeypatch: pytest.MonkeyPatch,
    save: Callable[[Path, str], None],
) -> None:
    during_writes(monkeypatch, lambda: save(note, TYPED), times=1)
    report = generate(network, vault_dir)

    assert (report.notes_written, report.notes_failed) == (1, [])
    text = note.read_text(encoding="utf-8")
    assert text.endswith(f"{MARKER}\n{MINE}{TYPED}")
    front, body = split(text)
    assert front["summary_source"] == "abstract"
    assert "Freshly summarized." in section(body, "TL;DR")
    assert not [p for p in os.listdir(note.parent) if p.startswith(".")]  # no temp files left
    monkeypatch.undo()
    assert generate(network, vault_dir).notes_written == 0  # recorded as what is on disk


def test_a_note_saved_again_at_every_attempt_is_left_as_saved_for_the_next_run(
    network: Network, vault_dir: Path, note: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    during_writes(monkeypatch, lambda: save_by_rename(note, TYPED), times=vault.WRITE_ATTEMPTS)
    report = generate(network, vault_dir)

    assert report.notes_failed == [(NOTE, vault.EDITED_ERROR)]
    assert report.notes_written == 0
    saved = note.read_text(encoding="utf-8")
    assert saved.endswith(f"{MINE}{TYPED * vault.WRITE_ATTEMPTS}")
    assert "Freshly summarized." not in saved  # RefNet's update waits, the user's text is whole
    assert vault_rows(network.url)[NOTE] == ("failed", vault.EDITED_ERROR)

    monkeypatch.undo()
    again = generate(network, vault_dir)
    assert (again.notes_written, again.notes_failed) == (1, [])
    text = note.read_text(encoding="utf-8")
    assert "Freshly summarized." in text
    assert text.endswith(f"{MARKER}\n{MINE}{TYPED * vault.WRITE_ATTEMPTS}")


def test_a_note_deleted_during_its_write_comes_back_without_what_was_deleted(
    network: Network, vault_dir: Path, note: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    during_writes(monkeypatch, note.unlink, times=1)
    report = generate(network, vault_dir)

    assert (report.notes_written, report.notes_failed) == (1, [])
    text = note.read_text(encoding="utf-8")
    assert "Freshly summarized." in text
    assert text.endswith(f"{MARKER}\n")  # the user's old words stay deleted


def test_a_file_the_user_creates_during_a_new_notes_write_is_left_alone(
    network: Network, vault_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate(network, vault_dir)
    make_paper(network.url, title="Brand New Ideas", year=2024, authors=["Ada Lovelace"])
    mine = vault_dir / "papers" / "lovelace2024brand.md"
    during_writes(monkeypatch, lambda: mine.write_text("Ada's page, mine.\n"), times=1)
    report = generate(network, vault_dir)

    assert [path for path, _ in report.notes_failed] == ["papers/lovelace2024brand.md"]
    assert mine.read_text() == "Ada's page, mine.\n"
    monkeypatch.undo()
    again = generate(network, vault_dir)  # the paper moves to another name
    assert again.notes_failed == []
    assert mine.read_text() == "Ada's page, mine.\n"
    assert (vault_dir / "papers" / "lovelace2024brand-2.md").is_file()
