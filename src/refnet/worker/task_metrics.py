"""Celery tasks as Prometheus metrics, counted where each step happens.

Sent in whichever process publishes (API, beat, a worker handing on); received in the worker's
main process; started, ended and timed in the pool process that runs the task. Each publish
stamps the message with its time, so the worker can tell how long the task waited in its queue.
The worker's and the beat's exporters (`start_exporter`) serve what all their processes counted.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import structlog
from celery.signals import (
    before_task_publish,
    task_postrun,
    task_prerun,
    task_received,
    worker_process_shutdown,
)
from prometheus_client import start_http_server

from refnet.core.metrics import (
    LLM_OUTCOMES,
    LLM_REQUESTS,
    NOTE_OUTCOMES,
    NOTES_WRITTEN,
    PDF_DOWNLOADS,
    PDF_OUTCOMES,
    S2_OUTCOMES,
    S2_REQUESTS,
    TASK_QUEUE_WAIT,
    TASK_RUNTIME,
    TASKS_FAILED,
    TASKS_RECEIVED,
    TASKS_RETRIED,
    TASKS_SENT,
    TASKS_STARTED,
    TASKS_SUCCEEDED,
    bounded,
    process_exited,
    registry,
)
from refnet.worker.dispatch import message_header
from refnet.worker.queues import QueueName

log = structlog.get_logger(__name__)
SENT_AT_HEADER = "refnet_sent_at"
QUEUES = frozenset(queue.value for queue in QueueName)
OUTCOMES = {"SUCCESS": TASKS_SUCCEEDED, "FAILURE": TASKS_FAILED, "RETRY": TASKS_RETRIED}
PIPELINE_OUTCOMES: dict[str, list[tuple[Any, tuple[str, ...]]]] = {
    QueueName.CRAWLER.value: [(S2_REQUESTS, S2_OUTCOMES)],
    QueueName.SUMMARIZER.value: [(PDF_DOWNLOADS, PDF_OUTCOMES)],
    QueueName.GENERATOR.value: [(NOTES_WRITTEN, NOTE_OUTCOMES)],
}
_started: dict[str, float] = {}  # task id -> perf counter at start, in this pool process


def task_label(name: object) -> str:
    """Our task names only: a name from a malformed message is counted as "other"."""
    text = str(name) if name else ""
    return text if text.startswith("refnet.") and len(text) <= 100 else "other"


def queue_label(delivery_info: Any) -> str:
    routing_key = (delivery_info or {}).get("routing_key")
    return bounded(routing_key, QUEUES)


@before_task_publish.connect
def count_sent(
    sender: str | None = None,
    headers: dict[str, Any] | None = None,
    routing_key: str | None = None,
    **_: Any,
) -> None:
    if headers is not None:
        headers[SENT_AT_HEADER] = time.time()
    TASKS_SENT.labels(task_label(sender), bounded(routing_key, QUEUES)).inc()


@task_received.connect
def count_received(request: Any = None, **_: Any) -> None:
    TASKS_RECEIVED.labels(
        task_label(getattr(request, "name", None)),
        queue_label(getattr(request, "delivery_info", None)),
    ).inc()


@task_prerun.connect
def count_started(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    labels = _labels(task)
    TASKS_STARTED.labels(*labels).inc()
    ready_at = _ready_at(task)
    if ready_at is not None:
        TASK_QUEUE_WAIT.labels(*labels).observe(max(0.0, time.time() - ready_at))
    if task_id is not None:
        _started[task_id] = time.perf_counter()


@task_postrun.connect
def count_ended(
    task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any
) -> None:
    labels = _labels(task)
    started = _started.pop(task_id, None) if task_id is not None else None
    if started is not None:
        TASK_RUNTIME.labels(*labels).observe(time.perf_counter() - started)
    counter = OUTCOMES.get(state or "")
    if counter is not None:
        counter.labels(*labels).inc()


@worker_process_shutdown.connect
def forget_pool_process(pid: int | None = None, **_: Any) -> None:
    process_exited(pid or os.getpid())


def zero_counters(app: Any, queues: Iterable[str], *, llm_provider: str | None = None) -> None:
    """Create every series this worker can move at 0, so a rate or a ratio has a series from the
    start (a counter first seen at 1 hides that first event from `rate`). `llm_provider`: the
    provider a summarizer calls, whose outcomes are zeroed too."""
    served = set(queues) & QUEUES
    for name in list(app.tasks):
        routed = app.amqp.router.route({}, name).get("queue")
        queue = getattr(routed, "name", routed)
        if task_label(name) == "other" or queue not in served:
            continue
        for counter in (TASKS_RECEIVED, TASKS_STARTED, *OUTCOMES.values()):
            counter.labels(task_label(name), queue)
    for queue in served:
        for counter, outcomes in PIPELINE_OUTCOMES.get(queue, []):
            for outcome in outcomes:
                counter.labels(outcome)
    if llm_provider and QueueName.SUMMARIZER.value in served:
        for outcome in LLM_OUTCOMES:
            LLM_REQUESTS.labels(llm_provider, outcome)


def start_exporter(*, address: str, port: int, role: str) -> None:
    """Serve this process tree's metrics on `address:port`; a port already taken is logged and
    the process goes on without an exporter rather than failing its real work."""
    if port == 0:
        return
    try:
        start_http_server(port, addr=address, registry=registry())
    except OSError as exc:
        log.warning("metrics_exporter_not_started", role=role, port=port, reason=str(exc))
        return
    log.info("metrics_exporter_started", role=role, address=address, port=port)


def _labels(task: Any) -> tuple[str, str]:
    request = getattr(task, "request", None)
    return task_label(getattr(task, "name", None)), queue_label(
        getattr(request, "delivery_info", None)
    )


def _ready_at(task: Any) -> float | None:
    """When the task could first have started: its publishing, or its ETA (a countdown, a
    retry's delay) when that is later. None for a message without our stamp."""
    value = message_header(task, SENT_AT_HEADER)
    if value is None:
        return None
    try:
        sent_at = float(value)
    except ValueError:
        return None
    eta = getattr(task.request, "eta", None)
    try:
        due = datetime.fromisoformat(eta).timestamp() if isinstance(eta, str) else None
    except ValueError:
        due = None
    return max(sent_at, due) if due is not None else sent_at
