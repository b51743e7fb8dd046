"""Tasks run by one background thread: how the API serves the embedded default.

The API must answer a trigger at once, but without a broker there are no workers: tasks go to a
thread of this process, which runs them one after another with the in-process dispatcher's rules
(a task's hand-offs run after it, identical waiting tasks run once, one failure stops nothing).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Mapping
from typing import Any

import structlog
from celery import Celery

from refnet.worker.dispatch import InProcessDispatcher

log = structlog.get_logger(__name__)
_STOP = ("", "")


class BackgroundDispatcher:
    runs_in_process = True

    def __init__(self, app: Celery) -> None:
        self._inner = InProcessDispatcher(app)
        self._waiting: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="refnet-tasks", daemon=True)
        self._thread.start()

    @property
    def depth(self) -> int:
        return self._waiting.qsize()

    def send(self, task_name: str, kwargs: Mapping[str, Any], *, countdown: float | None) -> None:
        if threading.current_thread() is self._thread:
            self._inner.send(task_name, kwargs, countdown=countdown)  # a hand-off: runs next
        else:
            self._waiting.put((task_name, dict(kwargs)))

    def close(self, timeout: float = 5.0) -> None:
        """Stop after the task running now; tasks still waiting are dropped (their requests stay
        queued and are picked up again by an identical trigger after a restart)."""
        with self._waiting.mutex:
            self._waiting.queue.clear()
        self._waiting.put(_STOP)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            task_name, kwargs = self._waiting.get()
            if (task_name, kwargs) == _STOP:
                return
            try:
                self._inner.send(task_name, kwargs, countdown=None)
            except Exception:
                log.exception("background_task_failed", task=task_name)
