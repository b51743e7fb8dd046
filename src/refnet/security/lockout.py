"""Lockout after repeated failed logins, per user name and per client address.

A moving window (the `limits` library) counts failures: `max_failed_logins` for one user name,
or `max_failed_logins_per_client` from one address, within `lockout_minutes` refuse further
attempts until the oldest failure leaves the window. The counts live in Redis when REDIS_URL is
set (shared by every API process) and in memory otherwise. When Redis cannot be reached,
logins are refused (fail closed) rather than allowing unlimited guesses.

User names are counted whether or not they exist, so a lockout reveals nothing about which
accounts exist. A successful login clears its user's count but not the address's: one valid
account must not let a client guess at others without limit.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import redis
import structlog
from limits import RateLimitItemPerMinute
from limits.errors import StorageError
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from refnet.core.errors import PermanentError, TransientError

if TYPE_CHECKING:
    from refnet.core.config import Settings

log = structlog.get_logger(__name__)
KEY_PREFIX = "refnet:lockout"
REDIS_TIMEOUT = 2.0  # seconds; an unanswered login must not hang


class LockedOut(PermanentError):
    """Too many failed logins; `retry_after` is the number of seconds until the next try."""

    def __init__(self, retry_after: float) -> None:
        minutes = max(1, math.ceil(retry_after / 60))
        unit = "minute" if minutes == 1 else "minutes"
        super().__init__(f"too many failed logins; try again in {minutes} {unit}")
        self.retry_after = retry_after


class Lockout:
    def __init__(
        self,
        *,
        storage: Storage,
        max_per_user: int,
        max_per_client: int,
        window_minutes: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._limiter = MovingWindowRateLimiter(storage)
        self._per_user = RateLimitItemPerMinute(max_per_user, window_minutes, namespace="user")
        self._per_client = RateLimitItemPerMinute(
            max_per_client, window_minutes, namespace="client"
        )
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings) -> Lockout:
        """Redis storage at REDIS_URL when set, else memory (one process)."""
        if settings.redis_url:
            storage = storage_from_string(
                settings.redis_url,
                key_prefix=KEY_PREFIX,
                socket_timeout=REDIS_TIMEOUT,
                socket_connect_timeout=REDIS_TIMEOUT,
            )
        else:
            storage = storage_from_string("memory://")
        assert isinstance(storage, Storage), "a synchronous limits storage"
        auth = settings.auth
        return cls(
            storage=storage,
            max_per_user=auth.max_failed_logins,
            max_per_client=auth.max_failed_logins_per_client,
            window_minutes=auth.lockout_minutes,
        )

    def check(self, username: str, client_ip: str | None) -> None:
        """LockedOut if this user name or this address has failed too often lately."""
        with _storage_errors_refuse():
            for item, identity in self._counters(username, client_ip):
                if not self._limiter.test(item, identity):
                    reset = self._limiter.get_window_stats(item, identity).reset_time
                    retry_after = max(1.0, reset - self._clock())
                    log.info("login_locked_out", scope=item.namespace, retry_after=retry_after)
                    raise LockedOut(retry_after)

    def failed(self, username: str, client_ip: str | None) -> None:
        """Count one failed login against the user name and the address."""
        with _storage_errors_refuse():
            for item, identity in self._counters(username, client_ip):
                self._limiter.hit(item, identity)

    def succeeded(self, username: str) -> None:
        """Forget the user name's failures (the address's stay counted)."""
        with _storage_errors_refuse():
            self._limiter.clear(self._per_user, _normalize(username))

    def _counters(
        self, username: str, client_ip: str | None
    ) -> Iterator[tuple[RateLimitItemPerMinute, str]]:
        yield self._per_user, _normalize(username)
        if client_ip:
            yield self._per_client, client_ip[:64]


def _normalize(username: str) -> str:
    """A short, fixed-size key for whatever a client sent as its user name."""
    return hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]


@contextmanager
def _storage_errors_refuse() -> Iterator[None]:
    try:
        yield
    except (redis.RedisError, StorageError, OSError) as exc:
        log.warning("login_lockout_storage_unavailable", error=type(exc).__name__)
        raise TransientError("login temporarily unavailable", retry_after=5.0) from exc
