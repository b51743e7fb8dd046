"""What the running API holds for its lifetime, built once at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from refnet.api.edge import Network, parse_networks
from refnet.api.ratelimit import RateLimits
from refnet.core.config import Settings
from refnet.security.lockout import Lockout
from refnet.security.sessions import Sessions
from refnet.security.tokens import Keyring
from refnet.worker.background import BackgroundDispatcher
from refnet.worker.status import QueueInspector


@dataclass
class ApiState:
    settings: Settings
    database_url: str
    sessions: Sessions
    rate_limits: RateLimits
    metrics_networks: tuple[Network, ...]
    inspector: QueueInspector | None = None  # with a broker
    background: BackgroundDispatcher | None = None  # embedded: tasks run in this process

    @classmethod
    def build(cls, settings: Settings) -> ApiState:
        url = settings.effective_database_url
        sessions = Sessions(
            database_url=url,
            keyring=Keyring.from_settings(settings),
            auth=settings.auth,
            lockout=Lockout.from_settings(settings),
        )
        return cls(
            settings=settings,
            database_url=url,
            sessions=sessions,
            rate_limits=RateLimits(settings),
            metrics_networks=parse_networks(settings.api.metrics_networks),
        )
