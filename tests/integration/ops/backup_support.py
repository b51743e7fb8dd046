"""Settings pointed at a test database, a small citation network to back up, and a way to read
a database's tables the way a backup records them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from refnet.core.config import BackupSettings, Settings
from refnet.ops.backup_files import ContentStats
from refnet.ops.backup_postgres import database_stats
from refnet.ops.backup_sqlite import database_path
from refnet.ops.table_checksums import sqlite_stats
from tests.integration.generator.factory import make_edges, make_paper, make_seeds, make_summary


def settings_for(url: str, tmp_path: Path, **backup: object) -> Settings:
    """Settings using `url` (PostgreSQL; or the embedded SQLite file under `tmp_path`)."""
    embedded = url.startswith("sqlite")
    if embedded:
        assert Path(url.split("///", 1)[1]) == tmp_path / "refnet.sqlite3"
    return Settings(
        database_url=None if embedded else url,
        data_dir=tmp_path,
        vault_dir=tmp_path / "vault",
        backup=BackupSettings(**{"dir": tmp_path / "backups", **backup}),  # type: ignore[arg-type]
    )


def fill_network(url: str, papers: int = 6) -> list[int]:
    """Papers with authors, a chain of citations, summaries and a seed job."""
    ids = [
        make_paper(url, title=f"Graph summaries, part {n}", year=2015 + n, doi=f"10.5555/p.{n}")
        for n in range(papers)
    ]
    make_edges(url, list(zip(ids[1:], ids[:-1], strict=True)))
    for paper_id in ids[:3]:
        make_summary(url, paper_id)
    make_seeds(url, ids[:1])
    return ids


def table_stats(url: str) -> dict[str, ContentStats]:
    """The database's tables as a backup of it would record them."""
    if url.startswith("sqlite"):
        connection = sqlite3.connect(database_path(url))  # a live file: its -wal counts too
        try:
            return sqlite_stats(connection)[0]
        finally:
            connection.close()
    return database_stats(url=url)[0]


def write_vault(vault: Path) -> dict[str, bytes]:
    """A small vault: notes, a canvas, an empty folder, Obsidian's settings."""
    files = {
        "lewis2020retrieval.md": b"---\ntitle: Retrieval\n---\n[[karpukhin2020dense]]\n",
        "karpukhin2020dense.md": b"# Dense passage retrieval\n%% refnet:end %%\nmy notes\n",
        "maps/lewis2020retrieval.canvas": b'{"nodes": [], "edges": []}',
        ".obsidian/app.json": b"{}",
    }
    for relative, data in files.items():
        (vault / relative).parent.mkdir(parents=True, exist_ok=True)
        (vault / relative).write_bytes(data)
    (vault / "empty").mkdir()
    return files


def read_tree(root: Path) -> dict[str, bytes | None]:
    """Every path under `root`: file contents, None for directories."""
    return {
        path.relative_to(root).as_posix(): (path.read_bytes() if path.is_file() else None)
        for path in sorted(root.rglob("*"))
    }
