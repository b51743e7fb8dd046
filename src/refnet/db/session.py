"""Engine per process, session per unit of work.

Failures that pass by themselves (a deadlock, a serialization conflict, a dropped or refused
connection, a locked SQLite file) leave `session_scope` as `TransientError`, so every caller
retries them like any other passing failure; the transaction was rolled back, and repeating it
is safe because every unit of work is idempotent.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from refnet.core.errors import TransientError
from refnet.db import (
    paper_changes,  # noqa: F401  (its session events see every commit)
    pool_metrics,
)
from refnet.db.pool_metrics import MeasuredQueuePool

# SQLSTATEs that say "try again": serialization failure, deadlock, lock not available, the
# server shutting down or starting, too many connections. Class 08 is any connection exception.
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03", "57P01", "57P02", "57P03", "53300"})
# psycopg's connection failures carry no SQLSTATE; these say it is the configuration (a wrong
# name, user or password), not an outage.
_MISCONFIGURED = (
    "does not exist",
    "authentication failed",
    "no password supplied",
    "permission denied",
    "no pg_hba.conf entry",
)


def _enable_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


_ENGINES: dict[str, Engine] = {}
_ENGINE_OPTIONS: dict[str, dict[str, Any]] = {}


def tune_engine(url: str, **options: Any) -> None:
    """Pool options (`pool_size`, `max_overflow`, `pool_pre_ping`) for this process's engine
    of `url`, from its next creation (an existing engine is closed)."""
    _ENGINE_OPTIONS[url] = options
    engine = _ENGINES.pop(url, None)
    if engine is not None:
        pool_metrics.forget(engine)
        engine.dispose()
        _session_factory.cache_clear()
        _read_factory.cache_clear()


def get_engine(url: str) -> Engine:
    engine = _ENGINES.get(url)
    if engine is None:
        engine = _ENGINES[url] = _create_engine(url)
    return engine


def _create_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _enable_sqlite_pragmas)
        return engine
    options = {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 5}
    options |= _ENGINE_OPTIONS.get(url, {})
    return pool_metrics.measure(create_engine(url, poolclass=MeasuredQueuePool, **options))


@lru_cache(maxsize=8)
def _session_factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back when it raises."""
    with _scope(_session_factory(url)()) as session:
        yield session


@lru_cache(maxsize=8)
def _read_factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=_read_engine(url), expire_on_commit=False)


def _read_engine(url: str) -> Engine:
    return get_engine(url).execution_options(isolation_level="AUTOCOMMIT")


@contextmanager
def read_connection(url: str) -> Iterator[Connection]:
    """`read_scope` without the ORM session's bookkeeping, for the hottest reads."""
    try:
        with _read_engine(url).connect() as connection:
            yield connection
    except sa_exc.TimeoutError as exc:
        raise _pool_exhausted() from exc
    except sa_exc.DBAPIError as exc:
        if is_transient(exc):
            raise TransientError(f"database unavailable or busy: {_first_line(exc)}") from exc
        raise


@contextmanager
def read_scope(url: str) -> Iterator[Session]:
    """Reads without a transaction around them: each statement sees the latest committed data,
    and no BEGIN/COMMIT round trips are paid. For the API's reads; never for writes."""
    with _scope(_read_factory(url)()) as session:
        yield session


@contextmanager
def _scope(session: Session) -> Iterator[Session]:
    try:
        yield session
        session.commit()
    except sa_exc.TimeoutError as exc:
        _rollback_quietly(session)
        raise _pool_exhausted() from exc
    except sa_exc.DBAPIError as exc:
        _rollback_quietly(session)
        if is_transient(exc):
            raise TransientError(f"database unavailable or busy: {_first_line(exc)}") from exc
        raise
    except BaseException:
        _rollback_quietly(session)
        raise
    finally:
        session.close()


def is_transient(exc: sa_exc.DBAPIError) -> bool:
    if exc.connection_invalidated:
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate:
        return sqlstate in TRANSIENT_SQLSTATES or sqlstate.startswith("08")
    if not isinstance(exc, sa_exc.OperationalError):
        return False
    text = str(exc.orig).lower()
    if "database is locked" in text or "database table is locked" in text:
        return True  # SQLite: another writer held the file past the busy timeout
    # psycopg: the server could not be reached or went away (connection refused, reset, closed)
    is_psycopg = type(exc.orig).__module__.startswith("psycopg")
    return is_psycopg and not any(reason in text for reason in _MISCONFIGURED)


def _pool_exhausted() -> TransientError:
    return TransientError(
        "database busy: every pooled connection of this process stayed in use for "
        "DB__POOL_TIMEOUT seconds; try again later (or raise DB__POOL_SIZE, DB__MAX_OVERFLOW)"
    )


def _first_line(exc: sa_exc.DBAPIError) -> str:
    return (str(exc.orig).strip().splitlines() or [type(exc.orig).__name__])[0]


def _rollback_quietly(session: Session) -> None:
    with suppress(sa_exc.DBAPIError):  # the connection is gone; the pool discards it
        session.rollback()


def dispose_engines() -> None:
    """Close pooled connections and forget engines (tests and forked workers)."""
    for engine in _ENGINES.values():
        pool_metrics.forget(engine)
        engine.dispose()
    _ENGINES.clear()
    _session_factory.cache_clear()
    _read_factory.cache_clear()
