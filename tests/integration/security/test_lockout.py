"""The login lockout in Redis: shared by every API process, and closed when Redis is down."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis

from refnet.core.config import AuthSettings, Settings
from refnet.core.errors import TransientError
from refnet.security.accounts import UserView
from refnet.security.lockout import KEY_PREFIX, LockedOut, Lockout
from refnet.security.sessions import Sessions
from refnet.security.tokens import Keyring
from tests.integration.security.support import PASSWORD, SECRET, rows

UNREACHABLE = "redis://127.0.0.1:9/0"


def redis_settings(url: str) -> Settings:
    auth = AuthSettings(max_failed_logins=3, max_failed_logins_per_client=5, lockout_minutes=1)
    return Settings(redis_url=url, auth=auth)


@pytest.mark.redis
def test_failures_counted_by_one_process_lock_out_in_another(redis_url: str) -> None:
    first, second = (Lockout.from_settings(redis_settings(redis_url)) for _ in range(2))
    for _ in range(3):
        first.check("alice", "10.0.0.1")
        first.failed("alice", "10.0.0.1")
    with pytest.raises(LockedOut) as caught:
        second.check("ALICE", "10.0.0.2")
    assert "try again in 1 minute" in str(caught.value)
    assert 0 < caught.value.retry_after <= 60
    second.check("bob", "10.0.0.2")
    keys: list[bytes] = redis.Redis.from_url(redis_url).keys("*")  # type: ignore[assignment]
    assert keys and all(key.startswith(KEY_PREFIX.encode()) for key in keys)
    assert not any(b"alice" in key for key in keys)  # user names are hashed into keys
    second.succeeded("alice")
    first.check("alice", "10.0.0.1")


@pytest.mark.redis
def test_the_client_count_survives_a_success(redis_url: str) -> None:
    lockout = Lockout.from_settings(redis_settings(redis_url))
    for n in range(5):
        lockout.failed(f"guess{n}", "192.0.2.1")
    lockout.succeeded("guess0")
    with pytest.raises(LockedOut):
        lockout.check("someone", "192.0.2.1")


def test_lockout_refuses_logins_when_redis_is_unreachable() -> None:
    lockout = Lockout.from_settings(redis_settings(UNREACHABLE))
    with pytest.raises(TransientError, match="login temporarily unavailable"):
        lockout.check("alice", "10.0.0.1")
    with pytest.raises(TransientError, match="login temporarily unavailable"):
        lockout.failed("alice", "10.0.0.1")


def test_a_login_without_its_lockout_store_is_refused_not_allowed(
    database_url: str, add_user: Callable[..., UserView]
) -> None:
    add_user("alice")
    settings = redis_settings(UNREACHABLE)
    sessions = Sessions(
        database_url=database_url,
        keyring=Keyring(signing_secret=SECRET, issuer="refnet", audience="refnet-api"),
        auth=settings.auth,
        lockout=Lockout.from_settings(settings),
    )
    with pytest.raises(TransientError, match="login temporarily unavailable"):
        sessions.login(username="alice", password=PASSWORD, client_ip="10.0.0.1", request_id=None)
    assert rows(database_url, "SELECT id FROM auth_sessions") == []
