"""Signing in, refreshing, signing out, and checking tokens, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from structlog.testing import capture_logs

from refnet.security.accounts import UserView, set_disabled, set_role
from refnet.security.lockout import LockedOut
from refnet.security.roles import Role
from refnet.security.sessions import LoginRefused, Sessions, TokenError, TokenPair
from tests.integration.security.support import ADMIN, PASSWORD, execute, rows

AddUser = Callable[..., UserView]


def login(
    sessions: Sessions, name: str = "alice", password: str = PASSWORD, ip: str = "10.0.0.1"
) -> TokenPair:
    return sessions.login(username=name, password=password, client_ip=ip, request_id="req-login")


def refused_login(sessions: Sessions, name: str, password: str, ip: str = "10.0.0.1") -> str:
    with pytest.raises(LoginRefused) as caught:
        login(sessions, name, password, ip)
    return str(caught.value)


def refresh(sessions: Sessions, token: str) -> TokenPair:
    return sessions.refresh(refresh_token=token, client_ip="10.0.0.1", request_id="req-refresh")


def test_login_gives_a_token_pair_that_authorizes(sessions: Sessions, add_user: AddUser) -> None:
    alice = add_user("alice", Role.OPERATOR)
    pair = login(sessions, "  Alice ")  # names are case-insensitive
    assert pair.token_type == "bearer" and pair.expires_in == 15 * 60
    claims = sessions.authorize(pair.access_token)
    assert (claims.user_id, claims.username, claims.role) == (alice.id, "alice", Role.OPERATOR)
    with pytest.raises(TokenError, match="expected an access token"):
        sessions.authorize(pair.refresh_token)


def test_failed_logins_all_say_the_same(
    sessions: Sessions, add_user: AddUser, database_url: str
) -> None:
    add_user("alice")
    bob = add_user("bob")
    set_disabled(database_url=database_url, user_id=bob.id, disabled=True, actor=ADMIN)
    messages = {
        refused_login(sessions, "nobody", PASSWORD, ip="10.0.0.2"),
        refused_login(sessions, "alice", "wrong-password-here", ip="10.0.0.3"),
        refused_login(sessions, "bob", PASSWORD, ip="10.0.0.4"),  # the right password
        refused_login(sessions, "x" * 5000, PASSWORD, ip="10.0.0.5"),
    }
    assert messages == {"invalid username or password"}
    failures = rows(
        database_url,
        "SELECT username, details FROM audit_events WHERE action = 'login' AND outcome = 'failure'"
        " ORDER BY id",
    )
    reasons = [
        json.loads(r["details"]) if isinstance(r["details"], str) else r["details"]
        for r in failures
    ]
    assert [r["reason"] for r in reasons] == [
        "unknown_user",
        "wrong_password",
        "disabled",
        "unknown_user",
    ]


def test_repeated_failures_lock_the_user_out_even_with_the_right_password(
    sessions: Sessions, add_user: AddUser, database_url: str
) -> None:
    add_user("alice")
    add_user("carol")
    for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):  # spread over addresses: counted per user
        refused_login(sessions, "alice", "wrong-password-here", ip=ip)
    with pytest.raises(LockedOut) as caught:
        login(sessions, "alice", ip="10.0.0.9")
    assert "try again in 15 minutes" in str(caught.value)
    assert 14 * 60 < caught.value.retry_after <= 15 * 60
    login(sessions, "carol", ip="10.0.0.1")  # another user is not locked
    refused = rows(database_url, "SELECT username FROM audit_events WHERE outcome = 'refused'")
    assert refused == [{"username": "alice"}]


def test_an_unknown_user_name_is_locked_like_a_real_one(sessions: Sessions) -> None:
    for _ in range(3):
        refused_login(sessions, "ghost", PASSWORD)
    with pytest.raises(LockedOut):
        login(sessions, "ghost")


def test_repeated_failures_from_one_address_lock_that_address_out(
    sessions: Sessions, add_user: AddUser
) -> None:
    add_user("alice")
    for n in range(5):  # a different user name each time: counted per client
        refused_login(sessions, f"guess{n}", "wrong-password-here", ip="192.0.2.7")
    with pytest.raises(LockedOut):
        login(sessions, "alice", ip="192.0.2.7")
    login(sessions, "alice", ip="192.0.2.8")  # from elsewhere alice signs in


def test_a_successful_login_forgets_the_users_failures(
    sessions: Sessions, add_user: AddUser
) -> None:
    add_user("alice")
    for ip in ("10.0.0.1", "10.0.0.2"):
        refused_login(sessions, "alice", "wrong-password-here", ip=ip)
    login(sessions, ip="10.0.0.3")
    for ip in ("10.0.0.4", "10.0.0.5"):
        refused_login(sessions, "alice", "wrong-password-here", ip=ip)
    login(sessions, ip="10.0.0.6")  # 2 + 2 failures, never 3 in a row


def test_refresh_rotates_and_reuse_revokes_the_whole_family(
    sessions: Sessions, add_user: AddUser, database_url: str
) -> None:
    add_user("alice")
    first = login(sessions)
    second = refresh(sessions, first.refresh_token)
    assert second.refresh_token != first.refresh_token
    assert second.access_token != first.access_token
    assert sessions.authorize(second.access_token).username == "alice"
    third = refresh(sessions, second.refresh_token)

    # The rotated-out first token comes back: stolen, or replayed. Its whole family ends.
    with pytest.raises(TokenError, match="refresh token reuse detected; sign in again"):
        refresh(sessions, first.refresh_token)
    with pytest.raises(TokenError, match="sign in again"):
        refresh(sessions, third.refresh_token)  # the newest of the family
    for pair in (first, second, third):
        with pytest.raises(TokenError, match="session ended"):
            sessions.authorize(pair.access_token)
    refused = rows(
        database_url, "SELECT action, outcome FROM audit_events WHERE outcome = 'refused'"
    )
    assert refused == [{"action": "refresh", "outcome": "refused"}]
    # Other sessions of the same user are not affected.
    assert sessions.authorize(login(sessions).access_token).username == "alice"


def test_a_tampered_refresh_token_is_refused(sessions: Sessions, add_user: AddUser) -> None:
    add_user("alice")
    pair = login(sessions)
    with pytest.raises(TokenError, match="invalid token"):
        refresh(
            sessions, pair.refresh_token[:-2] + ("AA" if pair.refresh_token[-2:] != "AA" else "BB")
        )
    with pytest.raises(TokenError, match="expected a refresh token"):
        refresh(sessions, pair.access_token)
    refresh(sessions, pair.refresh_token)  # the genuine one still works


def test_logout_ends_the_session_of_both_tokens(sessions: Sessions, add_user: AddUser) -> None:
    add_user("alice")
    pair = login(sessions)
    other = login(sessions)  # another device
    claims = sessions.authorize(pair.access_token)
    sessions.logout(
        claims=claims, refresh_token=pair.refresh_token, client_ip="10.0.0.1", request_id="r"
    )
    with pytest.raises(TokenError, match="session ended"):
        sessions.authorize(pair.access_token)
    with pytest.raises(TokenError, match="session ended"):
        refresh(sessions, pair.refresh_token)
    assert sessions.authorize(other.access_token).username == "alice"


def test_logout_cannot_end_another_users_session(sessions: Sessions, add_user: AddUser) -> None:
    add_user("alice")
    add_user("mallory")
    alice = login(sessions, "alice")
    mallory = login(sessions, "mallory")
    claims = sessions.authorize(mallory.access_token)
    sessions.logout(
        claims=claims, refresh_token=alice.refresh_token, client_ip=None, request_id=None
    )
    assert sessions.authorize(alice.access_token).username == "alice"
    refresh(sessions, alice.refresh_token)


def test_the_role_comes_from_the_database_at_once(
    sessions: Sessions, add_user: AddUser, database_url: str
) -> None:
    alice = add_user("alice", Role.ADMIN)
    add_user("root", Role.ADMIN)
    pair = login(sessions)
    execute(database_url, "UPDATE users SET role = 'reader' WHERE id = :id", id=alice.id)
    assert sessions.authorize(pair.access_token).role == Role.READER  # the token says admin


def test_a_role_change_ends_the_users_sessions(
    sessions: Sessions, add_user: AddUser, database_url: str
) -> None:
    alice = add_user("alice", Role.OPERATOR)
    pair = login(sessions)
    set_role(database_url=database_url, user_id=alice.id, role=Role.READER, actor=ADMIN)
    with pytest.raises(TokenError, match="session ended"):
        sessions.authorize(pair.access_token)
    assert sessions.authorize(login(sessions).access_token).role == Role.READER


def test_a_disabled_user_is_refused_everywhere(
    sessions: Sessions, add_user: AddUser, database_url: str
) -> None:
    alice = add_user("alice")
    pair = login(sessions)
    set_disabled(database_url=database_url, user_id=alice.id, disabled=True, actor=ADMIN)
    with pytest.raises(TokenError):
        sessions.authorize(pair.access_token)
    with pytest.raises(TokenError):
        refresh(sessions, pair.refresh_token)
    refused_login(sessions, "alice", PASSWORD)
    set_disabled(database_url=database_url, user_id=alice.id, disabled=False, actor=ADMIN)
    login(sessions, ip="10.0.0.2")


def test_a_disabled_flag_set_behind_the_sessions_back_still_counts(
    sessions: Sessions, add_user: AddUser, database_url: str
) -> None:
    alice = add_user("alice")
    pair = login(sessions)
    execute(database_url, "UPDATE users SET disabled = :yes WHERE id = :id", yes=True, id=alice.id)
    with pytest.raises(TokenError, match="account disabled"):
        sessions.authorize(pair.access_token)


def test_an_expired_session_ends_its_tokens(
    sessions: Sessions, add_user: AddUser, database_url: str
) -> None:
    add_user("alice")
    pair = login(sessions)
    past = datetime.now(UTC) - timedelta(minutes=1)
    execute(database_url, "UPDATE auth_sessions SET expires_at = :past", past=past)
    with pytest.raises(TokenError, match="session expired"):
        sessions.authorize(pair.access_token)
    with pytest.raises(TokenError, match="session expired"):
        refresh(sessions, pair.refresh_token)


def test_sign_in_is_audited_without_secrets(
    sessions: Sessions, add_user: AddUser, database_url: str
) -> None:
    add_user("alice")
    with capture_logs() as logs:
        refused_login(sessions, "alice", "wrong-password-here")
        pair = login(sessions)
        pair = refresh(sessions, pair.refresh_token)
        claims = sessions.authorize(pair.access_token)
        sessions.logout(
            claims=claims, refresh_token=pair.refresh_token, client_ip="10.0.0.1", request_id="r9"
        )
    events = rows(
        database_url,
        "SELECT action, outcome, username, client_ip, request_id FROM audit_events"
        " WHERE action IN ('login', 'refresh', 'logout') ORDER BY id",
    )
    assert [(e["action"], e["outcome"]) for e in events] == [
        ("login", "failure"),
        ("login", "success"),
        ("refresh", "success"),
        ("logout", "success"),
    ]
    assert {e["username"] for e in events} == {"alice"}
    assert events[0]["client_ip"] == "10.0.0.1" and events[-1]["request_id"] == "r9"
    audit_logs = [e for e in logs if e["event"] == "audit"]
    assert [(e["action"], e["outcome"]) for e in audit_logs][-4:] == [
        (e["action"], e["outcome"]) for e in events
    ]
    everything = json.dumps(rows(database_url, "SELECT * FROM audit_events"), default=str)
    everything += json.dumps(logs, default=str)
    for secret in (PASSWORD, "wrong-password-here", pair.access_token, pair.refresh_token):
        assert secret not in everything
