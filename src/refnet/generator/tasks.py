"""Generator task: bring the vault up to date with the database."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from refnet.core.config import get_settings
from refnet.core.handoff import GENERATE_VAULT, vault_update_started
from refnet.db.queries.task_requests import tracked
from refnet.generator.service import generate_vault


@shared_task(name=GENERATE_VAULT)
def generate_vault_task(full: bool = False, request_id: int | None = None) -> dict[str, Any]:
    """Write the notes whose inputs changed (every note with `full`). `request_id`: the API
    request this answers, marked running, then done or failed."""
    vault_update_started()
    settings = get_settings()
    with tracked(settings.effective_database_url, request_id):
        report = generate_vault(
            database_url=settings.effective_database_url, vault_dir=settings.vault_dir, full=full
        )
    return {
        "notes_written": report.notes_written,
        "notes_unchanged": report.notes_unchanged,
        "notes_failed": len(report.notes_failed),
        "files_removed": report.files_removed,
        "files_kept": report.files_kept,
    }
