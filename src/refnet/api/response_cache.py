"""Answers of the heaviest reads (paper detail, search, graph) kept in Redis for the next asker.

An answer is filed under the generation of the paper data (`refnet.db.paper_changes`) read
before it was computed and looked up under the current one, so a commit that changes papers
retires every answer computed before it. One round trip finds both: a Lua script reads the
generation and the answer filed under it. Answers are the same for every signed-in user (reads
depend on no one's role beyond reader), so they are shared.

Redis being unreachable makes every read a miss: answers come from the database, slower, and
the failure is logged once per minute at most.
"""

from __future__ import annotations

import logging
import time
from hashlib import blake2b

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from refnet.db.paper_changes import generation_key, key_prefix

log = logging.getLogger(__name__)

# KEYS[1]: the generation; ARGV: the answers' prefix, the answer's name.
_LOOKUP = """
local generation = redis.call('GET', KEYS[1]) or '0'
return {generation, redis.call('GET', ARGV[1] .. generation .. ':' .. ARGV[2])}
"""
_QUIET_SECONDS = 60.0


class ResponseCache:
    def __init__(self, redis_url: str, database_url: str, seconds: int) -> None:
        self._redis = aioredis.Redis.from_url(
            redis_url, socket_timeout=0.5, socket_connect_timeout=0.5
        )
        self._lookup = self._redis.register_script(_LOOKUP)
        self._generation_key = generation_key(database_url)
        self._answers = f"{key_prefix(database_url)}:answer:"
        self.seconds = seconds
        self._quiet_until = 0.0

    async def get(self, *name_parts: object) -> tuple[str | None, bytes | None]:
        """The current generation and the answer filed under it for this name (None when there
        is none); (None, None) when Redis cannot be reached."""
        try:
            generation, body = await self._lookup(
                keys=[self._generation_key], args=[self._answers, answer_name(name_parts)]
            )
        except RedisError as exc:
            self._complain(exc)
            return None, None
        return generation.decode(), body

    async def put(self, generation: str, body: bytes, *name_parts: object) -> None:
        key = f"{self._answers}{generation}:{answer_name(name_parts)}"
        try:
            await self._redis.set(key, body, ex=self.seconds)
        except RedisError as exc:
            self._complain(exc)

    async def close(self) -> None:
        await self._redis.aclose()

    def _complain(self, exc: RedisError) -> None:
        now = time.monotonic()
        if now >= self._quiet_until:
            log.warning("response cache unavailable, reading from the database: %s", exc)
            self._quiet_until = now + _QUIET_SECONDS


def answer_name(parts: tuple[object, ...]) -> str:
    return blake2b(repr(parts).encode(), digest_size=16).hexdigest()
