"""Connection pools sized by DB__* settings; a pool that stays exhausted is a passing failure
that names the settings, never a hang or a crash."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
import sqlalchemy as sa

from refnet.core.config import Settings
from refnet.core.errors import TransientError
from refnet.db.async_reads import AsyncReads
from refnet.db.session import dispose_engines, session_scope, tune_engine


@pytest.fixture
def small_pool(pg_url: str) -> Iterator[str]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=pg_url,
        db={"pool_size": 2, "max_overflow": 1, "pool_timeout": 0.5},
    )
    tune_engine(pg_url, **settings.db.engine_options())
    yield pg_url
    tune_engine(pg_url)
    dispose_engines()


def test_a_process_holds_at_most_pool_size_plus_overflow_connections(small_pool: str) -> None:
    with ExitStack() as held:
        backends = set()
        for _ in range(3):
            session = held.enter_context(session_scope(small_pool))
            backends.add(session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())
        assert len(backends) == 3

        started = time.monotonic()
        with pytest.raises(TransientError) as caught, session_scope(small_pool) as fourth:
            fourth.execute(sa.text("SELECT 1"))
        waited = time.monotonic() - started

    assert 0.4 < waited < 5
    assert "database busy" in str(caught.value)
    assert "DB__POOL_TIMEOUT" in str(caught.value) and "DB__POOL_SIZE" in str(caught.value)


def test_a_connection_given_back_serves_the_next_caller(small_pool: str) -> None:
    with ExitStack() as held:
        for _ in range(3):
            held.enter_context(session_scope(small_pool)).execute(sa.text("SELECT 1"))
    for _ in range(10):
        with session_scope(small_pool) as session:
            assert session.execute(sa.text("SELECT 1")).scalar_one() == 1


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A PostgreSQL URL whose server accepts the connection and then never says a word (a
    stalled host, a half-open route)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"postgresql+psycopg://refnet@127.0.0.1:{listener.getsockname()[1]}/refnet"


def test_a_database_that_never_answers_is_given_up_on_after_the_connect_timeout(
    silent_server: str,
) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=silent_server,
        db={"connect_timeout": 2},
    )
    tune_engine(silent_server, **settings.db.engine_options())
    started = time.monotonic()
    try:
        with pytest.raises(TransientError), session_scope(silent_server) as session:
            session.execute(sa.text("SELECT 1"))
        synchronous = time.monotonic() - started

        async def read() -> None:
            reads = AsyncReads(silent_server, size=1, connect_timeout=2)
            try:
                await reads.paper_detail("0" * 40)
            finally:
                await reads.close()

        started = time.monotonic()
        with pytest.raises(TransientError):
            asyncio.run(read())
        asynchronous = time.monotonic() - started
    finally:
        tune_engine(silent_server)
        dispose_engines()
    assert 1.5 < synchronous < 6 and 1.5 < asynchronous < 6, (synchronous, asynchronous)
