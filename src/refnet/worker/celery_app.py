"""The one Celery application, `refnet.worker`.

With a broker (CELERY_BROKER_URL, else REDIS_URL) tasks go to per-component queues served by
`refnet worker --queue NAME`; without one (the embedded default) they run in the calling
process through the same task code (`worker.dispatch.InProcessDispatcher`).

`app` below is what `celery -A refnet.worker …` loads. Creating it configures nothing else:
logging and hand-offs are set up by the worker's signals (`worker.signals`) or by the entry point
that runs tasks in-process (`start_pipeline`).
"""

from __future__ import annotations

from celery import Celery
from kombu import Queue
from pydantic import ValidationError

from refnet.core.config import Settings, describe_settings_errors, get_settings
from refnet.core.handoff import Dispatcher
from refnet.worker.dispatch import start_dispatching
from refnet.worker.policies import task_annotations, visibility_timeout
from refnet.worker.queues import DEFAULT_QUEUE, TASK_ROUTES, QueueName
from refnet.worker.schedule import beat_schedule

TASK_MODULES = [
    "refnet.crawler.tasks",
    "refnet.summarizer.tasks",
    "refnet.generator.tasks",
    "refnet.worker.maintenance",
]


def make_celery(settings: Settings) -> Celery:
    app = Celery(
        "refnet",
        include=TASK_MODULES,
        task_cls="refnet.worker.policies:RefNetTask",
        set_as_current=True,
    )
    broker = settings.broker_url
    longest_queue_limit = max(
        settings.workers.for_queue(queue.value).time_limit for queue in QueueName
    )
    lock_timeout = settings.schedule.lock_timeout
    app.conf.update(
        broker_url=broker or "memory://",
        task_always_eager=broker is None,
        task_eager_propagates=True,
        task_ignore_result=True,
        result_expires=None,  # no results are kept, so beat has no cleanup entry to add
        task_default_queue=DEFAULT_QUEUE.value,
        task_queues=[Queue(name.value) for name in QueueName],
        task_routes=TASK_ROUTES,
        task_annotations=task_annotations(),
        task_serializer="json",
        accept_content=["json"],
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": visibility_timeout(longest_queue_limit)},
        timezone=settings.schedule.timezone,  # beat's crontabs; every stored time stays UTC
        enable_utc=True,
        beat_schedule=beat_schedule(settings),
        # RedBeat: the schedule, last runs and the one-beat lock live in Redis.
        redbeat_redis_url=settings.redis_url,
        redbeat_key_prefix="refnet:beat:",
        redbeat_lock_timeout=lock_timeout,
        beat_max_loop_interval=max(1, lock_timeout // 5),
    )
    app.loader.import_default_modules()
    return app


def start_pipeline(settings: Settings) -> Dispatcher | None:
    """Send every hand-off of this process through a new app (entry points call this); returns
    the dispatcher it replaces."""
    return start_dispatching(make_celery(settings), settings)


def _configured_app() -> Celery:
    try:
        return make_celery(get_settings())
    except ValidationError as exc:  # `celery -A refnet.worker` with a bad environment
        raise SystemExit(f"invalid configuration:\n{describe_settings_errors(exc)}") from None


app = _configured_app()

import refnet.worker.signals  # noqa: E402, F401  (connects the signal handlers)
