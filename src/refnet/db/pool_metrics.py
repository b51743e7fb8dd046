"""Database pools on the metrics: capacity, connections in use, callers waiting for one.

Gauges are moved by pool events (never read from a pool at scrape time), so with several
processes each one's figures add up in the multiprocess store.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.pool import QueuePool

from refnet.core.metrics import DB_POOL_IN_USE, DB_POOL_SIZE, DB_POOL_WAITING

SYNC_POOL = "sqlalchemy"
ASYNC_POOL = "api_reads"


class MeasuredQueuePool(QueuePool):
    """A QueuePool that counts the callers inside a checkout (waiting for, or opening, one)."""

    def _do_get(self) -> Any:
        waiting = DB_POOL_WAITING.labels(SYNC_POOL)
        waiting.inc()
        try:
            return super()._do_get()
        finally:
            waiting.dec()


def capacity(engine: Engine) -> int:
    pool = engine.pool
    return pool.size() + max(0, pool._max_overflow) if isinstance(pool, QueuePool) else 0


def measure(engine: Engine) -> Engine:
    """Count `engine`'s connections in use and add its capacity to the pool size."""
    in_use = DB_POOL_IN_USE.labels(SYNC_POOL)
    event.listen(engine, "checkout", lambda *_: in_use.inc())
    event.listen(engine, "checkin", lambda *_: in_use.dec())
    DB_POOL_SIZE.labels(SYNC_POOL).inc(capacity(engine))
    return engine


def forget(engine: Engine) -> None:
    """`engine` is being disposed: its capacity no longer counts."""
    DB_POOL_SIZE.labels(SYNC_POOL).dec(capacity(engine))
