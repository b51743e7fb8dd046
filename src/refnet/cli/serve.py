"""`refnet serve`: the HTTP API under uvicorn."""

from __future__ import annotations

import os

import typer

from refnet.cli.common import (
    EXIT_USAGE,
    app,
    console,
    errors,
    errors_as_messages,
    fail,
    load_settings,
)
from refnet.core.config import Settings
from refnet.core.errors import RefNetError
from refnet.db import migrate


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0: every one)."),
    port: int = typer.Option(8000, min=1, max=65535, help="TCP port."),
    workers: int = typer.Option(1, min=1, max=64, help="Server processes."),
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs)."""
    settings = load_settings()
    with errors_as_messages():
        from refnet.security.tokens import Keyring

        Keyring.from_settings(settings)  # a missing JWT_SECRET in production stops us here
        _prepare_database(settings)
        from refnet.security.accounts import bootstrap_admin

        created = bootstrap_admin(settings)
        if created is not None:
            console.print(f"Created the first admin, {created.username}.")
    if workers > 1 or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Several processes share one count; and a directory given by the environment holds
        # the counts of earlier runs, which must not add to this one's.
        from refnet.core.metrics import prepare_multiprocess_dir

        prepare_multiprocess_dir("api")
    import uvicorn

    try:
        uvicorn.run(
            "refnet.api.main:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            loop="uvloop",
            http="httptools",
            proxy_headers=False,  # the API trusts X-Forwarded-* only from API__TRUSTED_PROXIES
            server_header=False,
            access_log=False,  # the API writes its own access log, as JSON
            log_config=None,
            timeout_graceful_shutdown=10,
        )
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", EXIT_USAGE)


def _prepare_database(settings: Settings) -> None:
    """Embedded: migrate. Stack: the schema must be current, but a database that is down at
    start is only reported: `/ready` says so until it is back."""
    url = settings.effective_database_url
    if settings.is_embedded:
        migrate.upgrade(url)
        return
    try:
        migrate.ensure_schema_current(url)
    except RefNetError:
        raise
    except Exception as exc:  # unreachable: start anyway, /ready reports it
        errors.print(f"warning: the database is not reachable yet ({type(exc).__name__})")
