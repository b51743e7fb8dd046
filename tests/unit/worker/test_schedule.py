"""The beat schedule read from settings, and the start-up check of workers and beat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from celery import Celery
from celery.schedules import crontab, maybe_schedule, schedule
from pydantic import ValidationError

from refnet.core.config import Settings, describe_settings_errors, settings_from
from refnet.worker.celery_app import make_celery
from refnet.worker.processes import SHIPPED_PROCESSES, startup_problems
from refnet.worker.schedule import SCHEDULE_HEADER

BROKER = "redis://127.0.0.1:6379/15"
# What each entry runs, and the queue whose worker receives it.
ENTRIES = {
    "recrawl": ("refnet.crawler.recrawl_watched", "crawler"),
    "summary_sweep": ("refnet.summarizer.summarize_pending", "summarizer"),
    "regenerate": ("refnet.generator.generate_vault", "generator"),
    "backup_database": ("refnet.maintenance.backup_database", "maintenance"),
    "backup_vault": ("refnet.maintenance.backup_vault", "maintenance"),
    "retention": ("refnet.maintenance.prune_backups", "maintenance"),
    "health": ("refnet.maintenance.check_health", "maintenance"),
    "statistics": ("refnet.maintenance.report_statistics", "maintenance"),
}


def app_with(environment: dict[str, str]) -> Celery:
    """The stack's app with these environment variables set."""
    with settings_from({"REDIS_URL": BROKER, **environment}) as settings:
        return make_celery(settings)


def entries_with(environment: dict[str, str]) -> dict[str, dict[str, Any]]:
    schedule_: dict[str, dict[str, Any]] = app_with(environment).conf.beat_schedule
    return schedule_


def refusal(environment: dict[str, str]) -> str:
    """What an operator is told about these settings (as `refnet …` prints it)."""
    with pytest.raises(ValidationError) as refused, settings_from(environment):
        pass
    return describe_settings_errors(refused.value)


def test_every_entry_is_scheduled_by_default_and_reaches_its_queue() -> None:
    app = make_celery(Settings(redis_url=BROKER))
    scheduled = app.conf.beat_schedule
    assert set(scheduled) == set(ENTRIES)
    for name, (task, queue) in ENTRIES.items():
        assert scheduled[name]["task"] == task
        assert task in app.tasks, f"{name} fires {task}, which no worker would know"
        assert app.amqp.router.route({}, task)["queue"].name == queue


def test_a_disabled_entry_is_not_scheduled() -> None:
    scheduled = entries_with({"SCHEDULE__RECRAWL__ENABLED": "false"})
    assert "recrawl" not in scheduled
    assert set(scheduled) == set(ENTRIES) - {"recrawl"}


def test_every_fired_message_names_its_entry() -> None:
    for name, entry in entries_with({}).items():
        assert entry["options"]["headers"] == {SCHEDULE_HEADER: name}


def test_an_interval_timing_runs_every_so_often() -> None:
    scheduled = entries_with(
        {"SCHEDULE__HEALTH__TIMING": "90s", "SCHEDULE__REGENERATE__TIMING": "2h"}
    )
    assert isinstance(scheduled["health"]["schedule"], schedule)
    assert not isinstance(scheduled["health"]["schedule"], crontab)
    assert scheduled["health"]["schedule"].run_every == timedelta(seconds=90)
    assert scheduled["regenerate"]["schedule"].run_every == timedelta(hours=2)
    # The defaults: a sweep every 15 minutes, the health check every 5.
    defaults = entries_with({})
    assert defaults["summary_sweep"]["schedule"].run_every == timedelta(minutes=15)
    assert defaults["health"]["schedule"].run_every == timedelta(minutes=5)


def test_plain_seconds_are_an_interval() -> None:
    scheduled = entries_with({"SCHEDULE__STATISTICS__TIMING": "45"})
    assert scheduled["statistics"]["schedule"].run_every == timedelta(seconds=45)


def test_a_crontab_timing_runs_at_its_times() -> None:
    scheduled = entries_with({"SCHEDULE__HEALTH__TIMING": "*/10 8-18 * * 1-5"})
    timing = scheduled["health"]["schedule"]
    assert isinstance(timing, crontab)
    assert timing.minute == {0, 10, 20, 30, 40, 50}
    assert timing.hour == set(range(8, 19))
    assert timing.day_of_week == {1, 2, 3, 4, 5}
    recrawl = entries_with({})["recrawl"]["schedule"]
    assert (recrawl.minute, recrawl.hour) == ({0}, {3})


def next_run_after(app: Celery, entry: str, last_run: datetime) -> datetime:
    """When beat would next fire `entry` after a run at `last_run`, in UTC."""
    timing = maybe_schedule(app.conf.beat_schedule[entry]["schedule"], app=app)
    start, delta, _ = timing.remaining_delta(last_run)
    moment: datetime = (start + delta).astimezone(UTC)
    return moment


def test_crontabs_are_read_in_the_configured_timezone() -> None:
    berlin = app_with({"SCHEDULE__TIMEZONE": "Europe/Berlin"})
    assert berlin.conf.timezone == "Europe/Berlin"
    midnight = datetime(2024, 1, 10, 0, 0, tzinfo=UTC)
    # The recrawl at 03:00 runs at 03:00 in Berlin: 02:00 UTC in winter.
    assert next_run_after(berlin, "recrawl", midnight) == datetime(2024, 1, 10, 2, 0, tzinfo=UTC)
    utc = app_with({})
    assert utc.conf.timezone == "UTC"
    assert next_run_after(utc, "recrawl", midnight) == datetime(2024, 1, 10, 3, 0, tzinfo=UTC)


def test_a_fired_run_expires_after_one_interval_or_an_hour() -> None:
    scheduled = entries_with({"SCHEDULE__HEALTH__TIMING": "7m"})
    assert scheduled["health"]["options"]["expires"] == 7 * 60
    assert scheduled["summary_sweep"]["options"]["expires"] == 15 * 60
    for name in ("recrawl", "backup_database", "backup_vault", "retention", "statistics"):
        assert scheduled[name]["options"]["expires"] == 3600, name


def test_an_explicit_expiry_wins() -> None:
    scheduled = entries_with(
        {"SCHEDULE__HEALTH__EXPIRES": "30", "SCHEDULE__RECRAWL__EXPIRES": "7200"}
    )
    assert scheduled["health"]["options"]["expires"] == 30
    assert scheduled["recrawl"]["options"]["expires"] == 7200


def test_sweeps_take_their_batch_from_settings() -> None:
    defaults = entries_with({})
    assert defaults["recrawl"]["kwargs"] == {"batch": 50}
    assert defaults["summary_sweep"]["kwargs"] == {"batch": 200}
    assert defaults["regenerate"]["kwargs"] == {}
    sized = entries_with({"SCHEDULE__RECRAWL__BATCH": "5", "SCHEDULE__SUMMARY_SWEEP__BATCH": "9"})
    assert sized["recrawl"]["kwargs"] == {"batch": 5}
    assert sized["summary_sweep"]["kwargs"] == {"batch": 9}


def test_batches_fit_the_tasks_they_are_given_to() -> None:
    app = make_celery(Settings(redis_url=BROKER))
    for entry in app.conf.beat_schedule.values():
        app.tasks[entry["task"]].check_arguments((), entry["kwargs"])


@pytest.mark.parametrize(
    ("environment", "variable", "words"),
    [
        ({"SCHEDULE__RECRAWL__TIMING": "sometimes"}, "SCHEDULE__RECRAWL__TIMING", "crontab"),
        ({"SCHEDULE__RECRAWL__TIMING": "61 * * * *"}, "SCHEDULE__RECRAWL__TIMING", "crontab"),
        ({"SCHEDULE__RECRAWL__TIMING": "0 3 * *"}, "SCHEDULE__RECRAWL__TIMING", "interval"),
        ({"SCHEDULE__TIMEZONE": "Mars/Olympus"}, "SCHEDULE__TIMEZONE", "time zone"),
        ({"SCHEDULE__HEALTH__TIMING": "0s"}, "SCHEDULE__HEALTH__TIMING", "at least one second"),
        ({"SCHEDULE__HEALTH__EXPIRES": "0"}, "SCHEDULE__HEALTH__EXPIRES", "greater than 0"),
        ({"SCHEDULE__RECRAWL__BATCH": "0"}, "SCHEDULE__RECRAWL__BATCH", "greater than or equal"),
        ({"SCHEDULE__RECRAWL__ENABLED": "maybe"}, "SCHEDULE__RECRAWL__ENABLED", "boolean"),
    ],
)
def test_bad_schedule_settings_are_refused_naming_the_variable(
    environment: dict[str, str], variable: str, words: str
) -> None:
    message = refusal(environment)
    assert variable in message
    assert words in message


def test_the_shipped_app_and_processes_leave_no_work_undone() -> None:
    assert startup_problems(make_celery(Settings(redis_url=BROKER))) == []
    assert startup_problems(make_celery(Settings())) == []


def test_a_queue_without_a_shipped_worker_is_a_problem() -> None:
    without = [c for name, c in SHIPPED_PROCESSES.items() if name != "worker-summarizer"]
    problems = startup_problems(make_celery(Settings(redis_url=BROKER)), without)
    assert len(problems) == 1
    assert "queue summarizer" in problems[0]
    assert "refnet worker --queue summarizer" in problems[0]


def test_no_worker_at_all_names_every_queue() -> None:
    problems = startup_problems(make_celery(Settings(redis_url=BROKER)), [("refnet", "beat")])
    assert len(problems) == 4
    for queue in ("crawler", "summarizer", "generator", "maintenance"):
        assert any(f"queue {queue} " in problem for problem in problems), queue


def test_an_app_missing_a_scheduled_task_is_a_problem() -> None:
    app = make_celery(Settings(redis_url=BROKER))
    del app.tasks["refnet.maintenance.check_health"]
    problems = startup_problems(app)
    assert problems == [
        "scheduled task refnet.maintenance.check_health is not registered "
        "(is its module in TASK_MODULES?)"
    ]
    # Other apps keep theirs.
    assert startup_problems(make_celery(Settings(redis_url=BROKER))) == []
