"""The beat schedule: which task each entry fires, when, with what batch, and until when.

Every entry comes from settings (`SCHEDULE__<ENTRY>__…`, see `core.settings_operations`): it can
be turned off, timed by an interval or a crontab in `SCHEDULE__TIMEZONE`, and sized. Each fired
message expires (one interval, or an hour for a crontab) so runs missed while no worker listened
are dropped instead of piling up, and carries the entry's name in a header so the worker can
record the run (`worker.schedule_records`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from celery import Celery
from celery.schedules import crontab, schedule

from refnet.core.config import Settings
from refnet.core.handoff import (
    BACKUP_DATABASE,
    BACKUP_VAULT,
    CHECK_HEALTH,
    GENERATE_VAULT,
    PRUNE_BACKUPS,
    RECRAWL_WATCHED,
    REPORT_STATISTICS,
    SUMMARIZE_PENDING,
)
from refnet.core.settings_operations import BatchedEntry, ScheduleEntry

SCHEDULE_HEADER = "refnet_schedule_entry"


@dataclass(frozen=True, slots=True)
class Job:
    """What an entry runs: a task, and its arguments from the entry's settings."""

    task: str
    kwargs: Callable[[ScheduleEntry], dict[str, Any]] = lambda _: {}


def _batch(entry: ScheduleEntry) -> dict[str, Any]:
    assert isinstance(entry, BatchedEntry)
    return {"batch": entry.batch}


JOBS: Mapping[str, Job] = {
    "recrawl": Job(RECRAWL_WATCHED, _batch),
    "summary_sweep": Job(SUMMARIZE_PENDING, _batch),
    "regenerate": Job(GENERATE_VAULT),
    "backup_database": Job(BACKUP_DATABASE),
    "backup_vault": Job(BACKUP_VAULT),
    "retention": Job(PRUNE_BACKUPS),
    "health": Job(CHECK_HEALTH),
    "statistics": Job(REPORT_STATISTICS),
}

SCHEDULED_TASKS = frozenset(job.task for job in JOBS.values())


def timing_of(entry: ScheduleEntry, app: Celery | None = None) -> schedule | crontab:
    """An interval, or a crontab read in the timezone of `app` (`SCHEDULE__TIMEZONE`; default:
    the current app's)."""
    parsed = entry.parsed
    if parsed.every is not None:
        return schedule(parsed.every, app=app)
    assert parsed.crontab is not None
    minute, hour, day_of_month, month_of_year, day_of_week = parsed.crontab
    return crontab(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month_of_year,
        day_of_week=day_of_week,
        app=app,
    )


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """Celery's `beat_schedule` for the enabled entries."""
    entries: dict[str, dict[str, Any]] = {}
    for name, entry in settings.schedule.entries().items():
        if not entry.enabled:
            continue
        job = JOBS[name]
        entries[name] = {
            "task": job.task,
            "schedule": timing_of(entry),
            "kwargs": job.kwargs(entry),
            "options": {
                "expires": entry.expiry.total_seconds(),
                "headers": {SCHEDULE_HEADER: name},
            },
        }
    return entries
