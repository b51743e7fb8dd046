"""Paper detail, search and graph on the event loop (PostgreSQL) answer exactly what the general
path answers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa

from refnet.core.errors import TransientError
from refnet.db.async_reads import AsyncReads
from refnet.db.queries.paper_graph import Graph, paper_graph
from refnet.db.queries.paper_views import paper_detail_for
from refnet.db.queries.search import search_papers
from refnet.db.session import read_connection, read_scope
from tests.integration.db.browse_support import (
    CITERS,
    REFERENCES,
    SEED,
    crawl_network,
    row_ids,
    s2_id,
)
from tests.integration.db.search_support import summarize


def test_the_detail_on_the_event_loop_is_the_detail(pg_url: str, tmp_path: Path) -> None:
    crawl_network(pg_url, tmp_path)
    summarize(pg_url, row_ids(pg_url, [SEED])[0], summary="Retrieval helps generation.")
    numbers = (SEED, *REFERENCES, *CITERS)

    async def both() -> list[tuple[object, object]]:
        reads = AsyncReads(pg_url, size=2)
        try:
            with read_connection(pg_url) as connection:
                return [
                    (
                        await reads.paper_detail(s2_id(n)),
                        paper_detail_for(session=connection, raw_id=s2_id(n)),
                    )
                    for n in numbers
                ]
        finally:
            await reads.close()

    pairs = asyncio.run(both())
    assert all(fast == general and fast is not None for fast, general in pairs)
    seed = pairs[0][0]
    assert isinstance(seed, dict) and seed["summary"] is not None and seed["authors"]


def test_an_unknown_paper_is_none_and_a_database_that_is_down_a_transient_error(
    pg_url: str,
) -> None:
    async def ask(url: str) -> object:
        reads = AsyncReads(url, size=1)
        try:
            return await reads.paper_detail("0" * 40)
        finally:
            await reads.close()

    assert asyncio.run(ask(pg_url)) is None
    with pytest.raises(TransientError, match="database unavailable"):
        asyncio.run(ask("postgresql+psycopg://postgres@127.0.0.1:9/nowhere"))


def test_after_the_server_drops_its_connections_only_one_request_fails(pg_url: str) -> None:
    """A database restart ends every pooled connection; the first request to find out fails
    (a 503 to its client) and the pool reconnects, instead of handing out the other dead
    connections one by one."""

    async def run() -> list[str]:
        reads = AsyncReads(pg_url, size=4)
        try:
            async with reads.connection() as a, reads.connection() as b, reads.connection() as c:
                backends = [conn.info.backend_pid for conn in (a, b, c)]
            with read_connection(pg_url) as connection:
                for pid in backends:
                    connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            outcomes = []
            for _ in range(6):
                try:
                    outcomes.append(str(await reads.paper_detail("0" * 40)))
                except TransientError:
                    outcomes.append("unavailable")
            return outcomes
        finally:
            await reads.close()

    assert asyncio.run(run()) == ["unavailable"] + ["None"] * 5


def test_search_and_graph_on_the_event_loop_are_the_general_ones(
    pg_url: str, tmp_path: Path
) -> None:
    crawl_network(pg_url, tmp_path)
    summarize(pg_url, row_ids(pg_url, [SEED])[0], summary="Retrieval helps generation.")
    (seed_row,) = row_ids(pg_url, [SEED])

    async def on_the_loop() -> tuple[object, ...]:
        reads = AsyncReads(pg_url, size=2)
        try:
            return (
                await reads.search("retrieval", limit=5, offset=0),
                await reads.paper_graph(s2_id(SEED), depth=2, limit=50),
                await reads.paper_graph("f" * 40, depth=1, limit=50),
            )
        finally:
            await reads.close()

    searched, graph, unknown = asyncio.run(on_the_loop())
    with read_scope(pg_url) as session:
        assert searched == search_papers(session=session, query="retrieval", limit=5, offset=0)
        assert graph == paper_graph(session=session, paper_id=seed_row, depth=2, limit=50)
    assert isinstance(graph, Graph) and len(graph.nodes) > 1 and graph.edges
    assert unknown is None
