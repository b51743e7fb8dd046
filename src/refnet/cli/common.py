"""What every command shares: the app, consoles, settings, database readiness, errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, NoReturn

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError
from rich.console import Console
from sqlalchemy import exc as sa_exc

from refnet.core.config import (
    Settings,
    describe_settings_errors,
    describe_unparsable_setting,
    get_settings,
)
from refnet.core.errors import InvalidInput, RefNetError, TransientError
from refnet.core.log_scrub import secrets_in
from refnet.core.logging import configure_logging
from refnet.db import migrate
from refnet.db.session import is_transient, tune_engine

if TYPE_CHECKING:
    from refnet.core.handoff import Dispatcher

app = typer.Typer(
    help="RefNet: map the citation network around research papers.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
papers_app = typer.Typer(help="Stored papers.", no_args_is_help=True)
watch_app = typer.Typer(help="Seeds re-crawled for new citations.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(papers_app, name="papers")
app.add_typer(watch_app, name="watch")

console = Console()
errors = Console(stderr=True)
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_PAUSED = 75  # EX_TEMPFAIL: try again later


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    errors.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


@contextmanager
def errors_as_messages() -> Iterator[None]:
    try:
        yield
    except InvalidInput as exc:
        fail(str(exc), EXIT_USAGE)
    except TransientError as exc:
        fail(f"{exc}; try again later", EXIT_PAUSED)
    except RefNetError as exc:
        fail(str(exc))
    except sa_exc.ArgumentError as exc:
        fail(f"DATABASE_URL is not a database URL RefNet can use: {exc}", EXIT_USAGE)
    except sa_exc.OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        if is_transient(exc):
            fail(f"database unavailable: {reason}; try again later", EXIT_PAUSED)
        fail(f"cannot use the database: {reason}")


def load_settings(verbose: bool = False) -> Settings:
    try:
        settings = get_settings()
    except ValidationError as exc:  # configured never to show the values it read
        fail(f"invalid configuration:\n{describe_settings_errors(exc)}", EXIT_USAGE)
    except SettingsError as exc:
        fail(f"invalid configuration:\n{describe_unparsable_setting(exc)}", EXIT_USAGE)
    except InvalidInput as exc:
        fail(f"invalid configuration: {exc}", EXIT_USAGE)
    configure_logging(
        level="INFO" if verbose else "WARNING",
        fmt=settings.log_format,
        secrets=secrets_in(settings),
    )
    tune_engine(settings.effective_database_url, **settings.db.engine_options())
    return settings


def start_pipeline(settings: Settings) -> Dispatcher | None:
    """Let this command hand work on: to the workers with a broker, else run it here. Returns
    the dispatcher it replaces."""
    from refnet.worker.celery_app import start_pipeline as start

    return start(settings)


def ready_database(settings: Settings) -> str:
    """The database URL, migrated when embedded, else checked to be current."""
    url = settings.effective_database_url
    if settings.is_embedded:
        migrate.upgrade(url)
    else:
        migrate.ensure_schema_current(url)
    return url
