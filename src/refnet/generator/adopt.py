"""Files RefNet wrote into a vault whose database record is gone (a new or reset database).

They are recognized by RefNet's own marks, so they are taken over instead of being treated as
the user's files (which would leave them untouched and write duplicates beside them):
- a paper note: front matter with `s2_id` and `refnet_updated`, and the `%% refnet:end %%` line;
- the index and seed map notes: the `refnet-index` / `refnet-map` tag and the marker line;
- a seed canvas: JSON Canvas whose file nodes all point under `papers/`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from refnet.generator import vault

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def orphaned_files(vault_dir: Path, recorded: set[str]) -> dict[str, str | None]:
    """RefNet's files not in `recorded`: relative path -> the paper's S2 id (None for the index,
    maps and canvases)."""
    found: dict[str, str | None] = {}
    for folder in (vault.NOTES_DIR, vault.MAPS_DIR, "."):
        directory = vault_dir / folder
        if not directory.is_dir():
            continue
        for path in directory.iterdir():
            relative = path.relative_to(vault_dir).as_posix()
            if relative in recorded or not path.is_file():
                continue
            mark = _mark(path, in_notes=folder == vault.NOTES_DIR)
            if mark is not False:
                found[relative] = mark if isinstance(mark, str) else None
    return found


def _mark(path: Path, *, in_notes: bool) -> str | bool | None:
    """The S2 id of a RefNet paper note, None for another RefNet file, False if not RefNet's."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    if path.suffix == ".canvas":
        return None if _is_refnet_canvas(text) else False
    if path.suffix != ".md" or vault.MARKER not in text:
        return False
    try:
        front, _ = vault.split_note(text)
        properties = yaml.load(front or "", Loader=_LOADER)
    except (vault.NoteConflict, yaml.YAMLError):
        return False
    if not isinstance(properties, dict):
        return False
    if in_notes:
        s2_id = properties.get("s2_id")
        return str(s2_id) if s2_id and "refnet_updated" in properties else False
    tags = properties.get("tags") or []
    return None if {"refnet-index", "refnet-map"} & set(map(str, tags)) else False


def _is_refnet_canvas(text: str) -> bool:
    try:
        canvas = json.loads(text)
    except ValueError:
        return False
    nodes = canvas.get("nodes") if isinstance(canvas, dict) else None
    if not isinstance(nodes, list) or not nodes:
        return False
    files = [node.get("file") for node in nodes if isinstance(node, dict)]
    linked = [str(name) for name in files if name is not None]
    return bool(linked) and all(name.startswith(f"{vault.NOTES_DIR}/") for name in linked)
