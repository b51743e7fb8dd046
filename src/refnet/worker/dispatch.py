"""Dispatchers: how a hand-off (`refnet.core.handoff.enqueue`) reaches its task.

With a broker, tasks go to the workers' queues, after their countdown. Without one (the embedded
default), `InProcessDispatcher` runs them in this process, in the order they were asked for: a
task started by another runs after its parent returns, identical requests waiting in the queue run
once, and countdowns are not waited for (a retried paper simply comes after the others). A task
that fails does not stop the others (the vault update its parent asked for still runs); the
first failure is raised once the queue is empty. Each thread has a queue of its own.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Mapping
from typing import Any

import structlog
from celery import Celery

from refnet.core.config import Settings
from refnet.core.handoff import Dispatcher, use_dispatcher

REQUEST_ID_HEADER = "refnet_request_id"


class CeleryDispatcher:
    """Sends to the queues; the request id bound to this context (an API request, or the task
    that asks for the next one) travels in a header, so one crawl's lines share it everywhere."""

    runs_in_process = False

    def __init__(self, app: Celery) -> None:
        self.app = app

    def send(self, task_name: str, kwargs: Mapping[str, Any], *, countdown: float | None) -> None:
        signature = self.app.signature(task_name, kwargs=dict(kwargs))
        options: dict[str, Any] = {}
        request_id = structlog.contextvars.get_contextvars().get("request_id")
        if request_id:
            options["headers"] = {REQUEST_ID_HEADER: str(request_id)}
        if countdown:
            options["countdown"] = countdown
        signature.apply_async(**options)


class _Queue(threading.local):
    def __init__(self) -> None:
        self.waiting: deque[tuple[str, str]] = deque()
        self.running = False


class InProcessDispatcher:
    runs_in_process = True

    def __init__(self, app: Celery) -> None:
        self.app = app
        self._queue = _Queue()

    def send(self, task_name: str, kwargs: Mapping[str, Any], *, countdown: float | None) -> None:
        queue = self._queue
        item = (task_name, json.dumps(kwargs, sort_keys=True))
        if item not in queue.waiting:
            queue.waiting.append(item)
        if queue.running:
            return  # the loop below, further up this call stack, runs it
        queue.running = True
        failure: BaseException | None = None
        try:
            while queue.waiting:
                name, arguments = queue.waiting.popleft()
                try:
                    self.app.tasks[name].apply(kwargs=json.loads(arguments), throw=True)
                except Exception as exc:
                    failure = failure or exc
        finally:
            queue.running = False
            queue.waiting.clear()
        if failure is not None:
            raise failure


def start_dispatching(app: Celery, settings: Settings) -> Dispatcher | None:
    """Send every hand-off of this process through `app`; returns the dispatcher replaced."""
    dispatcher: Dispatcher = (
        CeleryDispatcher(app) if settings.broker_url else InProcessDispatcher(app)
    )
    return use_dispatcher(dispatcher)


def message_header(task: Any, name: str) -> str | None:
    """A header of ours on the message `task` is running (Celery puts custom headers on the
    request, or in its `headers`); None when it has none."""
    request = getattr(task, "request", None)
    if request is None:
        return None
    value = getattr(request, name, None) or (request.headers or {}).get(name)
    return str(value) if value else None
