"""Signing in, refreshing, signing out and being locked out, as a client sees it over HTTP: the
token pair, rotation and the revocation of a replayed family, role changes that apply at once,
lockout after repeated failures, and an audit trail that never holds a secret."""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from refnet.security.roles import Role
from tests.support.api import PASSWORD, ApiServer, api_server

REFUSED = "invalid username or password"
WRONG = "not the password at all"


def login(
    server: ApiServer, username: str, password: str = PASSWORD, **headers: str
) -> httpx.Response:
    with server.client() as client:
        return client.post(
            "/auth/login", json={"username": username, "password": password}, headers=headers
        )


def refresh(server: ApiServer, refresh_token: str, **headers: str) -> httpx.Response:
    with server.client() as client:
        return client.post("/auth/refresh", json={"refresh_token": refresh_token}, headers=headers)


def me(server: ApiServer, access_token: str) -> httpx.Response:
    with server.client(access_token) as client:
        return client.get("/auth/me")


def user_id(server: ApiServer, username: str) -> int:
    users = server.get("/api/users", Role.ADMIN).json()
    return next(int(user["id"]) for user in users if user["username"] == username)


def patch_user(server: ApiServer, username: str, **changes: Any) -> httpx.Response:
    with server.client(server.token(Role.ADMIN)) as client:
        return client.patch(f"/api/users/{user_id(server, username)}", json=changes)


def assert_unauthorized(answer: httpx.Response) -> None:
    assert answer.status_code == 401, answer.text
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert answer.json()["error"] == "unauthorized"


def test_a_login_answers_a_bearer_pair_that_no_cache_keeps(api: ApiServer) -> None:
    username = api.new_user(Role.OPERATOR)
    answer = login(api, username)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert body["access_token"] != body["refresh_token"]
    assert answer.headers["cache-control"] == "no-store"

    shown = me(api, body["access_token"])
    assert shown.status_code == 200
    assert shown.json()["username"] == username
    assert shown.json()["role"] == "operator"
    assert shown.json()["id"] >= 1


def test_user_names_are_matched_without_regard_to_case(api: ApiServer) -> None:
    username = api.new_user(Role.READER)
    answer = login(api, f"  {username.upper()} ")
    assert answer.status_code == 200, answer.text
    assert me(api, answer.json()["access_token"]).json()["username"] == username


def test_unknown_user_wrong_password_and_disabled_user_look_the_same(api: ApiServer) -> None:
    """Three different failures, one answer: a client cannot tell which names exist."""
    disabled = api.new_user(Role.READER)
    assert patch_user(api, disabled, disabled=True).status_code == 200
    answers = [
        login(api, f"nobody-{uuid.uuid4().hex[:8]}", WRONG),
        login(api, api.new_user(Role.READER), WRONG),
        login(api, disabled),  # the right password
    ]
    for answer in answers:
        assert answer.status_code == 401, answer.text
        assert answer.json()["message"] == REFUSED
        assert answer.json()["error"] == "unauthorized"
    assert len({answer.headers["www-authenticate"] for answer in answers}) == 1
    assert len({frozenset(answer.json()) for answer in answers}) == 1


def test_a_disabled_user_is_refused_at_once_and_back_when_enabled(api: ApiServer) -> None:
    username = api.new_user(Role.READER)
    tokens = login(api, username).json()
    assert patch_user(api, username, disabled=True).json()["disabled"] is True
    assert_unauthorized(me(api, tokens["access_token"]))
    assert_unauthorized(refresh(api, tokens["refresh_token"]))
    assert login(api, username).status_code == 401

    assert patch_user(api, username, disabled=False).json()["disabled"] is False
    assert_unauthorized(me(api, tokens["access_token"]))  # the old session stays ended
    again = login(api, username)
    assert again.status_code == 200
    assert me(api, again.json()["access_token"]).status_code == 200


def test_a_refresh_rotates_the_pair_and_uses_up_the_old_refresh_token(api: ApiServer) -> None:
    first = api.login(api.new_user(Role.READER))
    answer = refresh(api, first["refresh_token"])
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    second = answer.json()
    assert second["token_type"] == "bearer" and second["expires_in"] == 900
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert me(api, second["access_token"]).status_code == 200

    third = refresh(api, second["refresh_token"])  # the new refresh token works once too
    assert third.status_code == 200, third.text
    assert me(api, third.json()["access_token"]).status_code == 200


def test_replaying_a_rotated_refresh_token_ends_the_whole_family(api: ApiServer) -> None:
    username = api.new_user(Role.READER)
    stolen = api.login(username)
    elsewhere = api.login(username)  # another session of the same user
    rotated = refresh(api, stolen["refresh_token"]).json()
    newest = refresh(api, rotated["refresh_token"]).json()
    assert me(api, newest["access_token"]).status_code == 200

    replay = refresh(api, stolen["refresh_token"])
    assert_unauthorized(replay)
    assert "reuse" in replay.json()["message"]

    for access in (stolen["access_token"], rotated["access_token"], newest["access_token"]):
        assert_unauthorized(me(api, access))
    assert_unauthorized(refresh(api, newest["refresh_token"]))
    # Only the family of the replayed token ends: the user's other session carries on.
    assert me(api, elsewhere["access_token"]).status_code == 200
    assert refresh(api, elsewhere["refresh_token"]).status_code == 200


def test_concurrent_refreshes_with_one_token_yield_at_most_one_pair(api: ApiServer) -> None:
    """A refresh token raced from several connections is used once; the others count as reuse
    and end the family, the winner's new pair included."""
    tokens = api.login(api.new_user(Role.READER))

    def attempt(_: int) -> httpx.Response:
        return refresh(api, tokens["refresh_token"])

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(attempt, range(6)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses.count(200) <= 1, statuses
    assert set(statuses) <= {200, 401}, statuses
    for answer in answers:
        if answer.status_code == 200:
            assert_unauthorized(me(api, answer.json()["access_token"]))
    assert_unauthorized(me(api, tokens["access_token"]))


def test_logout_ends_the_access_token_used_and_the_refresh_token_given(api: ApiServer) -> None:
    username = api.new_user(Role.READER)
    tokens = api.login(username)
    other = api.login(username)
    with api.client(tokens["access_token"]) as client:
        answer = client.post("/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    assert answer.status_code == 204, answer.text
    assert answer.content == b""
    assert_unauthorized(me(api, tokens["access_token"]))
    assert_unauthorized(refresh(api, tokens["refresh_token"]))
    with api.client(tokens["access_token"]) as client:
        assert_unauthorized(client.post("/auth/logout"))  # no second logout with it
    assert me(api, other["access_token"]).status_code == 200  # other sessions are untouched


def test_logout_without_a_body_ends_the_whole_session(api: ApiServer) -> None:
    tokens = api.login(api.new_user(Role.READER))
    with api.client(tokens["access_token"]) as client:
        assert client.post("/auth/logout").status_code == 204
    assert_unauthorized(me(api, tokens["access_token"]))
    assert_unauthorized(refresh(api, tokens["refresh_token"]))


def test_logout_cannot_end_another_users_session(api: ApiServer) -> None:
    mine, theirs = api.login(api.new_user(Role.READER)), api.login(api.new_user(Role.READER))
    with api.client(mine["access_token"]) as client:
        answer = client.post("/auth/logout", json={"refresh_token": theirs["refresh_token"]})
    assert answer.status_code == 204
    assert_unauthorized(me(api, mine["access_token"]))
    assert me(api, theirs["access_token"]).status_code == 200
    assert refresh(api, theirs["refresh_token"]).status_code == 200


def test_logout_needs_a_token(api: ApiServer) -> None:
    with api.client() as client:
        assert_unauthorized(client.post("/auth/logout", json={}))


def test_a_role_change_applies_at_once_to_tokens_already_issued(api: ApiServer) -> None:
    username = api.new_user(Role.OPERATOR)
    before = api.login(username)
    with api.client(before["access_token"]) as client:
        assert client.post("/api/seeds", json={}).status_code == 422  # allowed in, bad body

    changed = patch_user(api, username, role="reader")
    assert changed.status_code == 200, changed.text
    assert changed.json()["role"] == "reader"

    with api.client(before["access_token"]) as client:
        assert_unauthorized(client.post("/api/seeds", json={}))
    assert_unauthorized(refresh(api, before["refresh_token"]))
    after = api.login(username)
    assert me(api, after["access_token"]).json()["role"] == "reader"
    with api.client(after["access_token"]) as client:
        refused = client.post("/api/seeds", json={})
    assert refused.status_code == 403
    assert "operator" in refused.json()["message"]


def test_a_promotion_gives_the_new_role_at_the_next_sign_in(api: ApiServer) -> None:
    username = api.new_user(Role.READER)
    before = api.login(username)
    with api.client(before["access_token"]) as client:
        assert client.get("/api/users").status_code == 403
    assert patch_user(api, username, role="admin").json()["role"] == "admin"
    assert_unauthorized(me(api, before["access_token"]))
    after = api.login(username)
    with api.client(after["access_token"]) as client:
        assert client.get("/api/users").status_code == 200


def test_the_audit_log_records_sign_ins_refreshes_and_logouts_without_secrets(
    api: ApiServer,
) -> None:
    username = api.new_user(Role.READER)
    marks = {action: f"audit-{action}-{uuid.uuid4().hex[:12]}" for action in ("fail", "in", "ref")}
    marks["out"] = f"audit-out-{uuid.uuid4().hex[:12]}"
    wrong = f"wrong-{uuid.uuid4().hex}"
    assert login(api, username, wrong, **{"X-Request-ID": marks["fail"]}).status_code == 401
    first = login(api, username, **{"X-Request-ID": marks["in"]}).json()
    second = refresh(api, first["refresh_token"], **{"X-Request-ID": marks["ref"]}).json()
    with api.client(second["access_token"]) as client:
        out = client.post(
            "/auth/logout",
            json={"refresh_token": second["refresh_token"]},
            headers={"X-Request-ID": marks["out"]},
        )
    assert out.status_code == 204
    ident = user_id(api, username)

    answer = api.get("/api/audit", Role.ADMIN, params={"username": username, "limit": 50})
    assert answer.status_code == 200, answer.text
    events = {event["request_id"]: event for event in answer.json()["items"]}
    expected = {
        marks["fail"]: ("login", "failure"),
        marks["in"]: ("login", "success"),
        marks["ref"]: ("refresh", "success"),
        marks["out"]: ("logout", "success"),
    }
    for request_id, (action, outcome) in expected.items():
        event = events[request_id]
        assert (event["action"], event["outcome"]) == (action, outcome)
        assert event["username"] == username
        assert event["user_id"] == ident
        assert event["client_ip"] == "127.0.0.1"
    assert events[marks["fail"]]["details"]["reason"] == "wrong_password"

    everything = api.get("/api/audit", Role.ADMIN, params={"limit": 200}).text + answer.text
    secrets = [PASSWORD, wrong, *first.values(), *second.values()]
    for secret in secrets:
        if isinstance(secret, str) and len(secret) > 8:
            assert secret not in everything
            assert secret not in api.logs()
            signature = secret.rsplit(".", 1)[-1]
            assert signature not in everything and signature not in api.logs()


# --- a server of its own: failures here must not lock the shared servers' client out ---------
@pytest.fixture(scope="module")
def lenient(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """Failures are never locked out here, so response times can be compared."""
    env = {"AUTH__MAX_FAILED_LOGINS": "1000", "AUTH__MAX_FAILED_LOGINS_PER_CLIENT": "1000"}
    with api_server(tmp_path_factory.mktemp("lenient"), env) as server:
        yield server


def test_a_wrong_password_takes_as_long_as_an_unknown_user(lenient: ApiServer) -> None:
    username = lenient.new_user(Role.READER)
    login(lenient, "nobody-warm-up", WRONG)  # first use builds the dummy hash
    login(lenient, username, WRONG)
    unknown: list[float] = []
    wrong: list[float] = []
    for attempt in range(7):
        for name, times in ((f"nobody-{attempt}", unknown), (username, wrong)):
            started = time.perf_counter()
            answer = login(lenient, name, WRONG)
            times.append(time.perf_counter() - started)
            assert answer.status_code == 401
    slow, fast = sorted([statistics.median(unknown), statistics.median(wrong)], reverse=True)
    assert slow < 3 * fast, f"unknown user {unknown}, wrong password {wrong}"


def test_repeated_failures_lock_the_user_then_the_client_out(tmp_path: Path) -> None:
    env = {"AUTH__MAX_FAILED_LOGINS": "3", "AUTH__MAX_FAILED_LOGINS_PER_CLIENT": "6"}
    with api_server(tmp_path, env) as server:
        target, bystander = server.new_user(Role.READER), server.new_user(Role.READER)
        server.token(Role.ADMIN)  # signed in before the address is held
        for _ in range(3):
            assert login(server, target, WRONG).status_code == 401
        locked = login(server, target)  # the right password, too late
        assert locked.status_code == 429, locked.text
        assert locked.json()["error"] == "rate_limited"
        assert "too many failed logins" in locked.json()["message"]
        assert 1 <= int(locked.headers["retry-after"]) <= 15 * 60
        assert "access_token" not in locked.text
        assert login(server, target, WRONG).status_code == 429

        # The lock is per user: another user from the same address still signs in.
        assert login(server, bystander).status_code == 200
        # Failures for any name count against the address; at its limit, everyone is held.
        for attempt in range(3):
            assert login(server, f"ghost-{attempt}", WRONG).status_code == 401
        held = login(server, bystander)
        assert held.status_code == 429, held.text
        assert int(held.headers["retry-after"]) >= 1

        audit = server.get("/api/audit", Role.ADMIN, params={"username": target, "action": "login"})
        outcomes = [
            (event["outcome"], event["details"].get("reason")) for event in audit.json()["items"]
        ]
        assert outcomes.count(("refused", "locked_out")) == 2
        assert outcomes.count(("failure", "wrong_password")) == 3


def test_the_signing_key_can_be_rotated_without_signing_everyone_out(tmp_path: Path) -> None:
    old, new = "old-signing-secret-" + "a1" * 16, "new-signing-secret-" + "b2" * 16
    with api_server(tmp_path, {"JWT_SECRET": old}) as before:
        username = before.new_user(Role.READER)
        issued = before.login(username)
    rotated = {"JWT_SECRET": new, "JWT_PREVIOUS_SECRETS": old}
    with api_server(tmp_path, rotated) as during:
        assert me(during, issued["access_token"]).status_code == 200  # verified by its kid
        renewed = refresh(during, issued["refresh_token"])
        assert renewed.status_code == 200, renewed.text
        fresh = renewed.json()
        assert me(during, fresh["access_token"]).status_code == 200
    kid = jwt.get_unverified_header
    assert kid(fresh["access_token"])["kid"] != kid(issued["access_token"])["kid"]
    with api_server(tmp_path, {"JWT_SECRET": new}) as after:  # the old key retired
        assert_unauthorized(me(after, issued["access_token"]))
        assert me(after, fresh["access_token"]).status_code == 200
