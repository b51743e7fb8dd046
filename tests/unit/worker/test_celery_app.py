"""The one Celery application: named tasks, routing by name, policies, embedded vs stack."""

from __future__ import annotations

import pytest

from refnet.core.config import Settings
from refnet.core.errors import TransientError
from refnet.core.tasks import VISIBILITY_TIMEOUT
from refnet.worker.celery_app import make_celery

EXPECTED_QUEUES = {
    "refnet.crawler.crawl_seeds": "crawler",
    "refnet.summarizer.summarize_job": "summarizer",
    "refnet.summarizer.summarize_pending": "summarizer",
    "refnet.summarizer.summarize_papers": "summarizer",
    "refnet.generator.generate_vault": "generator",
}


def test_every_task_has_a_stable_name_and_a_queue() -> None:
    app = make_celery(Settings(redis_url="redis://127.0.0.1:6379/15"))
    app.loader.import_default_modules()
    ours = {name for name in app.tasks if name.startswith("refnet.")}
    assert ours == set(EXPECTED_QUEUES)
    for name, queue in EXPECTED_QUEUES.items():
        route = app.amqp.router.route({}, name)
        assert route["queue"].name == queue, name


def test_unrouted_tasks_go_to_maintenance() -> None:
    app = make_celery(Settings(redis_url="redis://127.0.0.1:6379/15"))
    assert app.amqp.router.route({}, "refnet.maintenance.backup_database")["queue"].name == (
        "maintenance"
    )
    assert app.conf.task_default_queue == "maintenance"


def test_without_a_broker_tasks_run_in_process() -> None:
    assert make_celery(Settings()).conf.task_always_eager is True
    assert make_celery(Settings(redis_url="redis://h:6379/0")).conf.task_always_eager is False


def test_broker_url_prefers_celery_broker_url() -> None:
    settings = Settings(redis_url="redis://cache:6379/0", celery_broker_url="amqp://mq:5672//")
    assert make_celery(settings).conf.broker_url == "amqp://mq:5672//"


@pytest.mark.parametrize("name", sorted(EXPECTED_QUEUES))
def test_tasks_are_safe_to_redeliver_and_retry_transient_errors(name: str) -> None:
    app = make_celery(Settings(redis_url="redis://127.0.0.1:6379/15"))
    app.loader.import_default_modules()
    task = app.tasks[name]
    assert task.acks_late and task.reject_on_worker_lost
    assert TransientError in task.autoretry_for
    assert task.max_retries and task.time_limit
    assert task.time_limit + (task.retry_backoff_max or 0) < VISIBILITY_TIMEOUT


def test_visibility_timeout_reaches_the_broker() -> None:
    app = make_celery(Settings(redis_url="redis://127.0.0.1:6379/15"))
    assert app.conf.broker_transport_options["visibility_timeout"] == VISIBILITY_TIMEOUT
