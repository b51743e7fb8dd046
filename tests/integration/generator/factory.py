"""Helpers that put papers, edges, summaries and seeds in a database, and read a vault back."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from refnet.db.base import utcnow
from refnet.db.models import (
    Author,
    Citation,
    CrawlJob,
    FrontierEntry,
    FrontierState,
    Paper,
    PaperAuthor,
    Summary,
)
from refnet.db.session import session_scope

_numbers = itertools.count(1)
WIKILINK = re.compile(r"(?<!\\)\[\[([^\]|#^]+)(?:[#^][^\]|]*)?(?:\|([^\]]*))?\]\]")
MARKER = "%% refnet:end %%"


def make_paper(
    url: str,
    *,
    title: str | None = "A Paper",
    year: int | None = 2020,
    authors: Sequence[str] = ("Patrick Lewis",),
    state: str = "collected",
    s2_id: str | None = None,
    doi: str | None = None,
    abstract: str | None = "An abstract.",
    fields_of_study: Sequence[str] = ("Computer Science",),
    updated_at: datetime | None = None,
    **columns: Any,
) -> int:
    """Insert one paper with its authors; returns its id."""
    number = next(_numbers)
    stamp = updated_at or utcnow()
    with session_scope(url) as session:
        paper = Paper(
            s2_id=s2_id or f"{number:040x}",
            title=title,
            year=year,
            doi=doi,
            abstract=abstract,
            fields_of_study=list(fields_of_study),
            crawl_state=state,
            citation_count=columns.pop("citation_count", 10),
            reference_count=columns.pop("reference_count", 5),
            created_at=stamp,
            updated_at=stamp,
            **columns,
        )
        session.add(paper)
        session.flush()
        for position, name in enumerate(authors):
            key = "name:" + " ".join(name.lower().split())
            author = session.scalars(sa.select(Author).where(Author.key == key)).first()
            if author is None:
                author = Author(key=key, name=name)
                session.add(author)
                session.flush()
            session.add(PaperAuthor(paper_id=paper.id, position=position, author_id=author.id))
        return paper.id


def make_edges(url: str, edges: Sequence[tuple[int, int]]) -> None:
    """Store `(citing, cited)` edges."""
    with session_scope(url) as session:
        session.add_all(Citation(citing_id=a, cited_id=b) for a, b in edges)


def make_summary(
    url: str,
    paper_id: int,
    *,
    provider: str = "anthropic",
    status: str = "done",
    tldr: str | None = "In short.",
    summary: str | None = "A longer summary.",
    key_points: Sequence[str] = ("First point", "Second point"),
    keywords: Sequence[str] = ("retrieval", "generation"),
    model: str = "model-1",
) -> None:
    with session_scope(url) as session:
        session.add(
            Summary(
                paper_id=paper_id,
                provider=provider,
                model=model,
                prompt_version="v1",
                language="en",
                status=status,
                input_kind="abstract",
                tldr=tldr,
                summary=summary,
                key_points=list(key_points),
                keywords=list(keywords),
            )
        )


def make_seeds(url: str, paper_ids: Sequence[int]) -> int:
    """A crawl job whose frontier marks these papers as seeds; returns the job id."""
    with session_scope(url) as session:
        job = CrawlJob(seeds=[str(p) for p in paper_ids], source="snapshot:test")
        session.add(job)
        session.flush()
        session.add_all(
            FrontierEntry(
                job_id=job.id,
                paper_id=pid,
                depth=0,
                state=FrontierState.EXPANDED.value,
                is_seed=True,
            )
            for pid in paper_ids
        )
        return job.id


def update_paper(url: str, paper_id: int, **values: Any) -> None:
    with session_scope(url) as session:
        session.execute(sa.update(Paper).where(Paper.id == paper_id).values(**values))


def citekeys(url: str) -> dict[int, str]:
    with session_scope(url) as session:
        rows = session.execute(sa.select(Paper.id, Paper.citekey).where(Paper.citekey.is_not(None)))
        return {pid: key for pid, key in rows}


def vault_rows(url: str) -> dict[str, tuple[str, str | None]]:
    """path -> (status, error) of every file RefNet recorded."""
    with session_scope(url) as session:
        rows = session.execute(sa.text("SELECT path, status, error FROM vault_files"))
        return {path: (status, error) for path, status, error in rows}


# Reading a vault back.


def split(text: str) -> tuple[dict[str, Any], str]:
    """(front matter, body) of a note."""
    if not text.startswith("---\n"):
        return {}, text
    front, _, body = text[4:].partition("\n---\n")
    return yaml.safe_load(front) or {}, body


def section(body: str, heading: str) -> str:
    """The text under `## <heading…>` up to the next `## `."""
    match = re.search(rf"^## {re.escape(heading)}[^\n]*\n(.*?)(?=^## |\Z)", body, re.S | re.M)
    return match.group(1) if match else ""


def links(text: str) -> list[str]:
    return [m.group(1) for m in WIKILINK.finditer(text)]


def files(vault_dir: Path) -> dict[str, Path]:
    """Every file in the vault by path relative to it (hidden temp files included)."""
    return {p.relative_to(vault_dir).as_posix(): p for p in vault_dir.rglob("*") if p.is_file()}


def resolve(vault_dir: Path, target: str) -> Path | None:
    """The file a `[[target]]` opens, as Obsidian resolves it (by name, `.md` implied)."""
    name = target if "." in target.rsplit("/", 1)[-1] else f"{target}.md"
    found = [p for p in files(vault_dir).values() if p.name.lower() == name.lower()]
    return found[0] if len(found) == 1 else None


def inode(path: Path) -> tuple[int, int]:
    """Changes whenever RefNet writes the file (a rename gives it a new inode)."""
    stat = path.stat()
    return stat.st_ino, stat.st_mtime_ns
