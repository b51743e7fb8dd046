"""Reads written once and run two ways: on a SQLAlchemy session (the thread-pool path and the
command line) and on an async psycopg connection (the API's event loop, PostgreSQL only).

A read is a generator that yields the `Statement`s it needs one after another and is sent each
statement's rows; what it returns is the read's result. It holds the logic, the runners only
the I/O, so the two paths cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import psycopg
from sqlalchemy.orm import Session

T = TypeVar("T")
Rows = list[tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class Statement:
    sql: str  # psycopg's placeholders: %(name)s
    params: Mapping[str, object] = field(default_factory=dict)
    # psycopg prepares a statement run often, and PostgreSQL then plans it once for any values.
    # False for statements whose best plan depends on the values (it is planned for them).
    prepare: bool | None = None


Steps = Generator[Statement, Rows, T]


def run(session: Session, steps: Steps[T]) -> T:
    """Run a read on the session's connection (PostgreSQL through psycopg)."""
    driver = session.connection().connection.driver_connection
    if not isinstance(driver, psycopg.Connection):
        raise TypeError(f"a psycopg connection is needed, not {type(driver).__name__}")
    try:
        statement = next(steps)
        while True:
            cursor = driver.execute(statement.sql, statement.params, prepare=statement.prepare)
            statement = steps.send(cursor.fetchall())
    except StopIteration as finished:
        return finished.value  # type: ignore[no-any-return]


async def run_async(connection: psycopg.AsyncConnection[Any], steps: Steps[T]) -> T:
    try:
        statement = next(steps)
        while True:
            cursor = await connection.execute(
                statement.sql, statement.params, prepare=statement.prepare
            )
            statement = steps.send(await cursor.fetchall())
    except StopIteration as finished:
        return finished.value  # type: ignore[no-any-return]
