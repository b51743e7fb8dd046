"""Schema migrations (one Alembic chain for PostgreSQL and SQLite) and the schema check."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text

from refnet.core.errors import SchemaOutOfDate
from refnet.db.session import get_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# The newest revision of the chain; a test checks it against Alembic's own answer. Kept here
# so that checking a database at start-up does not import Alembic (most of a second). Alembic
# itself is imported inside the functions that migrate.
HEAD_REVISION = "0011"


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
    with get_engine(url).connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        version = connection.scalar(text("SELECT version_num FROM alembic_version"))
        return str(version) if version is not None else None


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
    current, head = current_revision(url), HEAD_REVISION
    if current == head:
        return
    state = "has no RefNet schema" if current is None else f"is at revision {current}"
    raise SchemaOutOfDate(
        f"The database {state}; this version of RefNet needs revision {head}. "
        "Run `refnet db upgrade` to migrate it."
    )
