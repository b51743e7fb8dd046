"""Papers and authors: bulk upserts on natural keys."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Table,
    bindparam,
    case,
    func,
    select,
    update,
)
from sqlalchemy.orm import Session

from refnet.core.batching import chunks
from refnet.core.records import PaperRecord
from refnet.db.base import utcnow
from refnet.db.models import CrawlState, Paper
from refnet.db.queries._dialect import insert_rows, member_of
from refnet.db.queries.authors import replace_authors

IN_CHUNK = 500
STUB_COLUMNS = ("title", "year", "venue", "citation_count", "influential_citation_count")
PAPERS = cast(Table, Paper.__table__)
METADATA_COLUMNS = (
    "corpus_id",
    "external_ids",
    "url",
    "title",
    "abstract",
    "tldr",
    "year",
    "publication_date",
    "venue",
    "journal",
    "publication_types",
    "fields_of_study",
    "citation_count",
    "reference_count",
    "influential_citation_count",
    "open_access_pdf_url",
    "open_access_status",
    "open_access_license",
    "bibtex",
)


@dataclass(slots=True)
class _Existing:
    id: int
    s2_id: str
    doi: str | None
    arxiv_id: str | None
    crawl_state: str
    incomplete: bool  # a stub still missing its title, year or citation count


def _metadata(record: PaperRecord) -> dict[str, Any]:
    return {column: getattr(record, column) for column in METADATA_COLUMNS}


def _load_existing(session: Session, records: Sequence[PaperRecord]) -> list[_Existing]:
    s2_ids = [r.s2_id for r in records]
    dois = [r.doi for r in records if r.doi]
    arxiv_ids = [r.arxiv_id for r in records if r.arxiv_id]
    incomplete = Paper.title.is_(None) | Paper.year.is_(None) | Paper.citation_count.is_(None)
    columns = (
        Paper.id,
        Paper.s2_id,
        Paper.doi,
        Paper.arxiv_id,
        Paper.crawl_state,
        incomplete.label("incomplete"),
    )
    found: dict[int, _Existing] = {}
    for column, values in ((Paper.s2_id, s2_ids), (Paper.doi, dois), (Paper.arxiv_id, arxiv_ids)):
        for condition in member_of(session, column, values):
            for row in session.execute(select(*columns).where(condition)):
                found[row.id] = _Existing(*row)
    return list(found.values())


class _Index:
    """Which stored row a record is: matched by S2 id, then DOI, then arXiv id."""

    def __init__(self, existing: Iterable[_Existing]) -> None:
        self.by_s2: dict[str, int] = {}
        self.by_doi: dict[str, int] = {}
        self.by_arxiv: dict[str, int] = {}
        for row in existing:
            self.add(row.id, row.s2_id, row.doi, row.arxiv_id)

    def add(self, row_id: int, s2_id: str, doi: str | None, arxiv_id: str | None) -> None:
        self.by_s2.setdefault(s2_id, row_id)
        if doi:
            self.by_doi.setdefault(doi, row_id)
        if arxiv_id:
            self.by_arxiv.setdefault(arxiv_id, row_id)

    def match(self, record: PaperRecord) -> int | None:
        return (
            self.by_s2.get(record.s2_id)
            or (self.by_doi.get(record.doi) if record.doi else None)
            or (self.by_arxiv.get(record.arxiv_id) if record.arxiv_id else None)
        )

    def free_doi(self, record: PaperRecord, row_id: int) -> str | None:
        """The record's DOI unless another row already holds it."""
        owner = self.by_doi.get(record.doi) if record.doi else None
        return record.doi if owner in (None, row_id) else None

    def free_arxiv(self, record: PaperRecord, row_id: int) -> str | None:
        owner = self.by_arxiv.get(record.arxiv_id) if record.arxiv_id else None
        return record.arxiv_id if owner in (None, row_id) else None


def _dedupe(records: Iterable[PaperRecord]) -> list[PaperRecord]:
    """One record per S2 id, preferring a complete one."""
    chosen: dict[str, PaperRecord] = {}
    for record in records:
        current = chosen.get(record.s2_id)
        if current is None or (record.complete and not current.complete):
            chosen[record.s2_id] = record
    return list(chosen.values())


def upsert_papers(*, session: Session, records: Iterable[PaperRecord]) -> dict[str, int]:
    """Store papers and return the row id of every given S2 id.

    Complete records (from a metadata lookup) replace a row's metadata and authors; listing rows
    only fill what is still empty, so a stub never overwrites collected metadata. A record whose
    DOI or arXiv id is already stored under another S2 id merges into that row.
    """
    staged = stage_papers(session=session, records=records)
    staged.finish(session)
    return staged.ids


@dataclass(slots=True)
class StagedPapers:
    """The first half of `upsert_papers`, written: rows for the papers in `ids`, stubs filled.

    `finish` writes the rest: the rows of new stubs that were put off (`later`), then the
    metadata and authors of the complete records.
    """

    ids: dict[str, int]
    complete: list[PaperRecord]
    later: list[PaperRecord]
    index: _Index
    now: datetime

    def finish(self, session: Session) -> None:
        if self.later:
            _insert_new(session, self.later, self.index, self.now)
            for record in self.later:
                row = self.index.match(record)
                assert row is not None, f"no row for {record.s2_id} after inserting it"
                self.ids[record.s2_id] = row
            self.later = []
        _update_complete(session, self.complete, self.ids, self.index, self.now)
        replace_authors(session, self.complete, self.ids)


def stage_papers(
    *, session: Session, records: Iterable[PaperRecord], put_off_new_stubs: bool = False
) -> StagedPapers:
    """Rows for every paper (with `put_off_new_stubs`, not yet for stubs that are new: nothing
    can have chosen them yet), and what listing rows know filled into existing stubs."""
    unique = _dedupe(records)
    now = utcnow()
    if not unique:
        return StagedPapers({}, [], [], _Index([]), now)
    existing = _load_existing(session, unique)
    index = _Index(existing)
    fillable = {
        row.id
        for row in existing
        if row.crawl_state == CrawlState.DISCOVERED.value and row.incomplete
    }
    new = [r for r in unique if index.match(r) is None]
    later = [r for r in new if not r.complete] if put_off_new_stubs else []
    _insert_new(session, [r for r in new if r.complete] if put_off_new_stubs else new, index, now)
    ids = {r.s2_id: row_id for r in unique if (row_id := index.match(r)) is not None}
    stubs = [r for r in unique if not r.complete and ids.get(r.s2_id) in fillable]
    _fill_stubs(session, stubs, ids)
    return StagedPapers(ids, [r for r in unique if r.complete], later, index, now)


def _insert_new(session: Session, records: list[PaperRecord], index: _Index, now: datetime) -> None:
    rows, pending = [], _Index([])
    for record in sorted(records, key=lambda r: r.s2_id):  # key order, as every batch write
        if pending.match(record) is not None:
            continue  # same DOI/arXiv id as another new record in this batch
        pending.add(0, record.s2_id, record.doi, record.arxiv_id)
        rows.append(
            {
                "s2_id": record.s2_id,
                "doi": record.doi,
                "arxiv_id": record.arxiv_id,
                **_metadata(record),
                "crawl_state": (
                    CrawlState.COLLECTED.value if record.complete else CrawlState.DISCOVERED.value
                ),
                "metadata_fetched_at": now if record.complete else None,
                "created_at": now,
                "updated_at": now,
            }
        )
    insert_rows(session, Paper, rows)
    # Read back ids, including rows another process inserted first.
    for row in _load_existing(session, records):
        index.add(row.id, row.s2_id, row.doi, row.arxiv_id)


def _update_complete(
    session: Session,
    records: list[PaperRecord],
    ids: dict[str, int],
    index: _Index,
    now: datetime,
) -> None:
    if not records:
        return
    table = PAPERS
    statement = (
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values(
            {
                **{column: bindparam(column) for column in METADATA_COLUMNS},
                "doi": func.coalesce(bindparam("new_doi"), table.c.doi),
                "arxiv_id": func.coalesce(bindparam("new_arxiv_id"), table.c.arxiv_id),
                "crawl_state": case(
                    (table.c.crawl_state == CrawlState.EXPANDED.value, table.c.crawl_state),
                    else_=CrawlState.COLLECTED.value,
                ),
                "metadata_fetched_at": bindparam("fetched_at"),
                "updated_at": bindparam("fetched_at"),
            }
        )
    )
    rows = [
        {
            "row_id": ids[r.s2_id],
            "new_doi": index.free_doi(r, ids[r.s2_id]),
            "new_arxiv_id": index.free_arxiv(r, ids[r.s2_id]),
            "fetched_at": now,
            **_metadata(r),
        }
        for r in records
    ]
    # Rows in id order: two writers touching the same papers lock them in the same order.
    session.connection().execute(statement, sorted(rows, key=lambda row: row["row_id"]))


def _fill_stubs(session: Session, records: list[PaperRecord], ids: dict[str, int]) -> None:
    """Listing rows fill the empty fields of papers not yet collected."""
    if not records:
        return
    table = PAPERS
    filled = STUB_COLUMNS
    records = [r for r in records if any(getattr(r, c) is not None for c in filled)]
    if not records:
        return
    statement = (
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .where(table.c.crawl_state == CrawlState.DISCOVERED.value)
        .values({c: func.coalesce(table.c[c], bindparam(f"new_{c}")) for c in filled})
    )
    rows = [
        {"row_id": ids[r.s2_id], **{f"new_{c}": getattr(r, c) for c in filled}} for r in records
    ]
    # Rows in id order: two writers touching the same papers lock them in the same order.
    session.connection().execute(statement, sorted(rows, key=lambda row: row["row_id"]))


def touch_papers(*, session: Session, paper_ids: Iterable[int]) -> None:
    """Stamp papers as changed now, for a change their row does not show (an edge or a summary
    deleted): the vault renders their notes, and their neighbours', again."""
    now = utcnow()
    for part in chunks(sorted(set(paper_ids)), IN_CHUNK):
        session.execute(update(PAPERS).where(PAPERS.c.id.in_(part)).values(updated_at=now))
