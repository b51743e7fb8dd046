"""Authors of stored papers: one row per author (S2 author id, else normalized name), and each
paper's ordered list of them."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from refnet.core.batching import chunks
from refnet.core.records import PaperRecord
from refnet.db.models import Author, PaperAuthor
from refnet.db.queries._dialect import insert_rows

IN_CHUNK = 500
PAPER_AUTHORS = cast(Table, PaperAuthor.__table__)


def author_key(s2_author_id: str | None, name: str) -> str:
    return s2_author_id or "name:" + " ".join(name.lower().split())


def replace_authors(session: Session, records: list[PaperRecord], ids: dict[str, int]) -> None:
    if not records:
        return
    authors = {
        author_key(a.s2_author_id, a.name): {
            "key": author_key(a.s2_author_id, a.name),
            "s2_author_id": a.s2_author_id,
            "name": a.name,
        }
        for r in records
        for a in r.authors
    }
    author_ids: dict[str, int] = {}
    insert_rows(session, Author, [authors[key] for key in sorted(authors)])
    for keys in chunks(sorted(authors), IN_CHUNK):
        found = session.execute(select(Author.key, Author.id).where(Author.key.in_(keys)))
        author_ids.update(found.all())
    paper_ids = sorted({ids[r.s2_id] for r in records})
    for id_part in chunks(paper_ids, IN_CHUNK):
        session.execute(PAPER_AUTHORS.delete().where(PaperAuthor.paper_id.in_(id_part)))
    links = {
        (ids[r.s2_id], position): author_ids[author_key(a.s2_author_id, a.name)]
        for r in records
        for position, a in enumerate(r.authors)
    }
    rows = [
        {"paper_id": p, "position": pos, "author_id": a} for (p, pos), a in sorted(links.items())
    ]
    insert_rows(session, PaperAuthor, rows)
