"""What the running API holds for its lifetime, built once at start-up."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client.registry import Collector

from refnet.api.edge import Network, parse_networks
from refnet.api.ratelimit import RateLimits
from refnet.api.response_cache import ResponseCache
from refnet.core.config import Settings
from refnet.db.async_reads import AsyncReads
from refnet.ops.metrics import CachedCollector, recorded_collectors
from refnet.security.session_cache import AsyncSessionLookup
from refnet.security.sessions import Sessions
from refnet.worker.background import BackgroundDispatcher
from refnet.worker.status import QueueInspector

# Queue lengths and live workers ask the broker (a one-second broadcast): at most this often.
BROKER_TTL = 10.0


@dataclass
class ApiState:
    settings: Settings
    database_url: str
    sessions: Sessions
    rate_limits: RateLimits
    metrics_networks: tuple[Network, ...]
    session_lookup: AsyncSessionLookup | None  # with Redis: sessions recently found live
    response_cache: ResponseCache | None  # with Redis: detail, search and graph answers
    async_reads: AsyncReads | None = None  # PostgreSQL: detail, search, graph on the event loop
    inspector: QueueInspector | None = None  # with a broker
    background: BackgroundDispatcher | None = None  # embedded: tasks run in this process
    _metrics: list[Collector] | None = field(default=None, repr=False)

    @classmethod
    def build(cls, settings: Settings) -> ApiState:
        return cls(
            settings=settings,
            database_url=settings.effective_database_url,
            sessions=Sessions.from_settings(settings),
            rate_limits=RateLimits(settings),
            metrics_networks=parse_networks(settings.api.metrics_networks),
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

    def metrics_collectors(self) -> list[Collector]:
        """What /metrics reads from the database, the broker and the certificate (made at the
        first scrape, once the dispatcher has chosen the broker)."""
        if self._metrics is None:
            self._metrics = recorded_collectors(self.settings)
            if self.inspector is not None:
                self._metrics.append(CachedCollector(self.inspector.metric_families, BROKER_TTL))
        return self._metrics
