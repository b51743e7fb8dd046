"""One stored paper as the API shows it: its detail, its neighbours, and its note's path.

`paper_detail` is the API's hot path: one statement, the paper row with its authors, newest
done summary, seed status and note path as correlated subqueries (authors and summary as JSON
text, which both databases build). The neighbourhood graph is in `paper_graph` (re-exported).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from sqlalchemy import Connection, Select, Text, bindparam, cast, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from refnet.core.errors import InvalidInput, NotFound
from refnet.core.ids import parse_paper_id
from refnet.db.base import as_utc
from refnet.db.models import (
    Author,
    Citation,
    InputKind,
    Paper,
    PaperAuthor,
    Summary,
    SummaryStatus,
    VaultFile,
    VaultFileKind,
)
from refnet.db.queries._dialect import dialect_name
from refnet.db.queries.browse import (
    PaperSummary,
    check_page_size,
    citation_key,
    is_row_id,
    is_seed,
    summary_columns,
    summary_fields,
)
from refnet.db.queries.lookups import find_paper_id, paper_id_condition
from refnet.db.queries.paper_graph import MAX_GRAPH_LIMIT, Graph, paper_graph

__all__ = [
    "DIRECTIONS",
    "MAX_GRAPH_LIMIT",
    "Graph",
    "NeighbourPage",
    "NeighbourSummary",
    "find_stored_paper",
    "neighbours",
    "note_path",
    "paper_detail",
    "paper_detail_for",
    "paper_graph",
]

DIRECTIONS = ("references", "citations")

_DETAIL_COLUMNS = (
    "id",
    "s2_id",
    "corpus_id",
    "doi",
    "arxiv_id",
    "external_ids",
    "title",
    "abstract",
    "tldr",
    "year",
    "venue",
    "journal",
    "publication_date",
    "publication_types",
    "url",
    "citation_count",
    "reference_count",
    "influential_citation_count",
    "fields_of_study",
    "open_access_pdf_url",
    "crawl_state",
    "created_at",
    "updated_at",
)
_RENAMED = {"arxiv_id": "arxiv", "crawl_state": "state", "created_at": "added_at"}


def find_stored_paper(*, session: Session, raw_id: str) -> int | None:
    """The row id of the stored paper `raw_id` names, in any form the CLI accepts (see
    `refnet.core.ids`), or None when no stored paper matches.

    InvalidInput (naming the accepted forms) when `raw_id` is no id form at all; that includes
    bare digits: a row id is not a public id (it differs between databases), and a number alone
    could be a CorpusId, a PubMed or a MAG id. `CorpusId:N`, `PMID:N` or `MAG:N` say which.
    `URL:` ids that name no DOI, arXiv or S2 id match nothing stored (None).
    """
    ref = parse_paper_id(raw_id)
    return find_paper_id(session=session, api_id=ref.api_id, title=ref.title)


def paper_detail(*, session: Session, paper_id: int) -> dict[str, object]:
    """Everything the API shows of one paper, JSON-ready (dates and times as ISO 8601 strings,
    times in UTC); NotFound when there is no such paper. One SQL statement."""
    if not is_row_id(paper_id):
        raise NotFound(f"no stored paper with id {paper_id}")
    row = session.execute(_detail_statement(session, "id"), {"match": paper_id}).first()
    if row is None:
        raise NotFound(f"no stored paper with id {paper_id}")
    return detail_from_row(row._mapping)


def s2_id_in(raw_id: str) -> str | None:
    """The Semantic Scholar paper id `raw_id` is (or whose S2 URL it is), else None;
    InvalidInput when it is no id form at all."""
    ref = parse_paper_id(raw_id)
    return ref.api_id if ref.api_id is not None and ":" not in ref.api_id else None


def paper_detail_for(*, session: Session | Connection, raw_id: str) -> dict[str, object] | None:
    """`paper_detail` of the stored paper `raw_id` names in any form `find_stored_paper`
    takes, or None; one SQL statement (InvalidInput when `raw_id` is no id form at all)."""
    ref = parse_paper_id(raw_id)
    if ref.api_id is not None and ":" not in ref.api_id:  # a Semantic Scholar id: the hot path
        found = session.execute(_detail_statement(session, "s2_id"), {"match": ref.api_id})
    else:
        condition = paper_id_condition(api_id=ref.api_id, title=ref.title)
        if condition is None:
            return None
        found = session.execute(
            _detail_select(dialect_name(session)).where(condition).order_by(Paper.id).limit(1)
        )
    row = found.first()
    return detail_from_row(row._mapping) if row is not None else None


# Built once per database and key: building the select with its subqueries costs more than
# running it.
_STATEMENTS: dict[tuple[str, str], Select[Any]] = {}


def _detail_statement(session: Session | Connection, key: Literal["id", "s2_id"]) -> Select[Any]:
    return detail_statement_for(dialect_name(session), key)


def detail_statement_for(dialect: str, key: Literal["id", "s2_id"]) -> Select[Any]:
    """The detail statement matching a row id or an S2 id (bind parameter `match`)."""
    statement = _STATEMENTS.get((dialect, key))
    if statement is None:
        column = Paper.id if key == "id" else Paper.s2_id
        match = bindparam("match", type_=column.type)
        statement = _STATEMENTS[(dialect, key)] = _detail_select(dialect).where(column == match)
    return statement


def _detail_select(dialect: str) -> Select[Any]:
    return select(
        *(getattr(Paper, name) for name in _DETAIL_COLUMNS),
        _authors_json(dialect).label("authors_json"),
        _summary_json(dialect).label("summary_json"),
        is_seed(Paper.id).label("is_seed"),
        _note_path(Paper.id).label("note_path"),
    )


def detail_from_row(values: Any) -> dict[str, object]:
    """A detail statement's row (a mapping by column label) as the API shows it."""
    detail: dict[str, object] = {_RENAMED.get(n, n): values[n] for n in _DETAIL_COLUMNS}
    detail["publication_date"] = _iso_date(values["publication_date"])
    detail["added_at"] = _iso_time(values["created_at"])
    detail["updated_at"] = _iso_time(values["updated_at"])
    detail["external_ids"] = dict(values["external_ids"] or {})
    detail["fields_of_study"] = list(values["fields_of_study"] or [])
    detail["publication_types"] = list(values["publication_types"] or [])
    detail["is_seed"] = bool(values["is_seed"])
    detail["authors"] = _authors(values["authors_json"])
    detail["summary"] = _summary(values["summary_json"])
    detail["note_path"] = values["note_path"]
    return detail


def note_path(*, session: Session, paper_id: int) -> str | None:
    """The paper's note, relative to the vault root (`papers/<citekey>.md`), if RefNet ever
    wrote it; None when it has no note (yet)."""
    if not is_row_id(paper_id):
        return None
    return session.scalar(select(_note_path(paper_id)))


def _note_path(paper_id: Any) -> Any:
    """The note file RefNet wrote for the paper: a written one, the latest if several."""
    return (
        select(VaultFile.path)
        .where(
            VaultFile.paper_id == paper_id,
            VaultFile.kind == VaultFileKind.NOTE.value,
            VaultFile.written_at.is_not(None),
        )
        .order_by(VaultFile.written_at.desc(), VaultFile.path)
        .limit(1)
        .scalar_subquery()
    )


def _json_object(dialect: str, *pairs: Any) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return func.json_build_object(*pairs)
    return func.json_object(*pairs)


def _authors_json(dialect: str) -> Any:
    """The paper's authors as a JSON array of {position, name, s2_author_id}, in any order."""
    item = _json_object(
        dialect,
        "position",
        PaperAuthor.position,
        "name",
        Author.name,
        "s2_author_id",
        Author.s2_author_id,
    )
    if dialect == "postgresql":
        aggregate: Any = cast(func.json_agg(item), Text)
    else:
        aggregate = func.json_group_array(item)
    return (
        select(aggregate)
        .select_from(PaperAuthor)
        .join(Author, Author.id == PaperAuthor.author_id)
        .where(PaperAuthor.paper_id == Paper.id)
        .scalar_subquery()
    )


def _summary_json(dialect: str) -> Any:
    """The paper's newest done summary as a JSON object (the one the vault note shows)."""
    postgres = dialect == "postgresql"

    def document(column: Any) -> Any:  # a JSON column nested as JSON, not as a string
        return column if postgres else func.json(column)

    item = _json_object(
        dialect,
        "text",
        Summary.summary,
        "tldr",
        Summary.tldr,
        "key_points",
        document(Summary.key_points),
        "keywords",
        document(Summary.keywords),
        "input_kind",
        Summary.input_kind,
        "provider",
        Summary.provider,
        "model",
        Summary.model,
        "language",
        Summary.language,
        "created_at",
        Summary.created_at,
        "updated_at",
        Summary.updated_at,
    )
    return (
        select(cast(item, Text) if postgres else item)
        .where(Summary.paper_id == Paper.id, Summary.status == SummaryStatus.DONE.value)
        .order_by(Summary.updated_at.desc(), Summary.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _authors(text: str | None) -> list[dict[str, object]]:
    items = sorted(json.loads(text) if text else [], key=lambda item: item["position"])
    return [{"name": a["name"], "s2_author_id": a["s2_author_id"]} for a in items]


def _summary(text: str | None) -> dict[str, object] | None:
    if not text:
        return None
    found = json.loads(text)
    return {
        "text": found["text"],
        "tldr": found["tldr"],
        "key_points": list(found["key_points"] or []),
        "keywords": list(found["keywords"] or []),
        # What it was made from, as the note's `summary_source` says: pdf, abstract or tldr.
        "source": found["input_kind"] or InputKind.ABSTRACT.value,
        "provider": found["provider"],
        "model": found["model"],
        "language": found["language"],
        "created_at": _iso_time(_parse_time(found["created_at"])),
        "updated_at": _iso_time(_parse_time(found["updated_at"])),
    }


def _parse_time(value: str) -> datetime:
    """A timestamp as JSON carries it: ISO 8601 with an offset (PostgreSQL) or naive UTC
    (SQLite's stored text)."""
    return as_utc(datetime.fromisoformat(value))


def _iso_time(value: datetime | None) -> str | None:
    return as_utc(value).astimezone(UTC).isoformat() if value is not None else None


def _iso_date(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True, slots=True)
class NeighbourSummary(PaperSummary):
    is_influential: bool | None  # None until a citations listing said


@dataclass(frozen=True, slots=True)
class NeighbourPage:
    total: int
    items: list[NeighbourSummary]


def neighbours(
    *,
    session: Session,
    paper_id: int,
    direction: Literal["references", "citations"],
    limit: int,
    offset: int,
) -> NeighbourPage:
    """Stored papers this one cites (`references`) or that cite it (`citations`), the most
    cited first (unknown counts last), then by id. An unknown `paper_id` has none."""
    if direction not in DIRECTIONS:
        raise InvalidInput(f"unknown direction {direction!r}; accepted: {', '.join(DIRECTIONS)}")
    check_page_size(limit, offset)
    if not is_row_id(paper_id):
        return NeighbourPage(total=0, items=[])
    near, far = (
        (Citation.citing_id, Citation.cited_id)
        if direction == "references"
        else (Citation.cited_id, Citation.citing_id)
    )
    # The id is written into the statement: how many neighbours a paper has varies from none to
    # thousands, and a plan PostgreSQL made for no id in particular (a prepared statement's
    # generic plan) was ten times slower for the papers with most.
    this = bindparam(None, paper_id, type_=Paper.id.type, literal_execute=True)
    linked = (
        select(*summary_columns(), Citation.is_influential)
        .select_from(Citation)
        .join(Paper, Paper.id == far)
        .where(near == this)
    )
    rows = session.execute(
        linked.order_by(citation_key().desc(), Paper.id).limit(limit).offset(offset)
    ).all()
    # Edges are written with the ids of stored papers (and papers are never deleted), so the
    # edges alone count the neighbours, from an index.
    total = session.scalar(select(func.count()).select_from(Citation).where(near == this)) or 0
    items = [
        NeighbourSummary(**summary_fields(row), is_influential=row.is_influential) for row in rows
    ]
    return NeighbourPage(total=total, items=items)
