"""How deep each queue is and how many live workers consume it, as the broker sees it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from celery import Celery
from prometheus_client.core import GaugeMetricFamily

from refnet.ops.metrics import gauge
from refnet.worker.queues import QueueName

log = structlog.get_logger(__name__)
INSPECT_TIMEOUT = 1.0


@dataclass(frozen=True, slots=True)
class QueueReport:
    name: str
    depth: int | None  # None: the broker did not say
    workers: int | None


class QueueInspector:
    def __init__(self, app: Celery) -> None:
        self.app = app

    def status(self) -> list[QueueReport]:
        depths = self._depths()
        workers = self._workers()
        return [
            QueueReport(
                name=name.value,
                depth=depths.get(name.value),
                workers=None if workers is None else workers.get(name.value, 0),
            )
            for name in QueueName
        ]

    def _depths(self) -> dict[str, int]:
        depths: dict[str, int] = {}
        try:
            with self.app.connection_for_read() as connection:
                connection.ensure_connection(max_retries=1, timeout=INSPECT_TIMEOUT)  # type: ignore[arg-type]
                channel: Any = connection.default_channel
                for name in QueueName:
                    try:
                        declared = channel.queue_declare(queue=name.value, passive=True)
                    except Exception:  # not declared yet: nothing was ever queued there
                        channel = connection.channel()
                        depths[name.value] = 0
                        continue
                    depths[name.value] = int(declared.message_count)
        except Exception as exc:  # transport-specific connection errors
            log.warning("queue_depth_unavailable", reason=type(exc).__name__)
        return depths

    def _workers(self) -> dict[str, int] | None:
        try:
            replies = self.app.control.inspect(timeout=INSPECT_TIMEOUT).active_queues() or {}
        except Exception as exc:
            log.warning("worker_inspection_unavailable", reason=type(exc).__name__)
            return None
        counts: dict[str, int] = {}
        for queues in replies.values():
            for queue in queues or []:
                counts[queue["name"]] = counts.get(queue["name"], 0) + 1
        return counts

    def metric_families(self) -> list[GaugeMetricFamily]:
        """Messages waiting and live workers per queue, for /metrics; a queue the broker did
        not answer for is left out (the target-level alerts cover a broker that is down)."""
        reports = self.status()
        return [
            gauge(
                "refnet_celery_queue_length",
                "Task messages waiting in each queue.",
                ["queue"],
                {(r.name,): r.depth for r in reports if r.depth is not None},
            ),
            gauge(
                "refnet_celery_workers",
                "Live workers consuming each queue.",
                ["queue"],
                {(r.name,): r.workers for r in reports if r.workers is not None},
            ),
        ]

    def running_tasks(self) -> list[str]:
        """Tasks the live workers are running now, as "NAME on HOST"; empty if none answer."""
        try:
            replies = self.app.control.inspect(timeout=INSPECT_TIMEOUT).active() or {}
        except Exception as exc:
            log.warning("worker_inspection_unavailable", reason=type(exc).__name__)
            return []
        return [
            f"task {task['name']} on {host}"
            for host, tasks in replies.items()
            for task in tasks or []
        ]
