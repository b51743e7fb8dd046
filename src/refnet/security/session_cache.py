"""Sessions recently found live, so trusting a token costs one Redis read, not a database query.

An entry holds what `Sessions.authorize` read from the database (user, role, session expiry) for
`TTL_SECONDS`. Revoking a session (logout, refresh-token reuse, a role change, disabling, a new
password) replaces its entry with a tombstone for as long as any entry can live, and entries are
only ever added where none is (`SET NX`): a request that read the session just before it was
revoked cannot put it back. Every process using the same Redis sees a revocation at once.

Without Redis (the embedded default) nothing is cached: each request reads the database, which
is what makes a revocation by another process (`refnet users disable`) take effect at once.
If Redis fails, the cache is skipped and the database answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import redis
import structlog

log = structlog.get_logger(__name__)

TTL_SECONDS = 10
TOMBSTONE = b"revoked"
PREFIX = "refnet:session:"


@dataclass(frozen=True, slots=True)
class LiveSession:
    user_id: int
    username: str
    role: str
    expires_at: float  # the session's end, as a POSIX timestamp


class Revoked:
    """The cache's answer for a session it knows was revoked."""


REVOKED = Revoked()


class SessionCache(Protocol):
    def get(self, session_id: str) -> LiveSession | Revoked | None: ...

    def remember(self, session_id: str, live: LiveSession) -> None: ...

    def forget(self, session_ids: Iterable[str]) -> None: ...


class NoSessionCache:
    def get(self, session_id: str) -> LiveSession | Revoked | None:
        return None

    def remember(self, session_id: str, live: LiveSession) -> None:
        return None

    def forget(self, session_ids: Iterable[str]) -> None:
        return None


class RedisSessionCache:
    def __init__(self, redis_url: str) -> None:
        self.client = redis.Redis.from_url(
            redis_url, socket_timeout=0.5, socket_connect_timeout=0.5
        )

    def get(self, session_id: str) -> LiveSession | Revoked | None:
        try:
            raw: bytes | None = self.client.get(PREFIX + session_id)  # type: ignore[assignment]
        except redis.RedisError as exc:
            log.warning("session_cache_unavailable", reason=type(exc).__name__)
            return None
        return _entry(raw)

    def remember(self, session_id: str, live: LiveSession) -> None:
        entry = json.dumps(
            {
                "user_id": live.user_id,
                "username": live.username,
                "role": live.role,
                "expires_at": live.expires_at,
            }
        )
        try:
            self.client.set(PREFIX + session_id, entry, ex=TTL_SECONDS, nx=True)
        except redis.RedisError as exc:
            log.warning("session_cache_unavailable", reason=type(exc).__name__)

    def forget(self, session_ids: Iterable[str]) -> None:
        ids = list(session_ids)
        if not ids:
            return
        try:
            with self.client.pipeline(transaction=False) as pipe:
                for session_id in ids:
                    pipe.set(PREFIX + session_id, TOMBSTONE, ex=TTL_SECONDS)
                pipe.execute()
        except redis.RedisError as exc:
            # The revocation is in the database; entries still cached lapse within the TTL.
            log.error("session_revocation_not_cached", reason=type(exc).__name__, sessions=ids)


def _entry(raw: bytes | None) -> LiveSession | Revoked | None:
    if raw is None:
        return None
    if raw == TOMBSTONE:
        return REVOKED
    return LiveSession(**json.loads(raw))


def session_cache_for(redis_url: str | None) -> SessionCache:
    return RedisSessionCache(redis_url) if redis_url else NoSessionCache()


class AsyncSessionLookup:
    """`RedisSessionCache.get` for an event loop (the API asks on every request)."""

    def __init__(self, redis_url: str) -> None:
        from redis import asyncio as aioredis

        self.client = aioredis.Redis.from_url(
            redis_url, socket_timeout=0.5, socket_connect_timeout=0.5
        )

    async def get(self, session_id: str) -> LiveSession | Revoked | None:
        try:
            raw = await self.client.get(PREFIX + session_id)
        except redis.RedisError as exc:
            log.warning("session_cache_unavailable", reason=type(exc).__name__)
            return None
        return _entry(raw)
