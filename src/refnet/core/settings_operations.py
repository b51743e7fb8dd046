"""Settings of unattended operation: the beat schedule, the workers, backups and health checks.

Each schedule entry has its own section (`SCHEDULE__RECRAWL__TIMING=0 3 * * *`), so an operator
can turn one off, move it or size it without touching the others. A timing is an interval
(`30s`, `15m`, `6h`, `1d`, or plain seconds) or a five-field crontab read in
`SCHEDULE__TIMEZONE`.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator

INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
TIMING_EXAMPLE = 'an interval such as "30s", "15m", "6h", "1d", or a crontab such as "0 3 * * *"'
CRONTAB_FIELDS = 5
# A crontab entry whose run could not start within this long is dropped, not piled up.
CRONTAB_EXPIRY = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Timing:
    """An entry's timing, parsed: `every` (an interval) or `crontab` (five fields)."""

    every: timedelta | None = None
    crontab: tuple[str, str, str, str, str] | None = None


def parse_timing(text: str) -> Timing:
    """`text` as a Timing; ValueError saying what is accepted."""
    interval = INTERVAL.match(text)
    if interval is not None:
        seconds = float(interval.group(1)) * UNIT_SECONDS[interval.group(2)]
        if seconds < 1:
            raise ValueError(f"{text!r}: an interval must be at least one second")
        return Timing(every=timedelta(seconds=seconds))
    fields = text.split()
    if len(fields) != CRONTAB_FIELDS:
        raise ValueError(f"{text!r} is not a timing; write {TIMING_EXAMPLE}")
    from celery.schedules import crontab

    minute, hour, day_of_month, month_of_year, day_of_week = fields
    try:
        crontab(minute, hour, day_of_week, day_of_month, month_of_year)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a valid crontab ({exc})") from None
    return Timing(crontab=(minute, hour, day_of_month, month_of_year, day_of_week))


class ScheduleEntry(BaseModel):
    enabled: bool = True
    timing: str
    # Seconds a fired run may wait in the queue before it is dropped (default: one interval, or
    # an hour for a crontab), so runs missed while workers were down are not piled up.
    expires: float | None = Field(default=None, gt=0)

    @field_validator("timing")
    @classmethod
    def _a_timing(cls, value: str) -> str:
        parse_timing(value)
        return value.strip()

    @property
    def parsed(self) -> Timing:
        return parse_timing(self.timing)

    @property
    def expiry(self) -> timedelta:
        if self.expires is not None:
            return timedelta(seconds=self.expires)
        return self.parsed.every or CRONTAB_EXPIRY


class BatchedEntry(ScheduleEntry):
    # Items one run takes on (seeds, papers); a sweep queues them in small tasks.
    batch: int = Field(default=100, ge=1)


class RecrawlEntry(BatchedEntry):
    timing: str = "0 3 * * *"
    batch: int = Field(default=50, ge=1)  # watched seeds per run


class SummarySweepEntry(BatchedEntry):
    timing: str = "15m"
    batch: int = Field(default=200, ge=1)  # papers per run


class RegenerateEntry(ScheduleEntry):
    timing: str = "10m"


class DatabaseBackupEntry(ScheduleEntry):
    timing: str = "0 2 * * *"


class VaultBackupEntry(ScheduleEntry):
    timing: str = "30 2 * * *"


class RetentionEntry(ScheduleEntry):
    timing: str = "0 4 * * 0"


class HealthEntry(ScheduleEntry):
    timing: str = "5m"


class StatisticsEntry(ScheduleEntry):
    timing: str = "0 6 * * *"


class ScheduleSettings(BaseModel):
    timezone: str = "UTC"
    recrawl: RecrawlEntry = RecrawlEntry()
    summary_sweep: SummarySweepEntry = SummarySweepEntry()
    regenerate: RegenerateEntry = RegenerateEntry()
    backup_database: DatabaseBackupEntry = DatabaseBackupEntry()
    backup_vault: VaultBackupEntry = VaultBackupEntry()
    retention: RetentionEntry = RetentionEntry()
    health: HealthEntry = HealthEntry()
    statistics: StatisticsEntry = StatisticsEntry()
    # Seconds the active beat holds its Redis lock between renewals; a second beat takes over
    # this long after the first one dies.
    lock_timeout: int = Field(default=60, ge=5)

    @field_validator("timezone")
    @classmethod
    def _a_timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"SCHEDULE__TIMEZONE={value!r} is not a time zone; write e.g. UTC or Europe/Berlin"
            ) from None
        return value

    def entries(self) -> dict[str, ScheduleEntry]:
        return {name: getattr(self, name) for name in ENTRY_NAMES}


ENTRY_NAMES = (
    "recrawl",
    "summary_sweep",
    "regenerate",
    "backup_database",
    "backup_vault",
    "retention",
    "health",
    "statistics",
)


class QueueWorkerSettings(BaseModel):
    """How the worker of one queue runs (`WORKERS__<QUEUE>__…`)."""

    concurrency: int = Field(default=1, ge=1, le=64)
    # Messages a worker process reserves beyond the one it runs (Celery's prefetch multiplier).
    prefetch: int = Field(default=1, ge=1, le=100)
    # Hard limit (seconds) of tasks that have no limit of their own on this queue.
    time_limit: int = Field(default=1800, ge=10)
    # Tasks a pool process runs before it is replaced (bounds leaked memory).
    max_tasks_per_child: int = Field(default=100, ge=1)


class CrawlerWorker(QueueWorkerSettings):
    time_limit: int = Field(default=3 * 3600, ge=10)


class SummarizerWorker(QueueWorkerSettings):
    concurrency: int = Field(default=2, ge=1, le=64)
    max_tasks_per_child: int = Field(default=50, ge=1)


class WorkerSettings(BaseModel):
    crawler: CrawlerWorker = CrawlerWorker()
    summarizer: SummarizerWorker = SummarizerWorker()
    generator: QueueWorkerSettings = QueueWorkerSettings()
    maintenance: QueueWorkerSettings = QueueWorkerSettings()

    def for_queue(self, queue: str) -> QueueWorkerSettings:
        settings: QueueWorkerSettings = getattr(self, queue)
        return settings


class DatabaseSettings(BaseModel):
    """Connection pools (PostgreSQL; the embedded SQLite file needs none)."""

    # Connections each worker, beat or command process keeps open, and how many more it may
    # open at a peak (closed again when returned).
    pool_size: int = Field(default=5, ge=1, le=100)
    max_overflow: int = Field(default=5, ge=0, le=100)
    # Seconds a caller waits for a free connection before the work is retried later (503 in
    # the API) instead of queueing longer.
    pool_timeout: float = Field(default=30.0, gt=0, le=600)
    # Per API process: its request threads, the connections of their pool (and half as many
    # more at a peak) and those of its async reads. Each process of `refnet serve --workers N`
    # has its own, so the server sees up to N * 2.5 * this many from the API.
    api_connections: int = Field(default=8, ge=1, le=64)
    # Seconds one attempt to open a connection may take before it counts as the database being
    # unreachable; without it a dropped route holds a caller for minutes.
    connect_timeout: int = Field(default=5, ge=2, le=300)

    def engine_options(self) -> dict[str, Any]:
        return {
            "pool_size": self.pool_size,
            "max_overflow": self.max_overflow,
            "pool_timeout": self.pool_timeout,
            "connect_args": {"connect_timeout": self.connect_timeout},
        }

    def api_engine_options(self) -> dict[str, int | float]:
        """The API's pool (its connect arguments are the API's own)."""
        return {
            "pool_size": self.api_connections,
            "max_overflow": self.api_connections // 2,
            "pool_timeout": self.pool_timeout,
        }


class BackupSettings(BaseModel):
    # Where backups are kept; unset: `backups` under the data dir.
    dir: Path | None = None
    keep_daily: int = Field(default=7, ge=1)
    keep_weekly: int = Field(default=4, ge=0)
    keep_monthly: int = Field(default=6, ge=0)


class MetricsSettings(BaseModel):
    # Address the worker and beat exporters listen on; the API serves /metrics on its own port.
    address: str = "127.0.0.1"
    # Port of each worker's exporter (0: none). One per host or container.
    worker_port: int = Field(default=9808, ge=0, le=65535)
    # Port of the beat's exporter (0: none).
    beat_port: int = Field(default=9809, ge=0, le=65535)
    # The certificate nginx serves, readable by the API: its expiry is exported ("" = not watched).
    tls_certificate_file: str = ""


class HealthSettings(BaseModel):
    # Free space below which the data or vault volume is reported (MiB).
    min_free_mb: int = Field(default=1024, ge=0)
    # A last good backup older than this is reported (hours).
    max_backup_age_hours: float = Field(default=26.0, gt=0)
