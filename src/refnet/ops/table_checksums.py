"""Row counts and content checksums per table, the same way on the database and on a restore.

A table's checksum is the sha256 of its rows in primary-key order, one line per row: on
PostgreSQL the row's text form (`t::text`, in UTC), on SQLite the `repr` of its values. Two
databases of one dialect with the same rows give the same checksums; the dialects are never
compared with each other (a backup is restored into its own dialect).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Sequence

import sqlalchemy as sa

from refnet.db import models  # noqa: F401  (registers every table on Base.metadata)
from refnet.db.base import Base
from refnet.ops.backup_files import ContentStats

ALEMBIC_TABLE = "alembic_version"
_BATCH = 5000


def known_tables() -> dict[str, list[str]]:
    """RefNet's tables (the models' and Alembic's), each with its primary-key columns."""
    tables = {
        table.name: [column.name for column in table.primary_key.columns]
        for table in Base.metadata.sorted_tables
    }
    tables[ALEMBIC_TABLE] = ["version_num"]
    return tables


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _order_by(columns: Sequence[str]) -> str:
    return ", ".join(_quote(column) for column in columns) if columns else "1"


def _digest(lines: Iterable[str]) -> ContentStats:
    digest, rows = hashlib.sha256(), 0
    for line in lines:
        digest.update(line.encode("utf-8", "surrogatepass"))
        digest.update(b"\n")
        rows += 1
    return ContentStats(rows=rows, checksum=digest.hexdigest())


def postgres_stats(connection: sa.Connection) -> tuple[dict[str, ContentStats], str | None]:
    """Per-table stats and the schema revision, read in `connection`'s transaction (its
    snapshot)."""
    connection.execute(sa.text("SET LOCAL TimeZone = 'UTC'"))
    present = set(
        connection.scalars(
            sa.text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        )
    )
    stats: dict[str, ContentStats] = {}
    for table, key in known_tables().items():
        if table not in present:
            continue
        rows = connection.execute(
            sa.text(f"SELECT t::text FROM {_quote(table)} AS t ORDER BY {_order_by(key)}"),
            execution_options={"stream_results": True, "yield_per": _BATCH},
        )
        stats[table] = _digest(rows.scalars())
    revision = None
    if ALEMBIC_TABLE in present:
        revision = connection.scalar(sa.text("SELECT version_num FROM alembic_version"))
    return stats, revision


def sqlite_stats(connection: sqlite3.Connection) -> tuple[dict[str, ContentStats], str | None]:
    """Per-table stats and the schema revision of the SQLite database on `connection`."""
    present = {
        row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
    }
    stats: dict[str, ContentStats] = {}
    for table, key in known_tables().items():
        if table not in present:
            continue
        cursor = connection.execute(f"SELECT * FROM {_quote(table)} ORDER BY {_order_by(key)}")
        stats[table] = _digest(repr(row) for batch in _batches(cursor) for row in batch)
    revision = None
    if ALEMBIC_TABLE in present:
        found = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        revision = str(found[0]) if found else None
    return stats, revision


def _batches(cursor: sqlite3.Cursor) -> Iterable[list[tuple[object, ...]]]:
    while batch := cursor.fetchmany(_BATCH):
        yield batch


def differences(expected: dict[str, ContentStats], found: dict[str, ContentStats]) -> list[str]:
    """What differs between two sets of table stats, one phrase per difference."""
    problems = []
    for table in sorted(expected.keys() | found.keys()):
        want, got = expected.get(table), found.get(table)
        if want is None:
            problems.append(f"table {table} is not in the backup's metadata")
        elif got is None:
            problems.append(f"table {table} is missing")
        elif want.rows != got.rows:
            problems.append(f"table {table} has {got.rows} rows, the metadata says {want.rows}")
        elif want.checksum != got.checksum:
            problems.append(f"table {table} has {got.rows} rows but different content")
    return problems
