"""INSERT … ON CONFLICT for the two databases we run on."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import TEXT, Connection, Table, any_, bindparam, cast, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session
from sqlalchemy.sql import sqltypes

from refnet.core.batching import chunks


def dialect_name(session: Session | Connection) -> str:
    bind = session.get_bind() if isinstance(session, Session) else session
    return bind.dialect.name


def hold_advisory_lock(session: Session, key: int) -> None:
    """Wait for the PostgreSQL advisory lock `key` and hold it until the transaction ends; on
    SQLite nothing (one writer at a time anyway)."""
    if dialect_name(session) == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def insert_for(session: Session, model: Any) -> Any:
    """A dialect insert that supports `on_conflict_do_nothing/do_update`.

    It targets the model's table, so executing it with a list of rows is a plain executemany,
    not the slower ORM bulk path.
    """
    table = getattr(model, "__table__", model)
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"RefNet supports PostgreSQL and SQLite, not {dialect}")


def insert_rows(
    session: Session,
    model: Any,
    rows: list[dict[str, Any]],
    *,
    on_conflict: Callable[[Any], Any] | None = None,
    chunk: int = 2000,
) -> None:
    """Insert rows (dicts with the same keys); `on_conflict` makes it an upsert, else conflicts
    are skipped.

    On PostgreSQL, one statement per 20,000 rows reads them from one array per column
    (`INSERT … SELECT unnest(…)`): a crawl writes tens of thousands of rows per step, and
    binding each row of an executemany cost more than the database's own work. An upsert
    (`on_conflict` doing an update) must not carry one key twice in a chunk, which PostgreSQL
    refuses; the callers pass one row per key. On SQLite it is a plain executemany on the table
    (not the slower ORM bulk path).
    """
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        _insert_arrays(session, model, rows, on_conflict)
        return
    for part in chunks(rows, chunk):
        statement = insert_for(session, model)
        session.execute(
            on_conflict(statement) if on_conflict else statement.on_conflict_do_nothing(), part
        )


def _insert_arrays(
    session: Session,
    model: Any,
    rows: list[dict[str, Any]],
    on_conflict: Callable[[Any], Any] | None,
) -> None:
    table: Table = getattr(model, "__table__", model)
    names = list(rows[0])
    for part in chunks(rows, 20_000):
        columns = []
        for name in names:
            column_type = table.c[name].type.dialect_impl(session.get_bind().dialect)
            values = [row[name] for row in part]
            if isinstance(column_type, sqltypes.JSON):  # a list value is a document, not an array
                text_array = postgresql.ARRAY(TEXT())
                texts = [json.dumps(v) for v in values]  # None is JSON null, as executemany has it
                array = cast(bindparam(None, texts, type_=text_array), postgresql.ARRAY(JSONB()))
            else:
                array_type = postgresql.ARRAY(column_type)
                array = cast(bindparam(None, values, type_=array_type), array_type)
            columns.append(func.unnest(array).label(name))
        statement = postgresql.insert(table).from_select(names, select(*columns))
        session.execute(
            on_conflict(statement) if on_conflict else statement.on_conflict_do_nothing()
        )


def member_of(session: Session, column: Any, values: list[Any]) -> Iterator[Any]:
    """`column IN values` as a few conditions: one array parameter per 20,000 values on
    PostgreSQL (`= ANY(:array)`), 500 bound parameters at a time on SQLite."""
    if session.get_bind().dialect.name == "postgresql":
        array_type = postgresql.ARRAY(column.type)
        for part in chunks(values, 20_000):
            yield column == any_(bindparam(None, part, type_=array_type))
    else:
        for part in chunks(values, 500):
            yield column.in_(part)


def binary_order(session: Session, column: Any) -> Any:
    """Order by code point, as Python sorts strings, whatever the database's collation."""
    if session.get_bind().dialect.name == "postgresql":
        return column.collate("C")
    return column
