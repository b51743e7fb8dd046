"""What the vault generator reads (Core selects of the columns a note shows) and records."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, bindparam, case, func, select, union, update
from sqlalchemy.orm import Session, aliased

from refnet.core.batching import chunks
from refnet.db.models import (
    COLLECTED_STATES,
    Author,
    Citation,
    FrontierEntry,
    Paper,
    PaperAuthor,
    Summary,
    SummaryStatus,
    VaultFile,
    VaultFileKind,
)
from refnet.db.queries._dialect import insert_for

IN_CHUNK = 500
KNOWN_LIMIT = 50_000  # neighbour rows cached during one run (a few MB)
IN_VAULT = COLLECTED_STATES
PAPERS = cast(Table, Paper.__table__)
VAULT_FILES = cast(Table, VaultFile.__table__)


class LinkedPaper(NamedTuple):
    """A reference or citing paper as a note shows it; `citekey` is set only for vault papers."""

    paper_id: int
    s2_id: str
    title: str | None
    year: int | None
    citekey: str | None
    doi: str | None
    url: str | None


class SummaryRow(NamedTuple):
    provider: str
    input_kind: str | None
    tldr: str | None
    summary: str | None
    key_points: list[str]
    keywords: list[str]
    updated_at: datetime


class PaperRow(NamedTuple):
    id: int
    s2_id: str
    citekey: str
    title: str | None
    abstract: str | None
    tldr: str | None
    year: int | None
    venue: str | None
    journal: str | None
    doi: str | None
    arxiv_id: str | None
    url: str | None
    citation_count: int | None
    reference_count: int | None
    fields_of_study: list[str]
    updated_at: datetime


@dataclass(slots=True)
class NoteInputs:
    """Everything one paper's note is rendered from; neighbours newest first, then by title."""

    paper: PaperRow
    is_seed: bool = False
    authors: list[str] = field(default_factory=list)
    summary: SummaryRow | None = None
    references: list[LinkedPaper] = field(default_factory=list)
    cited_by: list[LinkedPaper] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CitekeyCandidate:
    paper_id: int
    title: str | None
    year: int | None
    first_author: str | None


class VaultFileRow(NamedTuple):
    path: str
    kind: str
    paper_id: int | None
    content_hash: str | None
    status: str
    error: str | None
    written_at: datetime | None
    updated_at: datetime


def _in_vault() -> Any:
    return Paper.crawl_state.in_(IN_VAULT)


def list_vault_papers(*, session: Session) -> list[tuple[int, str | None]]:
    """(id, citekey) of every paper that belongs in the vault, by id."""
    rows = session.execute(select(Paper.id, Paper.citekey).where(_in_vault()).order_by(Paper.id))
    return [(row.id, row.citekey) for row in rows]


def list_s2_ids(*, session: Session, paper_ids: Sequence[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    for part in chunks(list(paper_ids), IN_CHUNK):
        rows = session.execute(select(Paper.id, Paper.s2_id).where(Paper.id.in_(part)))
        found.update({paper_id: s2_id for paper_id, s2_id in rows})
    return found


def list_citekeys(*, session: Session) -> set[str]:
    """Every stored citekey, lower-cased."""
    rows = session.scalars(select(Paper.citekey).where(Paper.citekey.is_not(None)))
    return {key.lower() for key in rows if key}


def list_citekey_candidates(
    *, session: Session, paper_ids: Sequence[int]
) -> list[CitekeyCandidate]:
    """Title, year and first author of the given papers, by id."""
    found: list[CitekeyCandidate] = []
    for part in chunks(sorted(paper_ids), IN_CHUNK):
        first: dict[int, str] = {}
        authors = session.execute(
            select(PaperAuthor.paper_id, Author.name)
            .join(Author, Author.id == PaperAuthor.author_id)
            .where(PaperAuthor.paper_id.in_(part))
            .order_by(PaperAuthor.paper_id, PaperAuthor.position.desc())
        )
        first.update(authors.all())  # the lowest position wins
        rows = session.execute(
            select(Paper.id, Paper.title, Paper.year).where(Paper.id.in_(part)).order_by(Paper.id)
        )
        found.extend(CitekeyCandidate(r.id, r.title, r.year, first.get(r.id)) for r in rows)
    return found


def set_citekeys(*, session: Session, citekeys: dict[int, str], touch: bool) -> None:
    """Store citekeys; with `touch`, bump `updated_at` so notes linking to them are redone."""
    if not citekeys:
        return
    values: dict[str, Any] = {"citekey": bindparam("new_citekey")}
    if not touch:
        values["updated_at"] = PAPERS.c.updated_at  # a first key changes no written note
    statement = update(PAPERS).where(PAPERS.c.id == bindparam("row_id")).values(values)
    rows = [{"row_id": pid, "new_citekey": key} for pid, key in citekeys.items()]
    session.connection().execute(statement, rows)


def list_seed_ids(*, session: Session) -> set[int]:
    """Vault papers that are a seed of any crawl job."""
    rows = session.scalars(
        select(FrontierEntry.paper_id)
        .join(Paper, Paper.id == FrontierEntry.paper_id)
        .where(FrontierEntry.is_seed.is_(True), _in_vault())
        .distinct()
    )
    return set(rows)


def list_vault_files(*, session: Session, kinds: Sequence[str]) -> dict[str, VaultFileRow]:
    columns = [VAULT_FILES.c[name] for name in VaultFileRow._fields]
    rows = session.connection().execute(select(*columns).where(VAULT_FILES.c.kind.in_(kinds)))
    return {row[0]: VaultFileRow._make(row) for row in rows}


def upsert_vault_files(*, session: Session, rows: Iterable[VaultFileRow]) -> None:
    """Record files as given: the caller carries over what did not change."""
    payload = [row._asdict() for row in rows]
    names = [name for name in VaultFileRow._fields if name != "path"]
    for part in chunks(payload, 1000):
        statement = insert_for(session, VaultFile)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["path"], set_={name: statement.excluded[name] for name in names}
            ),
            part,
        )


def set_notes_seen(*, session: Session, seen_until: datetime) -> None:
    """Record that every written note reflects its inputs up to `seen_until`.

    Called after a run checked every note: one not rendered had no newer input. Keeping the
    marks together keeps the next run's scan to what changed since this one.
    """
    session.execute(
        update(VaultFile)
        .where(
            VaultFile.kind == VaultFileKind.NOTE.value,
            VaultFile.status == "written",
            VaultFile.updated_at < seen_until,
        )
        .values(updated_at=seen_until)
    )


def vault_file_counts(*, session: Session) -> dict[str, int]:
    """How many files of each kind RefNet has written and not failed since."""
    rows = session.execute(
        select(VaultFile.kind, func.count())
        .where(VaultFile.status == "written")
        .group_by(VaultFile.kind)
    )
    return {kind: count for kind, count in rows.all()}


def delete_vault_files(*, session: Session, paths: Iterable[str]) -> None:
    for part in chunks(list(paths), IN_CHUNK):
        session.execute(VAULT_FILES.delete().where(VAULT_FILES.c.path.in_(part)))


def list_changed_note_ids(*, session: Session) -> set[int]:
    """Papers whose written note is older than one of its inputs.

    A note's inputs are its paper row, its summaries, its seed status, its edges and its
    neighbours' rows (title, year, citekey, crawl state); `vault_files.updated_at` says up to
    when they were looked at. Neighbour changes are found from the changed side (papers newer
    than the oldest note, then their edges by index), so a quiet database costs a few scans,
    not a join over every edge.
    """
    note = aliased(VaultFile)
    written = (note.kind == VaultFileKind.NOTE.value) & (note.status == "written")
    oldest = session.scalar(select(func.min(note.updated_at)).where(written))
    if oldest is None:
        return set()
    queries: list[Any] = [
        select(note.paper_id)
        .join(Paper, Paper.id == note.paper_id)
        .where(written, Paper.updated_at > note.updated_at),
        select(note.paper_id)
        .join(Summary, Summary.paper_id == note.paper_id)
        .where(written, Summary.updated_at > note.updated_at),
        select(note.paper_id)
        .join(FrontierEntry, FrontierEntry.paper_id == note.paper_id)
        .where(
            written, FrontierEntry.is_seed.is_(True), FrontierEntry.updated_at > note.updated_at
        ),
    ]
    for near in (Citation.citing_id, Citation.cited_id):
        queries.append(
            select(note.paper_id)
            .select_from(Citation)
            .join(note, note.paper_id == near)
            .where(written, Citation.created_at > oldest, Citation.created_at > note.updated_at)
        )
    changed = set(session.scalars(union(*queries)))
    recent = list(session.scalars(select(Paper.id).where(Paper.updated_at > oldest)))
    neighbour = aliased(Paper)
    for part in chunks(recent, IN_CHUNK):
        for near, far in (
            (Citation.citing_id, Citation.cited_id),
            (Citation.cited_id, Citation.citing_id),
        ):
            rows = session.scalars(
                select(note.paper_id)
                .select_from(Citation)
                .join(neighbour, neighbour.id == far)
                .join(note, note.paper_id == near)
                .where(far.in_(part), written, neighbour.updated_at > note.updated_at)
            )
            changed.update(rows)
    return changed


def _linked_columns(paper: Any) -> tuple[Any, ...]:
    in_vault = case((paper.crawl_state.in_(IN_VAULT), paper.citekey), else_=None)
    return (paper.id, paper.s2_id, paper.title, paper.year, in_vault, paper.doi, paper.url)


def _add_neighbours(
    session: Session, notes: dict[int, NoteInputs], part: list[int], known: dict[int, LinkedPaper]
) -> None:
    """References and citing papers, newest first then by title; each neighbour read once."""
    connection = session.connection()
    outgoing = select(Citation.citing_id, Citation.cited_id).where(Citation.citing_id.in_(part))
    incoming = select(Citation.cited_id, Citation.citing_id).where(Citation.cited_id.in_(part))
    edges = [list(connection.execute(q).all()) for q in (outgoing, incoming)]
    wanted = {far for pairs in edges for _, far in pairs}
    if len(known) + len(wanted) > KNOWN_LIMIT:
        known.clear()  # keeps memory bounded on huge networks; costs re-reading rows
    for ids_part in chunks(sorted(wanted - known.keys()), IN_CHUNK):
        rows = connection.execute(select(*_linked_columns(Paper)).where(Paper.id.in_(ids_part)))
        known.update((row[0], LinkedPaper._make(row)) for row in rows.all())
    # An edge left behind by a deleted paper (`citations` has no foreign keys) is not shown.
    order = {pid: newest_first(known[pid]) for pid in wanted if pid in known}
    for pairs, attribute in zip(edges, ("references", "cited_by"), strict=True):
        shown = sorted((pair for pair in pairs if pair[1] in order), key=lambda p: order[p[1]])
        for owner, far in shown:
            getattr(notes[owner], attribute).append(known[far])


def newest_first(paper: LinkedPaper) -> tuple[int, str, str]:
    """Sort key of listed papers: newest first, then by title (S2 id breaks ties)."""
    return (-(paper.year or 0), (paper.title or "").lower(), paper.s2_id)


def list_note_inputs(
    *,
    session: Session,
    paper_ids: Sequence[int],
    seed_ids: set[int],
    known: dict[int, LinkedPaper] | None = None,
) -> list[NoteInputs]:
    """The inputs of each given paper's note, by id; keep `paper_ids` to about a thousand.

    `known` caches neighbour rows between calls of one run (at most `KNOWN_LIMIT` of them).
    """
    known = {} if known is None else known
    notes: dict[int, NoteInputs] = {}
    columns = [PAPERS.c[name] for name in PaperRow._fields]
    connection = session.connection()
    for part in chunks(sorted(paper_ids), IN_CHUNK):
        for row in connection.execute(select(*columns).where(PAPERS.c.id.in_(part))).all():
            notes[row.id] = NoteInputs(PaperRow._make(row), is_seed=row.id in seed_ids)
        authors = connection.execute(
            select(PaperAuthor.paper_id, Author.name)
            .join(Author, Author.id == PaperAuthor.author_id)
            .where(PaperAuthor.paper_id.in_(part))
            .order_by(PaperAuthor.paper_id, PaperAuthor.position)
        )
        for paper_id, name in authors:
            notes[paper_id].authors.append(name)
        summaries = connection.execute(
            select(Summary.paper_id, *[getattr(Summary, name) for name in SummaryRow._fields])
            .where(Summary.paper_id.in_(part), Summary.status == SummaryStatus.DONE.value)
            .order_by(Summary.paper_id, Summary.updated_at, Summary.id)
        )
        for paper_id, *values in summaries:  # the latest done summary wins
            notes[paper_id].summary = SummaryRow._make(values)
        _add_neighbours(session, notes, part, known)
    return [notes[pid] for pid in sorted(notes)]


def list_index_entries(*, session: Session) -> list[LinkedPaper]:
    """Every vault paper with a citekey, newest first, then by title."""
    rows = session.execute(
        select(*_linked_columns(Paper))
        .where(_in_vault(), Paper.citekey.is_not(None))
        .order_by(Paper.year.desc().nulls_last(), func.lower(Paper.title), Paper.id)
    )
    return [LinkedPaper._make(row) for row in rows]
