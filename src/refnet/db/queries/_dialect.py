"""INSERT … ON CONFLICT for the two databases we run on."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import any_, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from refnet.core.batching import chunks


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
    """Insert rows with executemany; `on_conflict` makes it an upsert, else conflicts are skipped.

    The statement targets the model's table, so it is a plain executemany (psycopg pipelines
    it), not the slower ORM bulk path; multi-row VALUES would be compiled anew for every chunk.
    """
    for part in chunks(rows, chunk):
        statement = insert_for(session, model)
        session.execute(
            on_conflict(statement) if on_conflict else statement.on_conflict_do_nothing(), part
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
