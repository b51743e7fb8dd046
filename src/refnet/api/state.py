"""What the running API holds for its lifetime, built once at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from refnet.api.edge import Network, parse_networks
from refnet.api.ratelimit import RateLimits
from refnet.api.response_cache import ResponseCache
from refnet.core.config import Settings
from refnet.db.async_reads import AsyncReads
from refnet.ops.metrics import OperationsCollector
from refnet.security.session_cache import AsyncSessionLookup
from refnet.security.sessions import Sessions
from refnet.worker.background import BackgroundDispatcher
from refnet.worker.status import QueueInspector


@dataclass
class ApiState:
    settings: Settings
    database_url: str
    sessions: Sessions
    rate_limits: RateLimits
    metrics_networks: tuple[Network, ...]
    session_lookup: AsyncSessionLookup | None  # with Redis: sessions recently found live
    response_cache: ResponseCache | None  # with Redis: detail, search and graph answers
    operations_metrics: OperationsCollector  # schedule, failures, backups, health on /metrics
    async_reads: AsyncReads | None = None  # PostgreSQL: detail, search, graph on the event loop
    inspector: QueueInspector | None = None  # with a broker
    background: BackgroundDispatcher | None = None  # embedded: tasks run in this process

    @classmethod
    def build(cls, settings: Settings) -> ApiState:
        return cls(
            settings=settings,
            database_url=settings.effective_database_url,
            sessions=Sessions.from_settings(settings),
            rate_limits=RateLimits(settings),
            metrics_networks=parse_networks(settings.api.metrics_networks),
            operations_metrics=OperationsCollector(settings),
            session_lookup=AsyncSessionLookup(settings.redis_url) if settings.redis_url else None,
            response_cache=(
                ResponseCache(
                    settings.redis_url,
                    settings.effective_database_url,
                    settings.api.response_cache_seconds,
                )
                if settings.redis_url and settings.api.response_cache_seconds > 0
                else None
            ),
        )
