"""How long a task waited in its queue: from its publishing, or from its ETA when it was sent with
a countdown (a retry's delay is not time spent waiting for a worker)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from types import SimpleNamespace

from prometheus_client import REGISTRY

from refnet.worker.task_metrics import SENT_AT_HEADER, count_ended, count_started

TASK = "refnet.maintenance.report_statistics"


def waited(task_id: str, *, sent_ago: float, eta_ago: float | None) -> float:
    """The queue wait `count_started` observes for a task sent `sent_ago` seconds ago."""
    now = time.time()
    eta = None if eta_ago is None else datetime.fromtimestamp(now - eta_ago, UTC).isoformat()
    request = SimpleNamespace(
        headers={SENT_AT_HEADER: now - sent_ago},
        eta=eta,
        delivery_info={"routing_key": "maintenance"},
    )
    task = SimpleNamespace(name=TASK, request=request)
    labels = {"task": TASK, "queue": "maintenance"}
    before = REGISTRY.get_sample_value("refnet_celery_task_queue_wait_seconds_sum", labels) or 0
    count_started(task_id=task_id, task=task)
    count_ended(task_id=task_id, task=task, state="SUCCESS")
    after = REGISTRY.get_sample_value("refnet_celery_task_queue_wait_seconds_sum", labels)
    assert after is not None
    return after - before


def test_the_wait_of_a_task_sent_for_now_counts_from_its_publishing() -> None:
    assert 9.5 < waited("now", sent_ago=10, eta_ago=None) < 11


def test_the_wait_of_a_task_sent_with_a_countdown_counts_from_its_eta() -> None:
    assert 1.5 < waited("countdown", sent_ago=10, eta_ago=2) < 3


def test_a_message_without_the_stamp_observes_no_wait() -> None:
    request = SimpleNamespace(headers={}, eta=None, delivery_info={"routing_key": "maintenance"})
    task = SimpleNamespace(name=TASK, request=request)
    labels = {"task": TASK, "queue": "maintenance"}
    before = REGISTRY.get_sample_value("refnet_celery_task_queue_wait_seconds_count", labels) or 0
    count_started(task_id="unstamped", task=task)
    count_ended(task_id="unstamped", task=task, state="SUCCESS")
    after = REGISTRY.get_sample_value("refnet_celery_task_queue_wait_seconds_count", labels) or 0
    assert after == before
