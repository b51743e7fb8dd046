"""A paper's citation neighbourhood, for drawing: nodes out to depth 1 or 2, and the edges
among them.

Each depth takes the most cited papers linked (either way) to the previous depth's nodes that
are not taken yet, as many as the `limit` leaves room for: a query per direction whose LIMIT
bounds the work, however many neighbours there are. The edges are then read for the chosen
nodes only (`citing_id` and `cited_id` both among them), by the citations primary key. Depth 1
costs four statements: the centre, its neighbours both ways, their edges.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import all_, any_, bindparam, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from refnet.core.errors import InvalidInput, NotFound
from refnet.db.models import Citation, Paper
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
    if depth not in DEPTHS:
        raise InvalidInput(f"depth must be 1 or 2, not {depth}")
    if not 1 <= limit <= MAX_GRAPH_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_GRAPH_LIMIT}, not {limit}")
    centre = None
    if is_row_id(paper_id):
        centre = session.execute(select(*_NODE_COLUMNS).where(Paper.id == paper_id)).first()
    if centre is None:
        raise NotFound(f"no stored paper with id {paper_id}")
    nodes = [_node(centre, 0)]
    taken = [paper_id]
    previous = [paper_id]
    truncated = False
    for level in range(1, depth + 1):
        room = limit - len(nodes)
        rows = _linked(session, previous, taken, room + 1)
        truncated = len(rows) > room
        rows = rows[:room]
        nodes.extend(_node(row, level) for row in rows)
        previous = [row.id for row in rows]
        taken.extend(previous)
        if truncated or not previous:
            break
    return Graph(nodes=nodes, edges=_edges(session, taken), truncated=truncated)


def _node(row: Any, depth: int) -> dict[str, object]:
    return {
        "id": row.id,
        "s2_id": row.s2_id,
        "title": row.title,
        "year": row.year,
        "citation_count": row.citation_count,
        "depth": depth,
    }


def _linked(session: Session, of: Sequence[int], taken: Sequence[int], limit: int) -> list[Any]:
    """Up to `limit` papers linked to any of `of`, not in `taken`, most cited first.

    One query per direction (papers `of` cite, papers citing `of`), each ordered and limited
    in the database, then merged: the top `limit` of the union is among the top `limit` of
    each side. Ordered by the citation index, a side stops after `limit` matches instead of
    reading every neighbour of a paper with thousands.
    """
    key = citation_key()
    found: dict[int, Any] = {}
    for near, far in (
        (Citation.citing_id, Citation.cited_id),
        (Citation.cited_id, Citation.citing_id),
    ):
        query = (
            select(*_NODE_COLUMNS, key.label("rank"))
            .select_from(Citation)
            .join(Paper, Paper.id == far)
            .where(_among(session, near, of), _not_among(session, Paper.id, taken))
            .order_by(key.desc(), Paper.id)
            .limit(limit)
        )
        if len(of) > 1:  # a paper linked to several of `of` comes once per link
            query = query.distinct()
        found.update((row.id, row) for row in session.execute(query))
    return sorted(found.values(), key=lambda row: (-row.rank, row.id))[:limit]


def _edges(session: Session, nodes: Sequence[int]) -> list[dict[str, int]]:
    if len(nodes) < 2:
        return []
    rows = session.execute(
        select(Citation.citing_id, Citation.cited_id)
        .where(
            _among(session, Citation.citing_id, nodes), _among(session, Citation.cited_id, nodes)
        )
        .order_by(Citation.citing_id, Citation.cited_id)
    )
    return [{"source": citing, "target": cited} for citing, cited in rows]


def _ids(ids: Sequence[int]) -> Any:
    """An array of ids written into the statement: with a bound array, PostgreSQL's plan for
    the statement, once prepared, is made for no particular size, and was ten times slower."""
    return bindparam(None, list(ids), type_=postgresql.ARRAY(Paper.id.type), literal_execute=True)


def _among(session: Session, column: Any, ids: Sequence[int]) -> Any:
    """`column IN ids` as one condition: `= ANY(ARRAY[…])` on PostgreSQL, a list on SQLite (at
    most 1,000 ids here, well under its bound on parameters)."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(_ids(ids))
    return column.in_(list(ids))


def _not_among(session: Session, column: Any, ids: Sequence[int]) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return column != all_(_ids(ids))
    return column.not_in(list(ids))
