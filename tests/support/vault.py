"""Reading an Obsidian vault back the way Obsidian would."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

LINK = re.compile(r"\[\[([^\]|#^]+)(?:[#^][^\]|]*)?(?:\|[^\]]*)?\]\]")
END_MARKER = "%% refnet:end %%"


@dataclass(frozen=True)
class Note:
    path: Path
    properties: dict[str, Any]
    body: str

    @property
    def links(self) -> list[str]:
        generated = self.body.split(END_MARKER, 1)[0]
        return LINK.findall(generated)

    def section_links(self, heading: str) -> set[str]:
        generated = self.body.split(END_MARKER, 1)[0]
        match = re.search(rf"^## {re.escape(heading)}\s*$(.*?)(?=^## |\Z)", generated, re.M | re.S)
        return set(LINK.findall(match.group(1))) if match else set()


def read_note(path: Path) -> Note:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\n"), f"{path} has no front matter"
    front, body = text[4:].split("\n---\n", 1)
    properties = yaml.safe_load(front)
    assert isinstance(properties, dict), f"{path}: front matter is not a mapping"
    return Note(path=path, properties=properties, body=body)


def paper_notes(vault: Path) -> dict[str, Note]:
    """Every note that has RefNet's `s2_id` property, by file stem (what links point at)."""
    notes = {}
    for path in vault.rglob("*.md"):
        note = read_note(path)
        if "s2_id" in note.properties:
            notes[path.stem] = note
    return notes


def all_link_targets(vault: Path) -> set[str]:
    return {path.stem for path in vault.rglob("*.md")}
