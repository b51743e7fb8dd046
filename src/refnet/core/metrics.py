"""Prometheus metrics shared by every process.

Names follow Prometheus conventions (`refnet_` prefix, base units, `_total` counters) and labels
stay low-cardinality: a route template, a queue, a task name, an outcome from a fixed set; never
an id, a title or anything else a user typed. Processes that fork (the API's server processes,
prefork Celery workers) write to PROMETHEUS_MULTIPROC_DIR, which `prepare_multiprocess_dir`
empties at start so nothing a crashed process left behind is counted twice; `render` sums it.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

# prometheus_client writes to PROMETHEUS_MULTIPROC_DIR as soon as it is imported: a directory
# named there but not made yet (a fresh volume) would stop every process at start.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

import prometheus_client.values
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# What prepare_multiprocess_dir makes in the base, and what prometheus_client writes there itself.
PROCESS_DIR = re.compile(r"(?:api|worker|beat)-(?P<pid>\d+)")
PROCESS_FILE = re.compile(r"(?:counter|gauge_\w+|histogram|summary)_(?P<pid>\d+)\.db")
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER = "other"  # what a label value outside its fixed set is counted as

HTTP_REQUESTS = Counter(
    "refnet_http_requests_total",
    "HTTP requests answered, by method, route template and status class (2xx, 4xx, ...).",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "refnet_http_request_duration_seconds",
    "Time from receiving a request to sending the end of its response.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
HTTP_IN_FLIGHT = Gauge(
    "refnet_http_requests_in_flight",
    "Requests being answered now.",
    multiprocess_mode="livesum",
)

_TASK_LABELS = ["task", "queue"]
TASKS_SENT = Counter("refnet_celery_tasks_sent", "Task messages published.", _TASK_LABELS)
TASKS_RECEIVED = Counter(
    "refnet_celery_tasks_received", "Task messages a worker took from its queue.", _TASK_LABELS
)
TASKS_STARTED = Counter("refnet_celery_tasks_started", "Task runs started.", _TASK_LABELS)
TASKS_SUCCEEDED = Counter(
    "refnet_celery_tasks_succeeded", "Task runs that ended well.", _TASK_LABELS
)
TASKS_FAILED = Counter("refnet_celery_tasks_failed", "Task runs that failed.", _TASK_LABELS)
TASKS_RETRIED = Counter(
    "refnet_celery_tasks_retried", "Task runs that ended by scheduling a retry.", _TASK_LABELS
)
TASK_RUNTIME = Histogram(
    "refnet_celery_task_runtime_seconds",
    "How long a task run took.",
    _TASK_LABELS,
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 180, 600, 1800, 3600),
)
TASK_QUEUE_WAIT = Histogram(
    "refnet_celery_task_queue_wait_seconds",
    "Time from publishing a task to a worker starting it.",
    _TASK_LABELS,
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14400),
)
BEAT_TICK_NAME = "refnet_beat_tick_timestamp_seconds"  # read by `refnet probe beat`
BEAT_TICK = Gauge(
    BEAT_TICK_NAME,
    "When the beat last looked at its schedule (Unix time).",
    multiprocess_mode="max",
)

S2_OUTCOMES = ("ok", "rate_limited", "server_error", "client_error", "network_error")
PDF_OUTCOMES = ("fetched", "unavailable", "failed", "retrying")
NOTE_OUTCOMES = ("written", "unchanged", "failed", "removed")
S2_REQUESTS = Counter(
    "refnet_s2_requests",
    "Semantic Scholar requests by outcome (ok, rate_limited, server_error, client_error, "
    "network_error).",
    ["outcome"],
)
S2_RATE_LIMIT_WAIT = Counter(
    "refnet_s2_rate_limit_wait_seconds",
    "Seconds spent waiting on the shared Semantic Scholar rate limiter and Retry-After.",
)
LLM_OUTCOMES = ("ok", "transient_error", "permanent_error")
LLM_REQUESTS = Counter(
    "refnet_llm_requests",
    "LLM calls by provider and outcome (ok; transient_error: timeouts, 429, 5xx, tried again "
    "later; permanent_error).",
    ["provider", "outcome"],
)
LLM_TOKENS = Counter(
    "refnet_llm_tokens",
    "LLM tokens paid for, by provider and direction.",
    ["provider", "direction"],
)
LLM_COST = Counter(
    "refnet_llm_cost_dollars",
    "Estimated LLM cost from list prices (unknown models count nothing).",
    ["provider"],
)
PDF_DOWNLOADS = Counter(
    "refnet_pdf_downloads",
    "Open-access PDF fetches by outcome (fetched, unavailable, failed, retrying).",
    ["outcome"],
)
NOTES_WRITTEN = Counter(
    "refnet_vault_notes_written",
    "Vault notes by what a generation did to them (written, unchanged, failed, removed).",
    ["outcome"],
)

_POOL_LABELS = ["pool"]
DB_POOL_SIZE = Gauge(
    "refnet_db_pool_size_connections",
    "Connections a database pool may hold (its size plus overflow).",
    _POOL_LABELS,
    multiprocess_mode="livesum",
)
DB_POOL_IN_USE = Gauge(
    "refnet_db_pool_in_use_connections",
    "Pooled database connections checked out now.",
    _POOL_LABELS,
    multiprocess_mode="livesum",
)
DB_POOL_WAITING = Gauge(
    "refnet_db_pool_waiting_requests",
    "Callers waiting for a pooled database connection now.",
    _POOL_LABELS,
    multiprocess_mode="livesum",
)


# Metrics without labels hold their value from creation on.
_UNLABELLED = [
    metric
    for metric in list(globals().values())
    if isinstance(metric, MetricWrapperBase) and not metric._labelnames
]


def bounded(value: str | None, allowed: Iterable[str]) -> str:
    """`value` when it is one of `allowed`, else "other": a label never takes an arbitrary
    string (a user's method name, a queue named in a malformed message)."""
    return value if value is not None and value in allowed else OTHER


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status <= 599 else OTHER


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    method = bounded(method, HTTP_METHODS)
    HTTP_REQUESTS.labels(method, route, status_class(status)).inc()
    HTTP_LATENCY.labels(method, route).observe(seconds)


def prepare_multiprocess_dir(role: str) -> Path:
    """Give this process tree (the API's server processes, a worker and its pool, the beat) an
    empty directory of its own, `<base>/<role>-<pid>`, and point PROMETHEUS_MULTIPROC_DIR at it
    for the children. The base is PROMETHEUS_MULTIPROC_DIR as this process found it, else
    `$TMPDIR/refnet-metrics`.

    Directories of RefNet processes that are gone are removed, and the files this process and
    dead ones wrote in the base itself: what a crashed run left is never summed with ours, while
    live processes of other roles sharing the base keep theirs and anything else is left alone.
    Call it in the parent before any child starts. prometheus_client chose its value store when
    first imported: it is chosen again, and the metrics without labels are made again in it."""
    base = _base()
    base.mkdir(parents=True, exist_ok=True)
    for path in base.iterdir():
        directory = PROCESS_DIR.fullmatch(path.name)
        if directory and path.is_dir() and not _alive(int(directory["pid"])):
            shutil.rmtree(path, ignore_errors=True)
        store = PROCESS_FILE.fullmatch(path.name)
        if store and (int(store["pid"]) == os.getpid() or not _alive(int(store["pid"]))):
            path.unlink(missing_ok=True)
    own = base / f"{role}-{os.getpid()}"
    shutil.rmtree(own, ignore_errors=True)
    own.mkdir()
    os.environ[MULTIPROC_ENV] = str(own)
    prometheus_client.values.ValueClass = prometheus_client.values.get_value_class()  # type: ignore[no-untyped-call]
    for metric in _UNLABELLED:
        metric._metric_init()  # type: ignore[no-untyped-call]  # re-made in the new store
    return own


def _base() -> Path:
    found = os.environ.get(MULTIPROC_ENV)
    if not found:
        return Path(tempfile.gettempdir()) / "refnet-metrics"
    named = PROCESS_DIR.fullmatch(Path(found).name)
    if named and int(named["pid"]) == os.getpid():
        return Path(found).parent  # prepared before, in this process: the same base again
    return Path(found)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # a run before this one that had our number (a container's pid 1)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_exited(pid: int) -> None:
    """Drop a finished child's live gauges (in flight, pool use) from the sums."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def registry() -> CollectorRegistry:
    """What an exporter serves: every process's files in multiprocess mode, else this one."""
    if not os.environ.get(MULTIPROC_ENV):
        return prometheus_client.REGISTRY
    summed = CollectorRegistry()
    multiprocess.MultiProcessCollector(summed)  # type: ignore[no-untyped-call]
    return summed


def render(extra: Iterable[Collector] = ()) -> tuple[bytes, str]:
    """The exposition text of this process, or of every process sharing the multiprocess dir,
    followed by what `extra` collects (figures read from a shared record, the same in every
    process)."""
    payload = generate_latest(registry())
    shared = CollectorRegistry(auto_describe=False)
    for collector in extra:
        shared.register(collector)
    return payload + generate_latest(shared), CONTENT_TYPE_LATEST
