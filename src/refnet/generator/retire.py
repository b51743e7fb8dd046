"""Files RefNet wrote for papers that are gone: deleted from the database (the foreign key set
their record's `paper_id` to NULL), or no longer in the vault; a map or canvas whose paper is no
longer a seed.

A file with nothing of the user's in it (its bytes are what RefNet last wrote, nothing below
`%% refnet:end %%`, no property of the user's) is deleted. Any other is kept: a paper note gets a
`refnet_removed` property and a callout saying RefNet no longer updates it, the user's text
untouched. Either way its record goes, so RefNet no longer owns a kept file; if the paper comes
back (the same S2 id), `adopt` takes its note over again. The vault papers a retired note linked
to are rendered again, so none keeps a link to it however the paper was deleted.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from refnet.db.models import VaultFileKind
from refnet.db.queries.vault import VaultFileRow
from refnet.generator import vault
from refnet.generator.render import MAP_KEYS, NOTE_KEYS

_LINK_TARGET = re.compile(r"(?<!\\)\[\[([^\]|#^]+)")


@dataclass
class Retired:
    removed: list[str] = field(default_factory=list)  # deleted: nothing of the user's in them
    kept: list[str] = field(default_factory=list)  # left with the user's text (notes: marked)
    forget: list[str] = field(default_factory=list)  # records to delete
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason); next run again
    linked: set[str] = field(default_factory=set)  # citekeys the retired notes linked to


def removed_callout(day: date) -> str:
    return (
        "> [!warning] Removed from RefNet\n"
        f"> This paper left RefNet's database on {day.isoformat()}, so RefNet no longer updates "
        "this note. Your text is kept; delete the note when you no longer need it.\n\n"
    )


def retire_files(vault_dir: Path, rows: Iterable[VaultFileRow], *, today: date) -> Retired:
    """Delete or keep (and mark) each file, as the module says."""
    retired = Retired()
    for row in rows:
        try:
            outcome = _retire(vault_dir / row.path, row, today, retired.linked)
        except (OSError, vault.FileEdited) as exc:
            reason = vault.EDITED_ERROR if isinstance(exc, vault.FileEdited) else None
            retired.failed.append((row.path, reason or vault.describe(exc)))
            continue
        if outcome == "removed":
            retired.removed.append(row.path)
        elif outcome == "kept":
            retired.kept.append(row.path)
        retired.forget.append(row.path)
    return retired


def _retire(path: Path, row: VaultFileRow, today: date, linked: set[str]) -> str:
    """`removed`, `kept`, or `gone` (no file of RefNet's there)."""
    data = vault.read_file(path) if row.written_at is not None else None
    if data is None:
        return "gone"
    base = vault.content_hash(data)
    is_note = row.kind == VaultFileKind.NOTE.value
    try:
        text = data.decode("utf-8")
        users = _has_users_part(text, row.kind, linked if is_note else None)
    except (UnicodeDecodeError, vault.NoteConflict):
        return "kept"  # RefNet cannot tell what is whose: all of it stays, unmarked
    if base == row.content_hash and not users:
        if vault.current_base(path) != base:
            raise vault.FileEdited(str(path))
        os.unlink(path)
        return "removed"
    if is_note:
        front, rest = vault.split_note(text)
        head = f"{front}\n" if front and not front.endswith("\n") else front or ""
        marked = f"---\n{head}{vault.REMOVED_KEY}: {today.isoformat()}\n---\n"
        vault.atomic_write(path, (marked + removed_callout(today) + rest).encode(), base=base)
    return "kept"


def _has_users_part(text: str, kind: str, linked: set[str] | None) -> bool:
    """Whether the user added anything: text below the marker, or properties of their own.
    Collects the note's links into `linked` on the way."""
    if kind == VaultFileKind.CANVAS.value:
        return False  # a canvas is all RefNet's or, once rearranged, all the user's
    front, body = vault.split_note(text)
    mine = vault.user_part(body)
    if linked is not None:
        linked.update(_LINK_TARGET.findall(body[: len(body) - len(mine)]))
    owned = set(NOTE_KEYS) if kind == VaultFileKind.NOTE.value else set(MAP_KEYS)
    return bool(mine.strip() or vault.foreign_front_matter(front, owned).strip())
