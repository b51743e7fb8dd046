"""Schema migrations (one Alembic chain for PostgreSQL and SQLite) and the schema check."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from refnet.core.errors import SchemaOutOfDate
from refnet.db.session import get_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Alembic is imported inside the functions: it costs most of a second at start-up.


def _config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "the migration chain has no head"
    return head


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with get_engine(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(url: str, revision: str = "head") -> None:
    from alembic import command

    config = _config()
    with get_engine(url).begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(url: str, revision: str) -> None:
    from alembic import command

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
