"""The system health check: every part the pipeline needs, checked now, stored and logged.

Beyond readiness (database, Redis, broker) it asks whether each queue has a live worker, whether
the data and vault volumes have room, whether the last backups are recent, whether beat fired
every entry when it should have, and whether failed tasks wait for a person.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from celery import Celery

from refnet.core.config import Settings
from refnet.db.base import utcnow
from refnet.db.queries.operations import ScheduleRunView, list_schedule_runs, store_findings
from refnet.db.session import session_scope
from refnet.ops.health import (
    Check,
    backup_check,
    disk_check,
    failures_check,
    readiness,
)
from refnet.worker.schedule import JOBS, timing_of
from refnet.worker.status import QueueInspector

log = structlog.get_logger(__name__)
# Beat may fire an entry this much after it was due (its loop, a lock hand-over) before it is late.
BEAT_GRACE = timedelta(minutes=2)


def worker_checks(app: Celery) -> list[Check]:
    checks = []
    for report in QueueInspector(app).status():
        part = f"worker_{report.name}"
        if report.workers is None:
            checks.append(Check(part, False, "workers did not answer (broker unreachable?)"))
        elif report.workers == 0:
            checks.append(
                Check(part, False, f"no live worker consumes {report.name} (depth {report.depth})")
            )
        else:
            checks.append(Check(part, True, f"{report.workers} worker(s), {report.depth} waiting"))
    return checks


def beat_checks(
    settings: Settings, runs: list[ScheduleRunView], now: datetime, app: Celery
) -> list[Check]:
    """One finding per enabled entry: fired within its timing (plus grace), and how it ended."""
    by_entry = {run.entry: run for run in runs}
    grace = max(BEAT_GRACE, timedelta(seconds=2 * settings.schedule.lock_timeout))
    checks = []
    for name, entry in settings.schedule.entries().items():
        if not entry.enabled or name not in JOBS:
            continue
        part = f"beat_{name}"
        run = by_entry.get(name)
        if run is None:
            checks.append(
                Check(part, False, "not scheduled by any beat: is `refnet beat` running?")
            )
            continue
        since = run.last_fired_at or run.registered_at
        overdue = -timing_of(entry, app).remaining_estimate(since)
        if run.last_fired_at is None:
            outcome = f"scheduled since {since:%Y-%m-%d %H:%M:%S} UTC, not due yet"
        else:
            outcome = f"last fired {since:%Y-%m-%d %H:%M:%S} UTC, {run.last_outcome}"
        if overdue > grace:
            checks.append(Check(part, False, f"{outcome}; late by {overdue}"))
        elif run.last_outcome == "failed":
            checks.append(Check(part, False, f"{outcome}: {run.last_detail}"))
        else:
            checks.append(Check(part, True, outcome))
    return checks


def system_health(
    settings: Settings, *, app: Celery | None, now: datetime | None = None
) -> list[Check]:
    """Every check; `app` None without a broker (no workers, no beat to check)."""
    now = now or utcnow()
    checks = readiness(settings)
    database_ok = checks[0].ok
    if app is not None and settings.broker_url:
        checks += worker_checks(app)
    checks.append(disk_check("disk_data", settings.data_dir, settings.health.min_free_mb))
    checks.append(disk_check("disk_vault", settings.vault_dir, settings.health.min_free_mb))
    checks += [backup_check(settings, kind, now) for kind in ("database", "vault")]
    if database_ok:
        with session_scope(settings.effective_database_url) as session:
            checks.append(failures_check(session))
            runs = list_schedule_runs(session=session)
        if app is not None and settings.broker_url:  # no broker, no beat
            checks += beat_checks(settings, runs, now, app)
    return checks


def run_health_checks(settings: Settings, *, app: Celery | None) -> list[Check]:
    """`system_health`, stored (when the database answers) and logged."""
    checks = system_health(settings, app=app)
    for check in checks:
        level = log.info if check.ok else log.warning
        level("health_check", part=check.part, ok=check.ok, detail=check.detail)
    if checks[0].ok:
        with session_scope(settings.effective_database_url) as session:
            store_findings(session=session, findings=[(c.part, c.ok, c.detail) for c in checks])
    return checks
