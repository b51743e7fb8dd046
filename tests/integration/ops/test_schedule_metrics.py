"""A beat entry's last outcome on /metrics is the last run that ended: a run in progress shows as
running in the schedule, and does not blank the metric an alert and a dashboard read."""

from __future__ import annotations

from refnet.core.config import Settings
from refnet.db.queries.operations import (
    list_schedule_runs,
    record_finished,
    record_fired,
    record_started,
    register_entries,
)
from refnet.db.session import session_scope
from refnet.ops.metrics import database_figures

ENTRY = "health"
TASK = "refnet.maintenance.check_health"


def last_run_ok(settings: Settings) -> dict[str, float]:
    return {
        sample.labels["entry"]: sample.value
        for family in database_figures(settings)
        if family.name == "refnet_schedule_last_run_ok"
        for sample in family.samples
    }


def run(url: str, outcome: str | None) -> None:
    """One firing of the entry; it ends with `outcome`, or is still running when None."""
    with session_scope(url) as session:
        record_fired(session=session, entry=ENTRY, task_name=TASK)
    with session_scope(url) as session:
        record_started(session=session, entry=ENTRY, task_name=TASK)
    if outcome is not None:
        with session_scope(url) as session:
            record_finished(session=session, entry=ENTRY, outcome=outcome, detail=None)


def test_a_run_in_progress_keeps_the_last_outcome_on_the_metrics(database_url: str) -> None:
    settings = Settings(database_url=database_url)
    with session_scope(database_url) as session:
        register_entries(session=session, entries={ENTRY: TASK})
    assert ENTRY not in last_run_ok(settings)  # never ran

    run(database_url, "failed")
    assert last_run_ok(settings)[ENTRY] == 0

    run(database_url, None)  # the next run has started
    with session_scope(database_url) as session:
        (view,) = list_schedule_runs(session=session)
    assert view.last_outcome == "running"
    assert last_run_ok(settings)[ENTRY] == 0  # still how the last finished run ended

    with session_scope(database_url) as session:
        record_finished(session=session, entry=ENTRY, outcome="ok", detail=None)
    with session_scope(database_url) as session:
        (view,) = list_schedule_runs(session=session)
    assert view.last_outcome == "ok"
    assert last_run_ok(settings)[ENTRY] == 1
