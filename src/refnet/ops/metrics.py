"""Operations as Prometheus metrics, read from where they are recorded at each scrape.

Beat entries' runs (`schedule_runs`), failed tasks waiting (`task_failures`), the last good
backup of each kind (its metadata file) and the latest health findings (`health_findings`). The
database and the backup directory are the record, so every API process answers the same, and a
scrape while the database is down reports `refnet_operations_up 0` instead of failing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import structlog
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from refnet.core.config import Settings
from refnet.db.queries.operations import list_failures, list_findings, list_schedule_runs
from refnet.db.session import read_scope
from refnet.ops.backup import BackupKind, last_good_backup

log = structlog.get_logger(__name__)
MAX_FAILURES_COUNTED = 10_000


class OperationsCollector(Collector):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def collect(self) -> Iterator[Any]:
        up = GaugeMetricFamily(
            "refnet_operations_up", "1 when the operations records could be read."
        )
        try:
            families = [*self._recorded(), *self._backups()]
        except Exception as exc:  # a scrape must answer even when the database is down
            log.warning("operations_metrics_unavailable", reason=type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _recorded(self) -> list[Any]:
        with read_scope(self.settings.effective_database_url) as session:
            runs = list_schedule_runs(session=session)
            failures = list_failures(session=session, limit=MAX_FAILURES_COUNTED)
            findings = list_findings(session=session)
        fired = CounterMetricFamily(
            "refnet_schedule_fired", "Runs of each beat entry fired.", labels=["entry"]
        )
        completed = CounterMetricFamily(
            "refnet_schedule_completed", "Runs of each beat entry that ended.", labels=["entry"]
        )
        last_fired = GaugeMetricFamily(
            "refnet_schedule_last_fired_timestamp_seconds",
            "When each beat entry last fired (Unix time).",
            labels=["entry"],
        )
        last_ok = GaugeMetricFamily(
            "refnet_schedule_last_run_ok",
            "1 when the entry's last run ended well, 0 when it failed.",
            labels=["entry"],
        )
        for run in runs:
            fired.add_metric([run.entry], run.fired_count)
            completed.add_metric([run.entry], run.completed_count)
            if run.last_fired_at is not None:
                last_fired.add_metric([run.entry], run.last_fired_at.timestamp())
            if run.last_outcome in ("ok", "failed"):
                last_ok.add_metric([run.entry], 1 if run.last_outcome == "ok" else 0)
        waiting = GaugeMetricFamily(
            "refnet_failed_tasks",
            "Tasks that failed for good and wait for a person.",
            labels=["task"],
        )
        for task, count in sorted(Counter(f.task_name for f in failures).items()):
            waiting.add_metric([task], count)
        health = GaugeMetricFamily(
            "refnet_health_check_ok", "The latest finding of each health check.", labels=["part"]
        )
        checked = GaugeMetricFamily(
            "refnet_health_check_timestamp_seconds",
            "When each health check last ran (Unix time).",
            labels=["part"],
        )
        for finding in findings:
            health.add_metric([finding.part], 1 if finding.ok else 0)
            checked.add_metric([finding.part], finding.checked_at.timestamp())
        return [fired, completed, last_fired, last_ok, waiting, health, checked]

    def _backups(self) -> list[Any]:
        made = GaugeMetricFamily(
            "refnet_backup_last_success_timestamp_seconds",
            "When the last good backup of each kind was made (Unix time).",
            labels=["kind"],
        )
        size = GaugeMetricFamily(
            "refnet_backup_last_size_bytes", "Size of the last good backup.", labels=["kind"]
        )
        duration = GaugeMetricFamily(
            "refnet_backup_last_duration_seconds",
            "How long the last good backup took to make.",
            labels=["kind"],
        )
        for kind in BackupKind:
            info = last_good_backup(settings=self.settings, kind=kind)
            if info is None:
                continue
            made.add_metric([kind.value], info.created_at.timestamp())
            size.add_metric([kind.value], info.size)
            duration.add_metric([kind.value], info.duration_seconds)
        return [made, size, duration]
