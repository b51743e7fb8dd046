"""Two running APIs shared by the package's tests: the stack (PostgreSQL, Redis as broker and
rate-limit store, no workers) and the embedded default (SQLite, tasks in the API process), both
holding the bundled sample's network around RAG, summarized, with its vault written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from refnet.db import migrate
from refnet.db.session import dispose_engines
from tests.conftest import PG_URL, REDIS_URL, _unavailable, empty_database
from tests.support.api import ApiServer, api_server, load_sample

# Databases of their own, named after the configured test ones so parallel runs never share.
API_PG_URL = f"{PG_URL}_api"
API_REDIS_URL = REDIS_URL


@pytest.fixture(scope="package")
def stack_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    try:
        empty_database(API_PG_URL)
    except sa.exc.OperationalError as exc:
        _unavailable("PostgreSQL", exc)
    try:
        redis.Redis.from_url(API_REDIS_URL).flushdb()
    except redis.RedisError as exc:
        _unavailable("Redis", exc)
    migrate.upgrade(API_PG_URL)
    dispose_engines()
    workdir = tmp_path_factory.mktemp("stack-api")
    env = {"DATABASE_URL": API_PG_URL, "REDIS_URL": API_REDIS_URL}
    load_sample(workdir, env)
    with api_server(workdir, env) as server:
        yield server
    dispose_engines()


@pytest.fixture(scope="package")
def embedded_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    workdir = tmp_path_factory.mktemp("embedded-api")
    load_sample(workdir, {})
    with api_server(workdir, {}) as server:
        yield server
    dispose_engines()


@pytest.fixture(params=["stack", "embedded"])
def api(request: pytest.FixtureRequest) -> ApiServer:
    server: ApiServer = request.getfixturevalue(f"{request.param}_api")
    return server


def workdir_of(server: ApiServer) -> Path:
    return Path(server.env["REFNET_DATA_DIR"]).parent
