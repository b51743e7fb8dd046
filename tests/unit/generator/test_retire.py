"""Files of papers gone from the database: deleted when all RefNet's, kept when the user's too."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from refnet.db.queries.vault import VaultFileRow
from refnet.generator import vault
from refnet.generator.retire import retire_files
from refnet.generator.vault import MARKER, compose_note, content_hash

DAY = date(2024, 6, 1)
WRITTEN = datetime(2024, 5, 1)
NOTE = compose_note(
    {"title": "Gone", "s2_id": "abc", "refnet_updated": "2024-05-01T00:00:00Z"},
    "# Gone\n\n## References\n\n- [[lewis2020retrieval|RAG (2020)]]\n",
    None,
)


def written(vault_dir: Path, path: str, text: str, kind: str = "note") -> VaultFileRow:
    file = vault_dir / path
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(text)
    digest = content_hash(text.encode())
    return VaultFileRow(path, kind, None, digest, "written", None, WRITTEN, WRITTEN)


def test_files_as_refnet_wrote_them_are_deleted(tmp_path: Path) -> None:
    rows = [
        written(tmp_path, "papers/gone.md", NOTE),
        written(tmp_path, "maps/gone map.md", compose_note({"tags": ["refnet-map"]}, "#", None)),
        written(tmp_path, "maps/gone.canvas", '{"nodes": []}', kind="canvas"),
    ]
    retired = retire_files(tmp_path, rows, today=DAY)
    assert sorted(retired.removed) == sorted(row.path for row in rows)
    assert retired.forget == [row.path for row in rows]
    assert retired.linked == {"lewis2020retrieval"}
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_a_note_with_the_users_words_is_kept_and_marked(tmp_path: Path) -> None:
    row = written(tmp_path, "papers/gone.md", NOTE + "Mine.\n")
    row = row._replace(content_hash=content_hash(NOTE.encode()))  # RefNet wrote it without
    retired = retire_files(tmp_path, [row], today=DAY)
    assert (retired.kept, retired.forget, retired.removed) == ([row.path], [row.path], [])
    text = (tmp_path / row.path).read_text()
    assert f"{vault.REMOVED_KEY}: 2024-06-01\n---\n> [!warning] Removed from RefNet" in text
    assert text.endswith(f"{MARKER}\nMine.\n")
    assert "[[lewis2020retrieval|" in text  # RefNet's last words on it stay


def test_files_the_user_changed_are_kept_untouched_unless_a_paper_note(tmp_path: Path) -> None:
    canvas = written(tmp_path, "maps/gone.canvas", '{"nodes": [{"moved": 1}]}', kind="canvas")
    map_note = written(
        tmp_path, "maps/gone map.md", "---\ntags: [x]\nmine: 1\n---\n\n%% refnet:end %%\n"
    )
    broken = written(tmp_path, "papers/broken.md", "no marker any more\n")
    canvas = canvas._replace(content_hash="what RefNet wrote")
    retired = retire_files(tmp_path, [canvas, map_note._replace(kind="map"), broken], today=DAY)
    assert sorted(retired.kept) == sorted([canvas.path, map_note.path, broken.path])
    assert (tmp_path / canvas.path).read_text() == '{"nodes": [{"moved": 1}]}'
    assert (tmp_path / broken.path).read_text() == "no marker any more\n"
    assert "refnet_removed" not in (tmp_path / map_note.path).read_text()


def test_records_without_a_file_of_refnets_are_forgotten_only(tmp_path: Path) -> None:
    missing = VaultFileRow(
        "papers/missing.md", "note", None, "h", "written", None, WRITTEN, WRITTEN
    )
    never = written(tmp_path, "papers/never.md", "the user's own file\n")._replace(written_at=None)
    retired = retire_files(tmp_path, [missing, never], today=DAY)
    assert retired.forget == [missing.path, never.path]
    assert (retired.removed, retired.kept) == ([], [])
    assert (tmp_path / never.path).read_text() == "the user's own file\n"
