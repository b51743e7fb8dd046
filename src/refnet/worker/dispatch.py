"""Dispatchers: how a hand-off (`refnet.core.handoff.enqueue`) reaches its task.

With a broker, tasks go to the workers' queues, after their countdown. Without one (the embedded
default), `InProcessDispatcher` runs them in this process, in the order they were asked for: a
task started by another runs after its parent returns, identical requests waiting in the queue run
once, and countdowns are not waited for (a retried paper simply comes after the others).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping
from typing import Any

from celery import Celery

from refnet.core.config import Settings
from refnet.core.handoff import Dispatcher, use_dispatcher


class CeleryDispatcher:
    runs_in_process = False

    def __init__(self, app: Celery) -> None:
        self.app = app

    def send(self, task_name: str, kwargs: Mapping[str, Any], *, countdown: float | None) -> None:
        signature = self.app.signature(task_name, kwargs=dict(kwargs))
        if countdown:
            signature.apply_async(countdown=countdown)
        else:
            signature.apply_async()


class InProcessDispatcher:
    runs_in_process = True

    def __init__(self, app: Celery) -> None:
        self.app = app
        self._waiting: deque[tuple[str, str]] = deque()
        self._running = False

    def send(self, task_name: str, kwargs: Mapping[str, Any], *, countdown: float | None) -> None:
        item = (task_name, json.dumps(kwargs, sort_keys=True))
        if item not in self._waiting:
            self._waiting.append(item)
        if self._running:
            return  # the loop below, further up this call stack, runs it
        self._running = True
        try:
            while self._waiting:
                name, arguments = self._waiting.popleft()
                self.app.tasks[name].apply(kwargs=json.loads(arguments), throw=True)
        finally:
            self._running = False
            self._waiting.clear()


def start_dispatching(app: Celery, settings: Settings) -> Dispatcher | None:
    """Send every hand-off of this process through `app`; returns the dispatcher replaced."""
    dispatcher: Dispatcher = (
        CeleryDispatcher(app) if settings.broker_url else InProcessDispatcher(app)
    )
    return use_dispatcher(dispatcher)
