"""One migration chain that builds the models' schema on PostgreSQL and SQLite."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from refnet.core.errors import SchemaOutOfDate
from refnet.db import migrate
from refnet.db.base import Base
from refnet.db.search_objects import include_object
from refnet.db.session import get_engine

# SQLite cannot reflect expression indexes (migration 0007); they are compared on PostgreSQL.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Skipped unsupported reflection of expression-based index"
)


def schema_drift(url: str) -> list[object]:
    with get_engine(url).connect() as connection:
        # Full-text search objects have no model (see refnet.db.search_objects); the search
        # tests check them by searching.
        opts = {"compare_type": True, "include_object": include_object}
        context = MigrationContext.configure(connection, opts=opts)
        return list(compare_metadata(context, Base.metadata))


def test_head_revision_constant_is_the_chains_head() -> None:
    assert migrate.head_revision() == migrate.HEAD_REVISION, "update HEAD_REVISION in migrate.py"


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    assert schema_drift(database_url) == []


def test_migrations_go_down_and_up_again(database_url: str) -> None:
    migrate.downgrade(database_url, "base")
    assert migrate.current_revision(database_url) is None
    migrate.upgrade(database_url)
    assert migrate.current_revision(database_url) == migrate.head_revision()
    assert schema_drift(database_url) == []


def test_out_of_date_schema_is_refused_with_the_command_to_run(database_url: str) -> None:
    migrate.downgrade(database_url, "0001")
    try:
        with pytest.raises(SchemaOutOfDate, match="Run `refnet db upgrade`"):
            migrate.ensure_schema_current(database_url)
    finally:
        migrate.upgrade(database_url)
    migrate.ensure_schema_current(database_url)
