"""`refnet beat`: Celery Beat on RedBeat, so exactly one beat fires entries at a time.

RedBeat keeps the schedule and each entry's last run in Redis and holds a lock there while it
runs: a second beat waits on that lock and takes over when the first stops renewing it, from the
last runs the first one recorded, so an entry never fires twice for one interval. Each fired
entry is also recorded in our own table (`schedule_runs`) for the API, metrics and health check.
"""

from __future__ import annotations

from typing import Any

import structlog
from redbeat import RedBeatScheduler

from refnet.core.config import get_settings
from refnet.core.metrics import BEAT_TICK
from refnet.db.queries.operations import record_fired, register_entries
from refnet.db.session import session_scope

log = structlog.get_logger(__name__)
SCHEDULER = "refnet.worker.beat:RefNetScheduler"


class RefNetScheduler(RedBeatScheduler):  # type: ignore[misc]
    def tick(self, *args: Any, **kwargs: Any) -> Any:
        BEAT_TICK.set_to_current_time()  # `refnet probe beat` and dashboards read it
        return super().tick(*args, **kwargs)

    def setup_schedule(self) -> None:
        super().setup_schedule()
        entries = {name: entry["task"] for name, entry in self.app.conf.beat_schedule.items()}
        try:
            with session_scope(get_settings().effective_database_url) as session:
                register_entries(session=session, entries=entries)
        except Exception as exc:  # beat runs without it; the health check will say so
            log.warning("schedule_not_registered", reason=str(exc)[:200])

    def apply_async(
        self, entry: Any, producer: Any = None, advance: bool = True, **kwargs: Any
    ) -> Any:
        # Recorded before the message is sent: a beat stopped in between leaves a firing without
        # a run, never a run without its firing.
        try:
            with session_scope(get_settings().effective_database_url) as session:
                record_fired(session=session, entry=entry.name, task_name=entry.task)
        except Exception as exc:  # the run is still sent; only its record is missing
            log.warning("schedule_entry_not_recorded", entry=entry.name, reason=str(exc)[:200])
        result = super().apply_async(entry, producer, advance, **kwargs)
        log.info(
            "schedule_entry_fired",
            entry=entry.name,
            task=entry.task,
            task_id=getattr(result, "id", None),
        )
        return result
