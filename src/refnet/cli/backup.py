"""`refnet backup …`: database and vault backups, verified, listed and restored."""

from __future__ import annotations

from collections.abc import Callable

import typer
from rich.table import Table

from refnet.cli.common import app, console, errors_as_messages, load_settings, ready_database
from refnet.core.config import Settings
from refnet.ops.backup import (
    BackupInfo,
    BackupKind,
    create_backup,
    list_backups,
    restore_backup,
    verify_backup,
)

backup_app = typer.Typer(help="Backups of the database and the vault.", no_args_is_help=True)
app.add_typer(backup_app, name="backup")
KINDS = "database|vault|all"


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _describe(info: BackupInfo) -> str:
    schema = f", schema {info.schema_revision}" if info.schema_revision else ""
    return (
        f"{info.kind.value} backup {info.name} ({human_size(info.size)}, "
        f"{info.duration_seconds:.1f} s{schema})"
    )


@backup_app.command("create")
def backup_create(
    kind: str = typer.Option("all", "--kind", "-k", help=f"{KINDS}."),
) -> None:
    """Back up the database, the vault, or both (the default), into the backup directory."""
    settings = load_settings()
    with errors_as_messages():
        if settings.is_embedded:
            ready_database(settings)  # a fresh install's database exists once migrated
        kinds = list(BackupKind) if kind.strip().lower() == "all" else [BackupKind.parse(kind)]
        for chosen in kinds:
            if chosen is BackupKind.VAULT and len(kinds) > 1 and not settings.vault_dir.is_dir():
                console.print(f"No vault at {settings.vault_dir} yet: nothing to back up there.")
                continue
            info = create_backup(settings=settings, kind=chosen)
            console.print(f"Created {_describe(info)} in {settings.backup_dir}.", highlight=False)


@backup_app.command("list")
def backup_list() -> None:
    """List the backups, newest first, with a quick check of each (size and presence)."""
    settings = load_settings()
    with errors_as_messages():
        listings = list_backups(settings=settings)
    if not listings:
        console.print(f"No backups in {settings.backup_dir} yet: `refnet backup create` makes one.")
        return
    table = Table("name", "kind", "created (UTC)", "size", "schema", "check")
    for listing in listings:
        info = listing.info
        table.add_row(
            listing.name,
            listing.kind.value if listing.kind else "?",
            f"{info.created_at:%Y-%m-%d %H:%M:%S}" if info else "",
            human_size(info.size) if info else "",
            (info.schema_revision or "") if info else "",
            listing.status.value if listing.ok else f"{listing.status.value}: {listing.detail}",
        )
    console.print(table)


@backup_app.command("verify")
def backup_verify(
    name: str = typer.Argument(..., help="A name `refnet backup list` shows."),
) -> None:
    """Check a backup's sha256, restore it into a scratch database (or read the archive) and
    compare every table's rows with what the backup recorded."""
    settings = load_settings()
    with errors_as_messages():
        report = verify_backup(settings=settings, name=name)
    for check in report.checks:
        console.print(f"ok: {check}", highlight=False)
    console.print(f"Backup {report.name} is good.", highlight=False)


def _tasks_on_workers(settings: Settings) -> Callable[[], list[str]] | None:
    """What the workers are running, as writers a restore must wait for (stack only)."""
    if settings.broker_url is None:
        return None
    from refnet.worker.celery_app import app as celery_app
    from refnet.worker.status import QueueInspector

    return QueueInspector(celery_app).running_tasks


@backup_app.command("restore")
def backup_restore(
    name: str = typer.Argument(..., help="A name `refnet backup list` shows."),
    force: bool = typer.Option(
        False, "--force", help="Restore even while crawls or other work are writing."
    ),
) -> None:
    """Replace the database (or the vault, for a vault backup) with a backup, after taking a
    safety backup of it."""
    settings = load_settings()
    with errors_as_messages():
        report = restore_backup(
            settings=settings, name=name, force=force, writers_check=_tasks_on_workers(settings)
        )
    target = "vault" if report.kind is BackupKind.VAULT else "database"
    console.print(f"Restored the {target} from backup {report.name}.", highlight=False)
    if report.safety_backup:
        console.print(
            f"What it replaced is kept in backup {report.safety_backup}.", highlight=False
        )
    if report.needs_upgrade:
        console.print(
            f"The restored schema is at revision {report.schema_revision}: "
            "run `refnet db upgrade` before starting RefNet.",
            highlight=False,
        )
    if report.kind is BackupKind.DATABASE:
        console.print(
            "The vault still shows the database as it was: `refnet generate --all` rewrites it "
            "from the restored one."
        )
