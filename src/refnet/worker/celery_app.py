"""The one Celery application, `refnet.worker`.

With a broker (CELERY_BROKER_URL, else REDIS_URL) tasks go to per-component queues served by
`refnet worker --queue NAME`; without one (the embedded default) they run in the calling
process, eagerly, through the same task code.
"""

from __future__ import annotations

from celery import Celery
from kombu import Queue

from refnet.core.config import Settings, get_settings
from refnet.core.logging import configure_logging
from refnet.core.tasks import VISIBILITY_TIMEOUT, use_app
from refnet.worker.queues import DEFAULT_QUEUE, TASK_ROUTES, QueueName

TASK_MODULES = ["refnet.crawler.tasks", "refnet.summarizer.tasks", "refnet.generator.tasks"]


def make_celery(settings: Settings) -> Celery:
    app = Celery("refnet", include=TASK_MODULES, set_as_current=True)
    broker = settings.broker_url
    app.conf.update(
        broker_url=broker or "memory://",
        task_always_eager=broker is None,
        task_eager_propagates=True,
        task_ignore_result=True,
        task_default_queue=DEFAULT_QUEUE.value,
        task_queues=[Queue(name.value) for name in QueueName],
        task_routes=TASK_ROUTES,
        task_serializer="json",
        accept_content=["json"],
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT},
        timezone="UTC",
        enable_utc=True,
    )
    return app


configure_logging(level=get_settings().log_level, fmt=get_settings().log_format)
app = make_celery(get_settings())
app.loader.import_default_modules()
use_app(app)

import refnet.worker.signals  # noqa: E402, F401  (connects the signal handlers)
