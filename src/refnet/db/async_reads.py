"""The API's hottest reads, paper detail, search and graph, on the event loop (PostgreSQL).

A sync read in the thread pool costs two thread hand-offs per request, and the ORM's
per-statement work besides; on two cores that was a third of the time of a detail request.
Here the same statements the sync path runs (detail: `queries.paper_views`, compiled once;
search and graph: the steps of `queries.search` and `queries.paper_graph`) run on psycopg's
async connections from a small pool of this process. Only PostgreSQL: the embedded SQLite
default keeps the thread-pool path.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect

from refnet.core.errors import TransientError
from refnet.core.metrics import DB_POOL_IN_USE, DB_POOL_SIZE, DB_POOL_WAITING
from refnet.db.pool_metrics import ASYNC_POOL
from refnet.db.queries import _steps
from refnet.db.queries.paper_graph import Graph, graph_steps
from refnet.db.queries.paper_views import detail_from_row, detail_statement_for
from refnet.db.queries.search import SearchPage, postgres_search

# Short reads under concurrent load: parallel workers for one query only take the cores from
# the queries of other requests (and a worker costs a process start).
ONE_PROCESS_PER_QUERY = "-c max_parallel_workers_per_gather=0"


class AsyncReads:
    def __init__(self, url: str, size: int, connect_timeout: int = 5) -> None:
        parsed = sa.make_url(url)
        self.conninfo = psycopg.conninfo.make_conninfo(
            host=parsed.host or "",
            port=parsed.port or 5432,
            dbname=parsed.database or "",
            user=parsed.username or "",
            password=parsed.password or "",
            **{key: str(value) for key, value in parsed.query.items()},
            options=ONE_PROCESS_PER_QUERY,
            connect_timeout=str(connect_timeout),
        )
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._size = size
        self._slots = asyncio.Semaphore(size)
        DB_POOL_SIZE.labels(ASYNC_POOL).inc(size)
        dialect = psycopg_dialect.dialect()  # type: ignore[no-untyped-call]
        compiled = detail_statement_for("postgresql", "s2_id").compile(dialect=dialect)
        self._detail_sql = str(compiled)
        self._detail_params = dict(compiled.params)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A pooled connection; TransientError when the database cannot be reached or the
        connection broke (it is then dropped, and the next request connects afresh)."""
        async with self._slot():
            try:
                conn = self._idle.pop() if self._idle else await self._connect()
            except psycopg.OperationalError as exc:
                raise TransientError(f"database unavailable: {exc}") from exc
            try:
                yield conn
            except psycopg.OperationalError as exc:
                await conn.close()
                # The server went away (a restart, a failover): the idle connections were
                # opened before it and are as dead, and a pool reused last-in-first-out would
                # otherwise hand them out one by one for as long as it lives.
                await self._close_idle()
                raise TransientError(f"database unavailable: {exc}") from exc
            finally:
                if not conn.closed:
                    self._idle.append(conn)

    @asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        """One of `size` connections, counted on the pool metrics while waited for and held."""
        waiting, in_use = DB_POOL_WAITING.labels(ASYNC_POOL), DB_POOL_IN_USE.labels(ASYNC_POOL)
        waiting.inc()
        try:
            await self._slots.acquire()
        finally:
            waiting.dec()
        in_use.inc()
        try:
            yield
        finally:
            in_use.dec()
            self._slots.release()

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)

    async def paper_detail(self, s2_id: str) -> dict[str, object] | None:
        """The detail of the stored paper with this Semantic Scholar id, or None."""
        params = {**self._detail_params, "match": s2_id}
        async with self.connection() as conn:
            cursor = await conn.execute(self._detail_sql, params)
            row = await cursor.fetchone()
            names = [column.name for column in cursor.description or ()]
        return detail_from_row(dict(zip(names, row, strict=True))) if row is not None else None

    async def search(self, query: str, *, limit: int, offset: int) -> SearchPage:
        """`queries.search.search_papers`, on this pool; InvalidInput as it raises."""
        steps = postgres_search(query=query, limit=limit, offset=offset)
        async with self.connection() as conn:
            return await _steps.run_async(conn, steps)

    async def paper_graph(self, s2_id: str, *, depth: int, limit: int) -> Graph | None:
        """`queries.paper_graph.paper_graph` of the paper with this Semantic Scholar id, or None
        when it is not stored."""
        steps = graph_steps("postgresql", centre=("s2_id", s2_id), depth=depth, limit=limit)
        async with self.connection() as conn:
            return await _steps.run_async(conn, steps)

    async def close(self) -> None:
        DB_POOL_SIZE.labels(ASYNC_POOL).dec(self._size)
        await self._close_idle()

    async def _close_idle(self) -> None:
        while self._idle:
            await self._idle.pop().close()
