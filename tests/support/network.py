"""Reading back what a crawl stored, and what it should have stored."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from refnet.db.session import get_engine
from tests.fakes.s2_graph import SyntheticGraph


@dataclass(frozen=True)
class Network:
    papers: frozenset[str]  # collected S2 ids
    edges: frozenset[tuple[str, str]]  # (citing, cited) among collected papers


def stored_network(url: str) -> Network:
    with get_engine(url).connect() as connection:
        papers = connection.execute(
            sa.text("SELECT s2_id FROM papers WHERE crawl_state IN ('collected', 'expanded')")
        ).scalars()
        collected = frozenset(papers)
        edges = connection.execute(
            sa.text(
                "SELECT a.s2_id, b.s2_id FROM citations c "
                "JOIN papers a ON a.id = c.citing_id JOIN papers b ON b.id = c.cited_id"
            )
        )
        return Network(
            papers=collected,
            edges=frozenset((a, b) for a, b in edges if a in collected and b in collected),
        )


def expected_edges(graph: SyntheticGraph, papers: Iterable[str]) -> frozenset[tuple[str, str]]:
    """The true citation links among `papers` in the synthetic graph."""
    chosen = set(papers)
    return frozenset(
        (citing, cited)
        for citing in chosen
        for cited in graph.references.get(citing, [])
        if cited in chosen and cited != citing
    )


def row_counts(url: str) -> dict[str, int]:
    with get_engine(url).connect() as connection:
        return {
            table: connection.scalar(sa.text(f"SELECT count(*) FROM {table}")) or 0
            for table in ("papers", "citations", "authors", "paper_authors")
        }


def write_snapshot(graph: SyntheticGraph, path: Path) -> Path:
    """The graph as a JSON Lines snapshot: paper objects with `references` as the API nests them."""
    with path.open("w", encoding="utf-8") as handle:
        for paper_id, paper in graph.papers.items():
            refs = [{"paperId": ref} for ref in graph.references.get(paper_id, [])]
            handle.write(json.dumps({**paper, "references": refs}) + "\n")
    return path
