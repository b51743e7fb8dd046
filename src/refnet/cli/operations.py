"""`refnet beat`, `refnet flower`, `refnet health`, `refnet tasks …`: running unattended."""

from __future__ import annotations

import typer
from rich.table import Table

from refnet.cli.common import (
    EXIT_FAILED,
    EXIT_USAGE,
    app,
    console,
    errors_as_messages,
    fail,
    load_settings,
    ready_database,
    start_pipeline,
)
from refnet.core.config import Settings

tasks_app = typer.Typer(
    help="Tasks that failed for good, and re-driving them.", no_args_is_help=True
)
app.add_typer(tasks_app, name="tasks")


def refuse_startup_problems(celery_app: object) -> None:
    from refnet.worker.processes import startup_problems

    problems = startup_problems(celery_app)  # type: ignore[arg-type]
    if problems:
        fail("refusing to start:\n  " + "\n  ".join(problems), EXIT_USAGE)


@app.command()
def beat(
    loglevel: str | None = typer.Option(None, "--loglevel", "-l", help="Default: LOG_LEVEL."),
) -> None:
    """Fire the scheduled entries (SCHEDULE__*); only one beat is active however many run."""
    settings = load_settings()
    if not settings.redis_url:
        fail("beat keeps its schedule and its one-beat lock in Redis: set REDIS_URL", EXIT_USAGE)
    from refnet.worker import app as celery_app
    from refnet.worker.beat import SCHEDULER

    refuse_startup_problems(celery_app)
    celery_app.start(
        ["beat", "--scheduler", SCHEDULER, "--loglevel", loglevel or settings.log_level]
    )


FLOWER_PREFIX = "flower"


@app.command()
def flower(
    address: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(5555, min=1, max=65535),
) -> None:
    """Serve Flower under /flower with basic auth (FLOWER_USER, FLOWER_PASSWORD[_FILE])."""
    settings = load_settings()
    if settings.broker_url is None:
        fail("Flower watches the broker: set REDIS_URL or CELERY_BROKER_URL", EXIT_USAGE)
    credentials = _flower_credentials(settings)
    from refnet.worker import app as celery_app

    arguments = [
        "flower",
        f"--address={address}",
        f"--port={port}",
        f"--url_prefix={FLOWER_PREFIX}",
    ]
    if credentials is not None:
        arguments.append(f"--basic_auth={credentials}")
    celery_app.start(arguments)


def _flower_credentials(settings: Settings) -> str | None:
    user, password = settings.flower_user, settings.flower_password
    if user and password:
        if ":" in user or "," in user:
            fail("FLOWER_USER must not contain ':' or ','", EXIT_USAGE)
        return f"{user}:{password.get_secret_value()}"
    if user or password:
        fail("set both FLOWER_USER and FLOWER_PASSWORD (or FLOWER_PASSWORD_FILE)", EXIT_USAGE)
    if settings.environment == "production":
        fail(
            "Flower needs FLOWER_USER and FLOWER_PASSWORD (or FLOWER_PASSWORD_FILE) in production",
            EXIT_USAGE,
        )
    return None


@app.command()
def health() -> None:
    """Check every part now (database, Redis, broker, workers, disks, backups, beat, failed
    tasks); store and print the findings; exit 1 when something is wrong."""
    settings = load_settings()
    from refnet.worker.health import run_health_checks

    celery_app = None
    if settings.broker_url:
        from refnet.worker.celery_app import app as worker_app

        celery_app = worker_app

    with errors_as_messages():
        if settings.is_embedded:
            # As every command does on the embedded default: it sets its own database up (a
            # connection would create the file anyway, and then call it "not migrated").
            ready_database(settings)
        checks = run_health_checks(settings, app=celery_app)
    table = Table(title="RefNet health")
    for column in ("part", "state", "detail"):
        table.add_column(column)
    for check in checks:
        state = "[green]ok[/]" if check.ok else "[bold red]PROBLEM[/]"
        table.add_row(check.part, state, check.detail)
    console.print(table)
    if not all(check.ok for check in checks):
        raise typer.Exit(EXIT_FAILED)


@tasks_app.command("failed")
def tasks_failed(
    include_retried: bool = typer.Option(False, "--all", help="Also those already re-driven."),
    limit: int = typer.Option(100, min=1, max=10_000),
) -> None:
    """Tasks that failed for good, newest first, with the reason."""
    from refnet.db.queries.operations import list_failures
    from refnet.db.session import session_scope

    settings = load_settings()
    with errors_as_messages():
        url = ready_database(settings)
        with session_scope(url) as session:
            failures = list_failures(session=session, include_retried=include_retried, limit=limit)
    if not failures:
        console.print("No failed tasks.")
        return
    table = Table(title="Failed tasks")
    for column in ("id", "failed at (UTC)", "task", "arguments", "status", "reason"):
        table.add_column(column)
    for failure in failures:
        table.add_row(
            str(failure.id),
            f"{failure.failed_at:%Y-%m-%d %H:%M:%S}",
            failure.task_name,
            ", ".join(f"{k}={v}" for k, v in sorted(failure.kwargs.items())),
            failure.status,
            failure.reason,
        )
    console.print(table)


@tasks_app.command("retry")
def tasks_retry(
    failure_ids: list[int] = typer.Argument(None, help="Ids from `refnet tasks failed`."),
    every: bool = typer.Option(False, "--all", help="Every failed task waiting."),
) -> None:
    """Send failed tasks again, with the same arguments."""
    if bool(failure_ids) == every:
        fail("give failure ids, or --all", EXIT_USAGE)
    from refnet.core.handoff import use_dispatcher
    from refnet.worker.failures import retry_failures

    settings = load_settings()
    previous = start_pipeline(settings)
    try:
        with errors_as_messages():
            url = ready_database(settings)
            retried = retry_failures(database_url=url, failure_ids=None if every else failure_ids)
    finally:
        use_dispatcher(previous)
    if failure_ids:
        missing = sorted(set(failure_ids) - {failure.id for failure in retried})
        if missing:
            fail(
                "not waiting for a retry (unknown, or re-driven already): "
                + ", ".join(map(str, missing))
            )
    console.print(f"Sent {len(retried)} task(s) again.")
