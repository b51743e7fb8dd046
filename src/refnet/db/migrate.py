"""Schema migrations (one Alembic chain for PostgreSQL and SQLite) and the schema check."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from refnet.core.errors import SchemaOutOfDate
from refnet.db.session import get_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "the migration chain has no head"
    return head


def current_revision(url: str) -> str | None:
    with get_engine(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(url: str, revision: str = "head") -> None:
    config = _config()
    with get_engine(url).begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(url: str, revision: str) -> None:
    config = _config()
    with get_engine(url).begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def ensure_schema_current(url: str) -> None:
    """Raise SchemaOutOfDate, naming the command to run, unless the schema is at head."""
    current, head = current_revision(url), head_revision()
    if current == head:
        return
    state = "has no RefNet schema" if current is None else f"is at revision {current}"
    raise SchemaOutOfDate(
        f"The database {state}; this version of RefNet needs revision {head}. "
        "Run `refnet db upgrade` to migrate it."
    )
