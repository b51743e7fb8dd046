"""Celery signals: every log line of a task carries its task id and name."""

from __future__ import annotations

from typing import Any

import structlog
from celery.signals import task_postrun, task_prerun


@task_prerun.connect
def bind_task_context(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    structlog.contextvars.bind_contextvars(task_id=task_id, task=getattr(task, "name", None))


@task_postrun.connect
def clear_task_context(**_: Any) -> None:
    structlog.contextvars.unbind_contextvars("task_id", "task")
