"""Figures read from where they are recorded, at each scrape of the API's /metrics.

The database holds beat entries' runs, failed tasks, health findings and the network itself; the
backup directory holds the last good backups; the broker knows the queues and their workers; the
certificate file knows its expiry. Every API process reads the same record, so each answers the
same. A record that cannot be read is reported (`refnet_operations_up 0`, a warning) instead of
failing the scrape, and each collector keeps its answer for a few seconds so that several
scrapers, or several API processes, do not multiply the work.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import structlog
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from refnet.core.config import Settings
from refnet.db.queries.lookups import edge_count, paper_state_counts
from refnet.db.queries.operations import (
    count_failures_by_task,
    list_findings,
    list_schedule_runs,
    summary_counts,
)
from refnet.db.queries.summaries import tokens_used_today
from refnet.db.session import read_scope
from refnet.ops.backup import BackupKind, last_good_backup

log = structlog.get_logger(__name__)
Families = list[Any]
# A scrape within this many seconds of the last one gets the same answer.
DATABASE_FIGURES_TTL = 10.0
# The network's size moves slowly and counting a million edges takes ~50 ms: once a minute.
NETWORK_FIGURES_TTL = 60.0
CERTIFICATE_TTL = 300.0


class CachedCollector(Collector):
    """Collects with `read` at most once per `ttl` seconds; one reader at a time."""

    def __init__(self, read: Callable[[], Families], ttl: float) -> None:
        self._read = read
        self._ttl = ttl
        self._lock = threading.Lock()
        self._families: Families = []
        self._read_at = -float("inf")

    def collect(self) -> Iterator[Any]:
        with self._lock:
            if time.monotonic() - self._read_at >= self._ttl:
                self._families = self._read()
                self._read_at = time.monotonic()
            return iter(self._families)


def recorded_collectors(settings: Settings) -> list[Collector]:
    """The database's and the backup directory's figures, and the certificate's expiry."""
    collectors: list[Collector] = [
        CachedCollector(lambda: database_figures(settings), DATABASE_FIGURES_TTL),
        CachedCollector(lambda: network_figures(settings), NETWORK_FIGURES_TTL),
    ]
    if settings.metrics.tls_certificate_file:
        path = settings.metrics.tls_certificate_file
        collectors.append(CachedCollector(lambda: certificate_figures(path), CERTIFICATE_TTL))
    return collectors


def database_figures(settings: Settings) -> Families:
    up = GaugeMetricFamily("refnet_operations_up", "1 when the operations records could be read.")
    try:
        families = [*_recorded(settings), *_backups(settings)]
    except Exception as exc:  # a scrape must answer even when the database is down
        log.warning("operations_metrics_unavailable", reason=type(exc).__name__)
        up.add_metric([], 0)
        return [up]
    up.add_metric([], 1)
    return [up, *families]


def _recorded(settings: Settings) -> Families:
    with read_scope(settings.effective_database_url) as session:
        runs = list_schedule_runs(session=session)
        failures = count_failures_by_task(session=session)
        findings = list_findings(session=session)
        budget = _llm_budget(settings, session)
    return [
        *_schedule(runs),
        gauge(
            "refnet_failed_tasks",
            "Tasks that failed for good and wait for a person.",
            ["task"],
            {(task,): count for task, count in sorted(failures.items())},
        ),
        *_health(findings),
        *budget,
    ]


def _schedule(runs: list[Any]) -> Families:
    by_entry = {run.entry: run for run in runs}
    return [
        _family(
            CounterMetricFamily,
            "refnet_schedule_fired",
            "Runs of each beat entry fired.",
            ["entry"],
            {(e,): run.fired_count for e, run in by_entry.items()},
        ),
        _family(
            CounterMetricFamily,
            "refnet_schedule_completed",
            "Runs of each beat entry that ended.",
            ["entry"],
            {(e,): run.completed_count for e, run in by_entry.items()},
        ),
        gauge(
            "refnet_schedule_last_fired_timestamp_seconds",
            "When each beat entry last fired (Unix time).",
            ["entry"],
            {
                (e,): run.last_fired_at.timestamp()
                for e, run in by_entry.items()
                if run.last_fired_at is not None
            },
        ),
        gauge(
            "refnet_schedule_last_run_ok",
            "1 when the entry's last run ended well, 0 when it failed.",
            ["entry"],
            {
                (e,): 1 if run.last_finished_outcome == "ok" else 0
                for e, run in by_entry.items()
                if run.last_finished_outcome in ("ok", "failed")
            },
        ),
    ]


def _health(findings: list[Any]) -> Families:
    return [
        gauge(
            "refnet_health_check_ok",
            "The latest finding of each health check.",
            ["part"],
            {(finding.part,): 1 if finding.ok else 0 for finding in findings},
        ),
        gauge(
            "refnet_health_check_timestamp_seconds",
            "When each health check last ran (Unix time).",
            ["part"],
            {(finding.part,): finding.checked_at.timestamp() for finding in findings},
        ),
    ]


def network_figures(settings: Settings) -> Families:
    """Papers by crawl state, edges, summaries by provider and status; nothing when the
    database cannot be read (`refnet_operations_up` says so)."""
    try:
        with read_scope(settings.effective_database_url) as session:
            papers = paper_state_counts(session=session)
            edges = edge_count(session=session)
            summaries = summary_counts(session=session)
    except Exception as exc:
        log.warning("network_metrics_unavailable", reason=type(exc).__name__)
        return []
    return [
        gauge(
            "refnet_papers",
            "Papers stored, by crawl state.",
            ["state"],
            {(state,): count for state, count in sorted(papers.items())},
        ),
        gauge("refnet_citation_edges", "Citation edges stored.", [], {(): edges}),
        gauge(
            "refnet_summaries",
            "Summaries by provider and status.",
            ["provider", "status"],
            dict(sorted(summaries.items())),
        ),
    ]


def _llm_budget(settings: Settings, session: Any) -> Families:
    """Today's tokens against the daily budget of the configured paid provider."""
    provider = settings.summarizer.provider
    if provider == "extractive":
        return []
    used = tokens_used_today(session=session, provider=provider)
    return [
        gauge(
            "refnet_llm_budget_tokens",
            "Daily LLM token budget (SUMMARIZER__DAILY_TOKEN_BUDGET).",
            ["provider"],
            {(provider,): settings.summarizer.daily_token_budget},
        ),
        gauge(
            "refnet_llm_budget_used_tokens",
            "LLM tokens paid for since midnight UTC.",
            ["provider"],
            {(provider,): used},
        ),
    ]


def _backups(settings: Settings) -> Families:
    last = {kind.value: last_good_backup(settings=settings, kind=kind) for kind in BackupKind}
    good = {(kind,): info for kind, info in last.items() if info is not None}
    return [
        gauge(
            "refnet_backup_last_success_timestamp_seconds",
            "When the last good backup of each kind was made (Unix time).",
            ["kind"],
            {key: info.created_at.timestamp() for key, info in good.items()},
        ),
        gauge(
            "refnet_backup_last_size_bytes",
            "Size of the last good backup.",
            ["kind"],
            {key: info.size for key, info in good.items()},
        ),
        gauge(
            "refnet_backup_last_duration_seconds",
            "How long the last good backup took to make.",
            ["kind"],
            {key: info.duration_seconds for key, info in good.items()},
        ),
    ]


def certificate_figures(path: str) -> Families:
    expiry = GaugeMetricFamily(
        "refnet_tls_certificate_expiry_timestamp_seconds",
        "When the served TLS certificate expires (Unix time).",
        labels=["file"],
    )
    try:
        decoded = ssl._ssl._test_decode_cert(path)  # type: ignore[attr-defined]
        not_after = ssl.cert_time_to_seconds(decoded["notAfter"])
    except (OSError, ssl.SSLError, KeyError, ValueError) as exc:
        log.warning("tls_certificate_unreadable", file=path, reason=str(exc)[:200])
        return []
    expiry.add_metric([path], not_after)
    return [expiry]


def gauge(
    name: str, documentation: str, labels: list[str], values: dict[tuple[str, ...], Any]
) -> GaugeMetricFamily:
    family: GaugeMetricFamily = _family(GaugeMetricFamily, name, documentation, labels, values)
    return family


def _family(
    kind: Any, name: str, documentation: str, labels: list[str], values: dict[tuple[str, ...], Any]
) -> Any:
    """A metric family of `kind` with one sample per label values in `values`."""
    family = kind(name, documentation, labels=labels)
    for label_values, value in values.items():
        family.add_metric(list(label_values), value)
    return family
