"""Celery signals: logging set up by us, hand-offs through the worker's app, task context in logs.

Connecting a `setup_logging` receiver stops Celery from configuring logging itself; ours routes
Celery's records (and Python warnings) through structlog, from the worker's first moment
(`celeryd_init`), so a worker writes JSON lines only. Celery's plain-text banner and its
shutdown line are replaced by the events `worker_started` and `worker_stopping`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import structlog
from celery import platforms
from celery.signals import (
    beat_init,
    celeryd_after_setup,
    celeryd_init,
    setup_logging,
    task_postrun,
    task_prerun,
    worker_init,
    worker_ready,
    worker_shutting_down,
)

from refnet.core.config import get_settings
from refnet.core.log_scrub import secrets_in
from refnet.core.logging import configure_logging
from refnet.core.metrics import prepare_multiprocess_dir
from refnet.db.queries import operations
from refnet.db.session import session_scope, tune_engine
from refnet.worker import failures
from refnet.worker.dispatch import REQUEST_ID_HEADER, message_header, start_dispatching
from refnet.worker.schedule import SCHEDULE_HEADER
from refnet.worker.task_metrics import start_exporter, zero_counters

log = structlog.get_logger(__name__)


@setup_logging.connect
def configure_worker_logging(loglevel: Any = None, **_: Any) -> None:
    settings = get_settings()
    level = loglevel if isinstance(loglevel, str) else settings.log_level
    configure_logging(level=level, fmt=settings.log_format, secrets=secrets_in(settings))


@celeryd_init.connect
def configure_logging_early(options: dict[str, Any] | None = None, **_: Any) -> None:
    configure_worker_logging((options or {}).get("loglevel"))
    prepare_multiprocess_dir("worker")  # before the pool processes are forked


@worker_ready.connect
def export_worker_metrics(sender: Any = None, **_: Any) -> None:
    app = sender.app
    settings = get_settings()
    queues = [queue.name for queue in app.amqp.queues.consume_from.values()]
    provider = settings.summarizer.provider
    zero_counters(app, queues, llm_provider=None if provider == "extractive" else provider)
    metrics = settings.metrics
    start_exporter(address=metrics.address, port=metrics.worker_port, role="worker")


@beat_init.connect
def export_beat_metrics(**_: Any) -> None:
    prepare_multiprocess_dir("beat")
    metrics = get_settings().metrics
    start_exporter(address=metrics.address, port=metrics.beat_port, role="beat")


@worker_init.connect
def dispatch_through_the_worker_app(sender: Any = None, **_: Any) -> None:
    start_dispatching(sender.app, get_settings())


@worker_init.connect
@beat_init.connect
def size_the_database_pool(**_: Any) -> None:
    """Before the pool processes fork: each inherits these options for its own engine."""
    settings = get_settings()
    tune_engine(settings.effective_database_url, **settings.db.engine_options())


@celeryd_after_setup.connect
def announce_worker(sender: str, instance: Any, **_: Any) -> None:
    instance.quiet = True  # the banner is plain text; this event says the same as JSON
    log.info(
        "worker_started",
        hostname=sender,
        queues=sorted(queue.name for queue in instance.app.amqp.queues.consume_from.values()),
        concurrency=instance.concurrency,
    )


@worker_ready.connect
def log_warm_shutdown(sender: Any = None, **_: Any) -> None:
    """Replace Celery's SIGTERM handler (which prints a plain-text line) with one that says the
    same as a log event and then asks for the same warm shutdown."""
    hostname = getattr(sender, "hostname", None)

    def warm_shutdown(*_: Any) -> None:
        from billiard.process import current_process
        from celery.worker import state

        if current_process().name != "MainProcess":
            return  # a pool process: its parent decides
        log.info("worker_stopping", hostname=hostname, how="warm")
        try:
            worker_shutting_down.send(sender=hostname, sig="SIGTERM", how="Warm", exitcode=0)
        finally:
            state.should_stop = 0  # type: ignore[assignment]  # as Celery sets it: warm shutdown

    platforms.signals["SIGTERM"] = warm_shutdown


@task_prerun.connect
def bind_task_context(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    structlog.contextvars.bind_contextvars(task_id=task_id, task=getattr(task, "name", None))
    request_id = message_header(task, REQUEST_ID_HEADER)
    if request_id is not None:
        structlog.contextvars.bind_contextvars(request_id=request_id)
    entry = scheduled_entry(task)
    if entry is not None:
        _record(operations.record_started, entry=entry, task_name=task.name)


@task_postrun.connect
def clear_task_context(
    task: Any = None, state: str | None = None, retval: Any = None, **_: Any
) -> None:
    structlog.contextvars.unbind_contextvars("task_id", "task", "request_id")
    entry = scheduled_entry(task)
    if entry is None or state not in ("SUCCESS", "FAILURE"):
        return  # a retry: the run goes on
    if state == "SUCCESS":
        outcome, detail = "ok", json.dumps(retval, default=str, sort_keys=True)
    else:
        outcome, detail = "failed", failures.describe(retval, retries=task.request.retries)
    _record(operations.record_finished, entry=entry, outcome=outcome, detail=detail)


def scheduled_entry(task: Any) -> str | None:
    """The beat entry that fired this run, from the message's header; None when not scheduled."""
    return message_header(task, SCHEDULE_HEADER)


def _record(write: Callable[..., None], **values: Any) -> None:
    try:
        with session_scope(get_settings().effective_database_url) as session:
            write(session=session, **values)
    except Exception as exc:  # a missing record must not fail the run
        log.warning("schedule_run_not_recorded", reason=str(exc)[:200], **values)
