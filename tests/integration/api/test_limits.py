"""Rate limits as clients meet them: a read limit that two API processes sharing Redis hold
together, per user; the sign-in limit per client address (with X-Forwarded-For believed only
from a configured proxy); and what `/ready` and the API say when Redis is gone.

These servers use a PostgreSQL database of their own, so the shared stack's data is untouched.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
import sqlalchemy as sa

from refnet.db import migrate
from refnet.db.session import dispose_engines
from refnet.security.roles import Role
from tests.conftest import PG_URL, REDIS_URL, _unavailable, empty_database
from tests.support.api import PASSWORD, ApiServer, api_server


@pytest.fixture(scope="module")
def limits_db() -> Iterator[str]:
    """A PostgreSQL database for this module alone, empty and migrated."""
    base, name = PG_URL.rsplit("/", 1)
    url = f"{base}/{name}_api_limits"
    try:
        empty_database(url)
    except sa.exc.OperationalError as exc:
        _unavailable("PostgreSQL", exc)
    migrate.upgrade(url)
    dispose_engines()
    yield url
    dispose_engines()


@pytest.fixture
def shared_redis() -> Iterator[str]:
    """The test Redis database, emptied: no counter from an earlier run survives."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    except redis.RedisError as exc:
        _unavailable("Redis", exc)
    yield REDIS_URL
    client.flushdb()
    client.close()


def folder(parent: Path, name: str) -> Path:
    path = parent / name
    path.mkdir()
    return path


def assert_limited(answer: httpx.Response, limit: int) -> None:
    assert answer.status_code == 429, answer.text
    assert answer.json()["error"] == "rate_limited"
    assert answer.headers["ratelimit-limit"] == str(limit)
    assert answer.headers["ratelimit-remaining"] == "0"
    # The tests set limits per hour, not per minute: at the edge of a window a sliding window
    # counter discounts the window before and may let one more request through, and a
    # few-second test meets an hour's edge far more rarely than a minute's.
    reset = int(answer.headers["ratelimit-reset"])
    assert 1 <= reset <= 3600
    assert answer.headers["retry-after"] == str(reset)
    assert "x-request-id" in answer.headers  # security headers etc. on a 429 too


def test_a_read_limit_holds_across_two_api_processes_sharing_redis(
    limits_db: str, shared_redis: str, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": limits_db, "REDIS_URL": shared_redis, "RATE_LIMIT__READ": "10/hour"}
    with (
        api_server(folder(tmp_path, "one"), env) as one,
        api_server(folder(tmp_path, "two"), env) as two,
    ):
        user, other = one.new_user(Role.OPERATOR), one.new_user(Role.READER)
        token = one.login(user)["access_token"]
        answers = []
        for turn in range(10):
            with (one if turn % 2 else two).client(token) as client:
                answers.append(client.get("/auth/me"))
        for answer in answers:
            assert answer.status_code == 200, answer.text
            assert answer.headers["ratelimit-limit"] == "10"

        for server in (one, two):
            with server.client(token) as client:
                assert_limited(client.get("/auth/me"), 10)
                assert_limited(client.get("/api/papers"), 10)  # every read counts together

        # The limit is the user's: another user, from the same address, still reads.
        other_token = two.login(other)["access_token"]
        for server in (one, two):
            with server.client(other_token) as client:
                assert client.get("/auth/me").status_code == 200
        # Writes have a limit of their own, which the reads did not spend.
        with one.client(token) as client:
            assert client.post("/api/seeds", json={}).status_code == 422  # let in, bad body


def test_the_login_limit_is_per_client_address_and_forwarding_is_believed_from_proxies_only(
    limits_db: str, shared_redis: str, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": limits_db, "REDIS_URL": shared_redis, "RATE_LIMIT__LOGIN": "3/hour"}
    proxied = {**env, "API__TRUSTED_PROXIES": "127.0.0.1/32"}
    with (
        api_server(folder(tmp_path, "direct"), env) as direct,
        api_server(folder(tmp_path, "proxied"), proxied) as behind_proxy,
    ):
        first, second = direct.new_user(Role.READER), direct.new_user(Role.READER)

        def sign_in(server: ApiServer, username: str, client_ip: str) -> httpx.Response:
            with server.client() as client:
                return client.post(
                    "/auth/login",
                    json={"username": username, "password": PASSWORD},
                    headers={"X-Forwarded-For": client_ip},
                )

        # Behind the proxy, each forwarded address has its own allowance.
        for _ in range(3):
            assert sign_in(behind_proxy, first, "203.0.113.7").status_code == 200
        assert_limited(sign_in(behind_proxy, second, "203.0.113.7"), 3)  # any user name
        assert sign_in(behind_proxy, second, "198.51.100.9").status_code == 200
        with behind_proxy.client() as client:  # refresh spends the same allowance
            limited_refresh = client.post(
                "/auth/refresh",
                json={"refresh_token": "x"},
                headers={"X-Forwarded-For": "203.0.113.7"},
            )
        assert_limited(limited_refresh, 3)

        # Without a trusted proxy, X-Forwarded-For is ignored: the peer address counts.
        for address in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
            assert sign_in(direct, first, address).status_code == 200
        assert_limited(sign_in(direct, first, "192.0.2.4"), 3)
        assert_limited(sign_in(direct, second, "192.0.2.5"), 3)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # closed again: nothing listens there


def test_without_redis_ready_is_503_naming_it_and_reads_still_pass(
    limits_db: str, shared_redis: str, tmp_path: Path
) -> None:
    gone = f"redis://127.0.0.1:{closed_port()}/0"
    healthy_env = {"DATABASE_URL": limits_db, "REDIS_URL": shared_redis}
    with (
        api_server(folder(tmp_path, "healthy"), healthy_env) as healthy,
        api_server(
            folder(tmp_path, "broken"),
            {"DATABASE_URL": limits_db, "REDIS_URL": gone},
            wait_ready=False,
        ) as broken,
    ):
        with broken.client() as client:
            assert client.get("/health").status_code == 200
            ready = client.get("/ready")
            username = healthy.new_user(Role.READER)
            login = client.post("/auth/login", json={"username": username, "password": PASSWORD})
        assert ready.status_code == 503, ready.text
        body = ready.json()
        assert "redis" in body["status"]
        assert body["checks"]["redis"].startswith("unreachable")
        assert "schema at" in body["checks"]["database"]

        # Sign-in fails closed (the lockout counts live in Redis): 503, not 500, not a token.
        assert login.status_code == 503, login.text
        assert login.headers["retry-after"]
        assert "access_token" not in login.text

        # Reads fail open: a token from a healthy process still reads here.
        token = healthy.login(username)["access_token"]
        with broken.client(token) as client:
            answer = client.get("/auth/me")
        assert answer.status_code == 200, answer.text
        assert answer.json()["username"] == username
