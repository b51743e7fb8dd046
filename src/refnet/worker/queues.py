"""Queues, and the one mapping that routes each task to its queue by name."""

from __future__ import annotations

import enum


class QueueName(enum.StrEnum):
    CRAWLER = "crawler"
    SUMMARIZER = "summarizer"
    GENERATOR = "generator"
    MAINTENANCE = "maintenance"


DEFAULT_QUEUE = QueueName.MAINTENANCE

TASK_ROUTES: dict[str, dict[str, str]] = {
    "refnet.crawler.*": {"queue": QueueName.CRAWLER.value},
    "refnet.summarizer.*": {"queue": QueueName.SUMMARIZER.value},
    "refnet.generator.*": {"queue": QueueName.GENERATOR.value},
    "refnet.maintenance.*": {"queue": QueueName.MAINTENANCE.value},
}
