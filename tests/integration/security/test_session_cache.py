"""The shared session cache: trusting a token without the database, and every revocation seen
by every process at once (two `Sessions` on one Redis stand for two API processes)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis

from refnet.core.config import get_settings
from refnet.security.accounts import UserView, create_user, set_disabled, set_role
from refnet.security.roles import Role
from refnet.security.session_cache import PREFIX, LiveSession, RedisSessionCache
from refnet.security.sessions import Sessions
from refnet.security.tokens import TokenError
from tests.integration.security.support import ADMIN, PASSWORD, execute, make_sessions

Pair = tuple[Sessions, Sessions]


@pytest.fixture
def processes(pg_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Pair:
    monkeypatch.setenv("REDIS_URL", redis_url)  # account changes tell the cache through it
    get_settings.cache_clear()

    def one() -> Sessions:
        sessions = make_sessions(pg_url)
        sessions.cache = RedisSessionCache(redis_url)
        return sessions

    return one(), one()


@pytest.fixture
def user(pg_url: str) -> Callable[[Role], UserView]:
    def add(role: Role = Role.READER) -> UserView:
        return create_user(
            database_url=pg_url,
            username=f"cached-{role}",
            password=PASSWORD,
            role=role,
            actor=ADMIN,
        )

    return add


def sign_in(sessions: Sessions, username: str) -> tuple[str, str]:
    pair = sessions.login(
        username=username, password=PASSWORD, client_ip="10.0.0.1", request_id=None
    )
    return pair.access_token, pair.refresh_token


def test_a_live_session_is_vouched_for_without_the_database(
    processes: Pair, user: Callable[[Role], UserView], pg_url: str
) -> None:
    first, second = processes
    access, _ = sign_in(first, user(Role.OPERATOR).username)
    assert first.authorize(access).role == Role.OPERATOR  # read from the database, remembered
    execute(pg_url, "DELETE FROM auth_sessions")  # the database can no longer vouch
    assert second.authorize(access).role == Role.OPERATOR  # the cache did


def test_logout_in_one_process_ends_the_token_in_the_other_at_once(
    processes: Pair, user: Callable[[Role], UserView]
) -> None:
    first, second = processes
    access, refresh = sign_in(first, user(Role.READER).username)
    claims = second.authorize(access)  # cached as live
    first.logout(claims=claims, refresh_token=refresh, client_ip=None, request_id=None)
    with pytest.raises(TokenError, match="session ended"):
        second.authorize(access)


@pytest.mark.parametrize("change", ["role", "disable"])
def test_an_account_change_ends_cached_sessions_at_once(
    processes: Pair, user: Callable[[Role], UserView], pg_url: str, change: str
) -> None:
    first, second = processes
    account = user(Role.OPERATOR)
    access, _ = sign_in(first, account.username)
    assert second.authorize(access).role == Role.OPERATOR
    if change == "role":
        set_role(database_url=pg_url, user_id=account.id, role=Role.READER, actor=ADMIN)
    else:
        set_disabled(database_url=pg_url, user_id=account.id, disabled=True, actor=ADMIN)
    with pytest.raises(TokenError):
        second.authorize(access)


def test_a_request_that_read_a_session_before_its_revocation_cannot_cache_it(
    processes: Pair, user: Callable[[Role], UserView], redis_url: str
) -> None:
    first, second = processes
    access, refresh = sign_in(first, user(Role.READER).username)
    claims = first.keyring.decode(access, expected_type="access")
    first.logout(claims=claims, refresh_token=refresh, client_ip=None, request_id=None)
    stale = second.cache.get(claims.session_id)
    assert stale is not None  # the tombstone
    second.cache.remember(claims.session_id, LiveSession(claims.user_id, "x", "admin", 9e9))
    with pytest.raises(TokenError, match="session ended"):
        second.authorize(access)
    assert redis.Redis.from_url(redis_url).ttl(PREFIX + claims.session_id) > 0


def test_without_redis_the_database_answers(pg_url: str, user: Callable[[Role], UserView]) -> None:
    sessions = make_sessions(pg_url)
    sessions.cache = RedisSessionCache("redis://127.0.0.1:9/0")  # nothing listens there
    access, _ = sign_in(sessions, user(Role.READER).username)
    assert sessions.authorize(access).role == Role.READER
