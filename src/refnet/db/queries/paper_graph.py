"""A paper's citation neighbourhood, for drawing: nodes out to depth 1 or 2, and the edges
among them.

Each depth takes the most cited papers linked (either way) to the previous depth's nodes that
are not taken yet, as many as the `limit` leaves room for: a query per direction whose LIMIT
bounds the work, however many neighbours there are. The edges are then read for the chosen
nodes only (`citing_id` and `cited_id` both among them), by the citations primary key. Depth 1
costs four statements: the centre, its neighbours both ways, their edges.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, all_, any_, bindparam, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from refnet.core.errors import InvalidInput, NotFound
from refnet.db.models import Citation, Paper
from refnet.db.queries import _steps
from refnet.db.queries._steps import Statement, Steps
from refnet.db.queries.browse import citation_key, is_row_id

DEPTHS = (1, 2)
MAX_GRAPH_LIMIT = 1000
_NODE_COLUMNS = (Paper.id, Paper.s2_id, Paper.title, Paper.year, Paper.citation_count)


@dataclass(frozen=True, slots=True)
class Graph:
    # {id, s2_id, title, year, citation_count, depth}: the centre (depth 0) first, then each
    # depth's nodes, most cited first.
    nodes: list[dict[str, object]]
    # {source, target}: the citing and the cited paper's ids, both among `nodes`; sorted.
    edges: list[dict[str, int]]
    truncated: bool  # some paper within `depth` was left out to keep to `limit`


def paper_graph(*, session: Session, paper_id: int, depth: int, limit: int) -> Graph:
    """The neighbourhood of a stored paper (NotFound when there is none): at most `limit` nodes,
    the centre always among them."""
    if not is_row_id(paper_id):
        raise NotFound(f"no stored paper with id {paper_id}")
    dialect = session.get_bind().dialect.name
    steps = graph_steps(dialect, centre=("id", paper_id), depth=depth, limit=limit)
    found = _steps.run(session, steps)
    if found is None:
        raise NotFound(f"no stored paper with id {paper_id}")
    return found


def graph_steps(
    dialect: str, *, centre: tuple[str, object], depth: int, limit: int
) -> Steps[Graph | None]:
    """`paper_graph` as a read that `_steps` runs, the centre found by its row id
    (`("id", n)`) or its Semantic Scholar id (`("s2_id", "…")`); None when it is not stored."""
    if depth not in DEPTHS:
        raise InvalidInput(f"depth must be 1 or 2, not {depth}")
    if not 1 <= limit <= MAX_GRAPH_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_GRAPH_LIMIT}, not {limit}")
    statements = _STATEMENTS[dialect]
    column, value = centre
    found = yield Statement(statements.centre[column], {"centre": value})
    if not found:
        return None
    nodes = [_node(found[0], 0)]
    taken = [found[0][0]]
    previous = list(taken)
    truncated = False
    for level in range(1, depth + 1):
        room = limit - len(nodes)
        rows = yield from _linked(statements, previous, taken, room + 1)
        truncated = len(rows) > room
        rows = rows[:room]
        nodes.extend(_node(row, level) for row in rows)
        previous = [row[0] for row in rows]
        taken.extend(previous)
        if truncated or not previous:
            break
    edges: list[dict[str, int]] = []
    if len(taken) > 1:
        pairs = yield Statement(statements.edges, {"nodes": taken}, prepare=False)
        edges = [{"source": citing, "target": cited} for citing, cited in pairs]
    return Graph(nodes=nodes, edges=edges, truncated=truncated)


def _node(row: Any, depth: int) -> dict[str, object]:
    paper_id, s2_id, title, year, citation_count = row[:5]
    return {
        "id": paper_id,
        "s2_id": s2_id,
        "title": title,
        "year": year,
        "citation_count": citation_count,
        "depth": depth,
    }


def _linked(
    statements: _Statements, of: list[int], taken: list[int], limit: int
) -> Steps[list[Any]]:
    """Up to `limit` papers linked to any of `of`, not in `taken`, most cited first.

    One query per direction (papers `of` cite, papers citing `of`), each ordered and limited
    in the database, then merged: the top `limit` of the union is among the top `limit` of
    each side. Ordered by the citation index, a side stops after `limit` matches instead of
    reading every neighbour of a paper with thousands. The arrays are planned for, each time:
    PostgreSQL's plan for a prepared statement, made for no particular size, was ten times
    slower.
    """
    found: dict[int, Any] = {}
    params = {"of": of, "taken": taken, "take": limit}
    for direction in statements.linked:
        query = direction[len(of) > 1]  # a paper linked to several of `of` comes once per link
        for row in (yield Statement(query, params, prepare=False)):
            found[row[0]] = row
    return sorted(found.values(), key=lambda row: (-row[5], row[0]))[:limit]


@dataclass(frozen=True, slots=True)
class _Statements:
    centre: dict[str, Any]  # by "id", by "s2_id"
    linked: tuple[tuple[Any, Any], ...]  # per direction: (of one paper, of several)
    edges: Any


def _statements(dialect: str) -> _Statements:
    def among(column: Any, name: str) -> Any:
        if dialect == "postgresql":
            return column == any_(bindparam(name, type_=postgresql.ARRAY(BigInteger)))
        return column.in_(bindparam(name, expanding=True))

    def not_among(column: Any, name: str) -> Any:
        if dialect == "postgresql":
            return column != all_(bindparam(name, type_=postgresql.ARRAY(BigInteger)))
        return column.not_in(bindparam(name, expanding=True))

    key = citation_key()
    directions = []
    for near, far in (
        (Citation.citing_id, Citation.cited_id),
        (Citation.cited_id, Citation.citing_id),
    ):
        query = (
            select(*_NODE_COLUMNS, key.label("rank"))
            .select_from(Citation)
            .join(Paper, Paper.id == far)
            .where(among(near, "of"), not_among(Paper.id, "taken"))
            .order_by(key.desc(), Paper.id)
            .limit(bindparam("take"))
        )
        directions.append((query, query.distinct()))
    return _Statements(
        centre={
            "id": select(*_NODE_COLUMNS).where(Paper.id == bindparam("centre")),
            "s2_id": select(*_NODE_COLUMNS).where(Paper.s2_id == bindparam("centre")),
        },
        linked=tuple(directions),
        edges=select(Citation.citing_id, Citation.cited_id)
        .where(among(Citation.citing_id, "nodes"), among(Citation.cited_id, "nodes"))
        .order_by(Citation.citing_id, Citation.cited_id),
    )


_STATEMENTS = {dialect: _statements(dialect) for dialect in ("postgresql", "sqlite")}
