"""Prometheus metrics shared by every process.

Names follow Prometheus conventions (`refnet_` prefix, base units, `_total` counters) and labels
stay low-cardinality: a route template, never a path with ids in it. With several server
processes, PROMETHEUS_MULTIPROC_DIR names a directory they all write to, and `render` sums them.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import Collector

HTTP_REQUESTS = Counter(
    "refnet_http_requests_total",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "refnet_http_request_duration_seconds",
    "Time from receiving a request to sending the end of its response.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_LATENCY.labels(method, route).observe(seconds)


def render(extra: Collector | None = None) -> tuple[bytes, str]:
    """The exposition text of this process, or of every process sharing the multiprocess dir,
    followed by what `extra` collects (metrics read from a shared record, the same in every
    process)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        payload = generate_latest(registry)
    else:
        payload = generate_latest()
    if extra is not None:
        shared = CollectorRegistry(auto_describe=False)
        shared.register(extra)
        payload += generate_latest(shared)
    return payload, CONTENT_TYPE_LATEST
