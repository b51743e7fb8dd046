"""Connection pools sized by DB__* settings; a pool that stays exhausted is a passing failure
that names the settings, never a hang or a crash."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
import sqlalchemy as sa

from refnet.core.config import Settings
from refnet.core.errors import TransientError
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
