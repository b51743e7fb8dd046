"""Alembic environment: the URL and connection come from RefNet's code, not alembic.ini."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import refnet.db.models  # noqa: F401  (registers the tables)
from refnet.db.base import Base
from refnet.db.search_objects import include_object


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # The full-text search objects differ by database and have no model: see search_objects.
        include_object=include_object,
    )


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through refnet.db.migrate, which passes a connection")
_configure(connection)
with context.begin_transaction():
    context.run_migrations()
