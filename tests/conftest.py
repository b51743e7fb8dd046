"""Shared fixtures: real PostgreSQL and Redis, throwaway SQLite files, clean settings.

Services come from REFNET_TEST_DATABASE_URL / REFNET_TEST_REDIS_URL. A test whose service is down
fails and says how to start it: a skipped test would prove nothing. Under
REFNET_REQUIRE_SERVICES=1 (CI) any skipped test fails the run as well.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
import structlog
from sqlalchemy.engine import make_url

from refnet.core.config import get_settings
from refnet.db import migrate
from refnet.db.base import Base
from refnet.db.session import dispose_engines

PG_URL = os.environ.get(
    "REFNET_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/refnet_test"
)
REDIS_URL = os.environ.get("REFNET_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REQUIRE_SERVICES = os.environ.get("REFNET_REQUIRE_SERVICES") == "1"
_skipped: list[str] = []


START_COMMANDS = {
    "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "Redis": "redis-server --daemonize yes --port 6379 --save '' --appendonly no",
}


def _unavailable(what: str, exc: Exception) -> None:
    pytest.fail(f"{what} is not reachable ({exc}); start it, e.g. `{START_COMMANDS[what]}`")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if REQUIRE_SERVICES and _skipped and exitstatus == 0:
        print(f"\n{len(_skipped)} test(s) skipped with REFNET_REQUIRE_SERVICES=1: {_skipped}")
        session.exitstatus = 1


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Each test starts from default settings, in its own working directory."""
    for name in list(os.environ):
        if name.startswith(
            (
                "SEMANTIC_SCHOLAR_",
                "CRAWL__",
                "SUMMARIZER__",
                "PDF__",
                "ANTHROPIC_",
                "OPENAI_",
                "API__",
                "AUTH__",
                "RATE_LIMIT__",
                "JWT_",
                "REFNET_BOOTSTRAP_",
                "DATABASE_PASSWORD",
                "SCHEDULE__",
                "WORKERS__",
                "BACKUP__",
                "HEALTH__",
                "FLOWER_",
            )
        ) or name in (
            "DATABASE_URL",
            "REDIS_URL",
            "REFNET_DATA_DIR",
            "VAULT_DIR",
            "ENVIRONMENT",
            "CELERY_BROKER_URL",
            "LOG_LEVEL",
            "LOG_FORMAT",
        ):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    structlog.reset_defaults()  # a command run by an earlier test may have set a log level
    yield
    get_settings.cache_clear()
    dispose_engines()


def empty_database(url: str) -> None:
    """Create the PostgreSQL database if needed, with nothing in it."""
    _create_database(url)
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP SCHEMA public CASCADE"))
        connection.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def _create_database(url: str) -> None:
    parsed = make_url(url)
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.scalar(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
        )
        if not exists:
            connection.execute(sa.text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


@pytest.fixture(scope="session")
def pg_migrated() -> str:
    """A PostgreSQL database rebuilt from the migration chain once per test run."""
    try:
        empty_database(PG_URL)
    except sa.exc.OperationalError as exc:
        _unavailable("PostgreSQL", exc)
    migrate.upgrade(PG_URL)
    dispose_engines()
    return PG_URL


def truncate_all(url: str) -> None:
    engine = sa.create_engine(url)
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def pg_url(pg_migrated: str) -> Iterator[str]:
    """The test PostgreSQL database, emptied before each test."""
    truncate_all(pg_migrated)
    yield pg_migrated


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'refnet.sqlite3'}"
    migrate.upgrade(url)
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs a test once on SQLite (embedded) and once on PostgreSQL (stack)."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def redis_url() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        _unavailable("Redis", exc)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()
    client.close()
