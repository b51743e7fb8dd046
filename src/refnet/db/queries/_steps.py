"""Reads written once and run two ways: on a SQLAlchemy session (the thread-pool path and the
command line) and on an async psycopg connection (the API's event loop, PostgreSQL only).

A read is a generator that yields the `Statement`s it needs one after another and is sent each
statement's rows; what it returns is the read's result. It holds the logic, the runners only
the I/O, so the two paths cannot drift apart.

A statement is SQL text for psycopg (`%(name)s` placeholders; PostgreSQL only) or a SQLAlchemy
Core statement (either database on a session; compiled once for psycopg on the async path).
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import psycopg
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement, Executable

T = TypeVar("T")
Rows = list[tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class Statement:
    sql: str | Executable
    params: Mapping[str, object] = field(default_factory=dict)
    # psycopg prepares a statement run often, and PostgreSQL then plans it once for any values.
    # False for statements whose best plan depends on the values (it is planned for them).
    prepare: bool | None = None


Steps = Generator[Statement, Rows, T]
_DIALECT = psycopg_dialect.dialect()  # type: ignore[no-untyped-call]
_COMPILED: dict[int, tuple[Executable, str, dict[str, Any]]] = {}


def run(session: Session, steps: Steps[T]) -> T:
    """Run a read on the session: on PostgreSQL through its psycopg connection exactly as
    `run_async` does; elsewhere (SQLite) Core statements only, through the session."""
    try:
        statement = next(steps)
        while True:
            statement = steps.send(_execute(session, statement))
    except StopIteration as finished:
        return finished.value  # type: ignore[no-any-return]


def _execute(session: Session, statement: Statement) -> Rows:
    driver = session.connection().connection.driver_connection
    if isinstance(driver, psycopg.Connection):  # as on the async path, `prepare` included
        sql, params = _for_psycopg(statement)
        return driver.execute(sql, params, prepare=statement.prepare).fetchall()
    if isinstance(statement.sql, str):
        raise TypeError(f"SQL text needs a psycopg connection, not {type(driver).__name__}")
    return [tuple(row) for row in session.execute(statement.sql, dict(statement.params))]


async def run_async(connection: psycopg.AsyncConnection[Any], steps: Steps[T]) -> T:
    try:
        statement = next(steps)
        while True:
            sql, params = _for_psycopg(statement)
            cursor = await connection.execute(sql, params, prepare=statement.prepare)
            statement = steps.send(await cursor.fetchall())
    except StopIteration as finished:
        return finished.value  # type: ignore[no-any-return]


def _for_psycopg(statement: Statement) -> tuple[str, Mapping[str, object]]:
    if isinstance(statement.sql, str):
        return statement.sql, statement.params
    compiled = _COMPILED.get(id(statement.sql))
    if compiled is None:  # statements are built once, at import: this stays small
        built = cast(ClauseElement, statement.sql).compile(dialect=_DIALECT)
        compiled = _COMPILED[id(statement.sql)] = (statement.sql, str(built), dict(built.params))
    _, sql, defaults = compiled
    return sql, {**defaults, **statement.params}
