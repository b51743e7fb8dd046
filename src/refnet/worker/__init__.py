"""The Celery application: `celery -A refnet.worker worker -Q crawler` finds `app` here.

`app` is created on first access, so importing `refnet.worker.queues` stays cheap.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "app":
        from refnet.worker.celery_app import app

        return app
    raise AttributeError(name)
