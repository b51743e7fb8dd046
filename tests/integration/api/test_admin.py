"""Administration over HTTP: users and roles (create, list, change, disable, reset password),
the rule that an enabled admin always remains, and the audit log with its filters and pages;
and that nobody but an admin reaches any of it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from refnet.db import migrate
from refnet.db.session import dispose_engines
from refnet.security.roles import Role
from tests.conftest import PG_URL, _unavailable, empty_database
from tests.support.api import PASSWORD, ApiServer, api_server

NEW_PASSWORD = "another long passphrase, quite unlike"
MISSING = 987654321


def admin(server: ApiServer) -> httpx.Client:
    return server.client(server.token(Role.ADMIN))


def unique(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create(server: ApiServer, **body: Any) -> httpx.Response:
    body = {"username": unique(), "password": PASSWORD, "role": "reader", **body}
    with admin(server) as client:
        return client.post("/api/users", json=body)


def login(server: ApiServer, username: str, password: str = PASSWORD) -> httpx.Response:
    with server.client() as client:
        return client.post("/auth/login", json={"username": username, "password": password})


def users(server: ApiServer) -> dict[str, dict[str, Any]]:
    answer = server.get("/api/users", Role.ADMIN)
    assert answer.status_code == 200, answer.text
    return {user["username"]: user for user in answer.json()}


# --- users ------------------------------------------------------------------------------------
def test_an_admin_creates_a_user_who_can_then_sign_in(api: ApiServer) -> None:
    name = unique("New-Person")
    answer = create(api, username=name, role="operator")
    assert answer.status_code == 201, answer.text
    user = answer.json()
    assert user["username"] == name.lower()
    assert user["role"] == "operator"
    assert user["disabled"] is False
    assert user["id"] >= 1
    assert datetime.fromisoformat(user["created_at"]) <= datetime.now(UTC)
    assert "password" not in answer.text and PASSWORD not in answer.text

    signed_in = login(api, name.lower())
    assert signed_in.status_code == 200
    with api.client(signed_in.json()["access_token"]) as client:
        assert client.get("/auth/me").json()["role"] == "operator"
    assert users(api)[name.lower()]["id"] == user["id"]


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("short-one", "too short"),
        ("password123456", "common password"),
        ("qwertyuiop!!!!", "common password"),
        ("z" * 20, "one character repeated"),
        ("{name} is my secret", "contains the user name"),
        ("x" * 1025 + "yz", "1024"),
    ],
)
def test_a_weak_password_is_a_422_naming_the_rule(api: ApiServer, password: str, rule: str) -> None:
    name = unique()
    answer = create(api, username=name, password=password.format(name=name))
    assert answer.status_code == 422, answer.text
    message = answer.json()["message"]
    assert rule in message
    assert password.format(name=name) not in message  # never echoed
    assert name not in users(api)


def test_a_taken_name_is_a_409_whatever_its_case(api: ApiServer) -> None:
    name = unique()
    assert create(api, username=name).status_code == 201
    for taken in (name, name.upper(), f" {name} "):
        answer = create(api, username=taken, role="admin")
        assert answer.status_code == 409, answer.text
        assert answer.json()["error"] == "conflict"
        assert name in answer.json()["message"]
    assert users(api)[name]["role"] == "reader"


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({"role": "superuser"}, "reader, operator, admin"),
        ({"role": ""}, "reader, operator, admin"),
        ({"username": "a b"}, "letters a-z"),
        ({"username": "x"}, "3 to 64"),
        ({"username": "../etc"}, "letters a-z"),
        ({"disabled": True}, "disabled"),
    ],
)
def test_a_bad_user_is_a_422_saying_what_is_accepted(
    api: ApiServer, body: dict[str, Any], said: str
) -> None:
    answer = create(api, **body)
    assert answer.status_code == 422, answer.text
    assert said in answer.json()["message"]


def test_the_list_shows_every_user_without_secrets(api: ApiServer) -> None:
    name = unique()
    created = create(api, username=name, role="operator").json()
    with admin(api) as client:
        client.patch(f"/api/users/{created['id']}", json={"disabled": True})
        answer = client.get("/api/users")
        one = client.get(f"/api/users/{created['id']}")
    listed = {user["username"]: user for user in answer.json()}
    assert listed[name] == one.json()
    assert listed[name]["disabled"] is True and listed[name]["role"] == "operator"
    for user in listed.values():
        assert set(user) == {"id", "username", "role", "disabled", "created_at", "updated_at"}
    assert "argon2" not in answer.text


def test_role_and_disabled_can_be_changed(api: ApiServer) -> None:
    name = unique()
    ident = create(api, username=name).json()["id"]
    token = login(api, name).json()["access_token"]
    with admin(api) as client:
        promoted = client.patch(f"/api/users/{ident}", json={"role": "operator"})
        disabled = client.patch(f"/api/users/{ident}", json={"disabled": True})
        refused = login(api, name)
        enabled = client.patch(f"/api/users/{ident}", json={"disabled": False, "role": "reader"})
        nothing = client.patch(f"/api/users/{ident}", json={})
        unknown_role = client.patch(f"/api/users/{ident}", json={"role": "root"})
        extra = client.patch(f"/api/users/{ident}", json={"password": NEW_PASSWORD})
        now = client.get(f"/api/users/{ident}").json()
    assert promoted.status_code == 200 and promoted.json()["role"] == "operator"
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    assert refused.status_code == 401
    assert enabled.json()["disabled"] is False and enabled.json()["role"] == "reader"
    assert nothing.status_code == 422 and "role" in nothing.json()["message"]
    assert unknown_role.status_code == 422
    assert extra.status_code == 422
    assert now["role"] == "reader" and now["disabled"] is False
    assert datetime.fromisoformat(now["updated_at"]) >= datetime.fromisoformat(now["created_at"])
    with api.client(token) as client:
        assert client.get("/auth/me").status_code == 401  # its sessions ended on the change
    assert login(api, name).status_code == 200


def test_a_password_reset_replaces_the_old_one_and_ends_sessions(api: ApiServer) -> None:
    name = unique()
    ident = create(api, username=name).json()["id"]
    token = login(api, name).json()["access_token"]
    with admin(api) as client:
        weak = client.put(f"/api/users/{ident}/password", json={"password": "short"})
        answer = client.put(f"/api/users/{ident}/password", json={"password": NEW_PASSWORD})
    assert weak.status_code == 422 and "too short" in weak.json()["message"]
    assert answer.status_code == 200, answer.text
    assert answer.json()["username"] == name
    assert NEW_PASSWORD not in answer.text
    assert login(api, name).status_code == 401
    assert login(api, name, NEW_PASSWORD).status_code == 200
    with api.client(token) as client:
        assert client.get("/auth/me").status_code == 401


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"/api/users/{MISSING}", None),
        ("PATCH", f"/api/users/{MISSING}", {"role": "reader"}),
        ("PATCH", f"/api/users/{MISSING}", {"disabled": True}),
        ("PUT", f"/api/users/{MISSING}/password", {"password": NEW_PASSWORD}),
    ],
)
def test_an_unknown_user_id_is_a_404_naming_it(
    api: ApiServer, method: str, path: str, body: dict[str, Any] | None
) -> None:
    with admin(api) as client:
        answer = client.request(method, path, json=body)
    assert answer.status_code == 404, answer.text
    assert answer.json()["error"] == "not_found"
    assert str(MISSING) in answer.json()["message"]


@pytest.mark.parametrize("user_id", ["0", "-1", "abc", "1.5", str(2**63)])
def test_a_malformed_user_id_is_a_422(api: ApiServer, user_id: str) -> None:
    with admin(api) as client:
        answer = client.get(f"/api/users/{user_id}")
    assert answer.status_code == 422, answer.text


ADMIN_ROUTES = [
    ("GET", "/api/users", None),
    ("POST", "/api/users", {"username": "intruder", "password": NEW_PASSWORD, "role": "admin"}),
    ("GET", "/api/users/1", None),
    ("PATCH", "/api/users/1", {"role": "reader"}),
    ("PATCH", "/api/users/1", {"disabled": True}),
    ("PUT", "/api/users/1/password", {"password": NEW_PASSWORD}),
    ("GET", "/api/audit", None),
]


@pytest.mark.parametrize("role", [Role.READER, Role.OPERATOR])
def test_no_one_but_an_admin_reaches_users_or_the_audit_log(api: ApiServer, role: Role) -> None:
    token = api.token(role)
    before = users(api)
    with api.client(token) as client:
        for method, path, body in ADMIN_ROUTES:
            answer = client.request(method, path, json=body)
            assert answer.status_code == 403, (method, path, answer.text)
            assert "admin" in answer.json()["message"]
    assert users(api) == before  # nothing changed


def test_without_a_token_the_admin_routes_are_401(api: ApiServer) -> None:
    with api.client() as client:
        for method, path, body in ADMIN_ROUTES:
            answer = client.request(method, path, json=body)
            assert answer.status_code == 401, (method, path, answer.text)
            assert answer.headers["www-authenticate"].startswith("Bearer")


# --- the audit log ----------------------------------------------------------------------------
def audit(server: ApiServer, **params: Any) -> dict[str, Any]:
    answer = server.get("/api/audit", Role.ADMIN, params=params)
    assert answer.status_code == 200, answer.text
    page: dict[str, Any] = answer.json()
    return page


def test_the_audit_log_filters_by_user_action_and_time_and_pages(api: ApiServer) -> None:
    start = datetime.now(UTC) - timedelta(milliseconds=5)
    name = unique()
    ident = create(api, username=name).json()["id"]
    for _ in range(3):
        assert login(api, name).status_code == 200
    assert login(api, name, "not the right one at all").status_code == 401
    end = datetime.now(UTC) + timedelta(milliseconds=5)

    mine = audit(api, username=name)
    assert mine["total"] == 4 == len(mine["items"])
    assert {event["username"] for event in mine["items"]} == {name}
    assert {event["user_id"] for event in mine["items"]} == {ident}
    times = [event["at"] for event in mine["items"]]
    assert times == sorted(times, reverse=True)  # newest first
    assert mine["items"][0]["outcome"] == "failure"

    assert audit(api, username=name.upper())["total"] == 4
    assert audit(api, username=name, action="login")["total"] == 4
    assert audit(api, username=name, action="logout")["total"] == 0
    assert audit(api, username=f"{name}x")["total"] == 0

    first, second = audit(api, username=name, limit=3), audit(api, username=name, offset=3)
    assert first["total"] == second["total"] == 4
    assert len(first["items"]) == 3 and len(second["items"]) == 1
    assert {e["id"] for e in first["items"]}.isdisjoint(e["id"] for e in second["items"])
    assert audit(api, username=name, offset=4)["items"] == []

    assert audit(api, username=name, since=start.isoformat())["total"] == 4
    assert audit(api, username=name, until=start.isoformat())["total"] == 0
    assert audit(api, username=name, since=end.isoformat())["total"] == 0
    zulu = end.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert audit(api, username=name, since=start.isoformat(), until=zulu)["total"] == 4
    # Any offset means the same moment; no offset means UTC.
    east, west = timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-7))
    assert audit(api, username=name, since=start.astimezone(east).isoformat())["total"] == 4
    assert audit(api, username=name, until=start.astimezone(west).isoformat())["total"] == 0
    assert audit(api, username=name, since=end.astimezone(west).isoformat())["total"] == 0
    naive = start.replace(tzinfo=None).isoformat()
    assert audit(api, username=name, since=naive)["total"] == 4
    assert audit(api, username=name, until=naive)["total"] == 0

    created = audit(api, action="user_create", since=start.isoformat())["items"]
    made = [event for event in created if event["details"].get("target") == name]
    assert len(made) == 1
    assert made[0]["outcome"] == "success" and made[0]["details"]["target_id"] == ident
    assert made[0]["username"] != name  # the admin who did it


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 201},
        {"offset": -1},
        {"since": "yesterday"},
        {"until": "2024-13-01"},
        {"username": "x" * 65},
        {"who": "admin"},
    ],
)
def test_bad_audit_filters_are_422s(api: ApiServer, params: dict[str, Any]) -> None:
    answer = api.get("/api/audit", Role.ADMIN, params=params)
    assert answer.status_code == 422, answer.text
    assert next(iter(params)) in answer.json()["message"]


# --- the last admin: a server of its own, so exactly one admin exists -------------------------
def own_database(suffix: str) -> str:
    """A PostgreSQL database for this module alone, empty and migrated."""
    base, name = PG_URL.rsplit("/", 1)
    url = f"{base}/{name}_{suffix}"
    try:
        empty_database(url)
    except sa.exc.OperationalError as exc:
        _unavailable("PostgreSQL", exc)
    migrate.upgrade(url)
    dispose_engines()
    return url


@pytest.fixture(params=["embedded", "postgres"])
def lone_admin_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ApiServer]:
    env = {} if request.param == "embedded" else {"DATABASE_URL": own_database("api_admin")}
    with api_server(tmp_path, env) as server:
        yield server
    dispose_engines()


def test_the_last_enabled_admin_cannot_be_demoted_or_disabled(
    lone_admin_server: ApiServer,
) -> None:
    server = lone_admin_server
    with admin(server) as client:
        me = client.get("/auth/me").json()["id"]
        demote = client.patch(f"/api/users/{me}", json={"role": "operator"})
        disable = client.patch(f"/api/users/{me}", json={"disabled": True})
        both = client.patch(f"/api/users/{me}", json={"role": "admin", "disabled": True})
        still = client.get("/auth/me")
    for refused in (demote, disable, both):
        assert refused.status_code == 409, refused.text
        assert "last active admin" in refused.json()["message"]
    assert still.status_code == 200 and still.json()["role"] == "admin"

    second = create(server, role="admin").json()
    other = f"/api/users/{second['id']}"
    with admin(server) as client:
        assert client.patch(other, json={"disabled": True}).json()["disabled"] is True
        # A disabled admin does not count: the first is the last enabled one again.
        assert client.patch(f"/api/users/{me}", json={"role": "reader"}).status_code == 409
        assert client.patch(other, json={"disabled": False}).status_code == 200
        demoted = client.patch(f"/api/users/{me}", json={"role": "reader"})
    assert demoted.status_code == 200 and demoted.json()["role"] == "reader"

    # Refused changes are audited too; read as the admin that remains.
    with server.client(server.login(second["username"])["access_token"]) as client:
        events = client.get("/api/audit", params={"limit": 200}).json()["items"]
    refusals = sorted(
        (event["action"], event["details"]["target_id"])
        for event in events
        if event["outcome"] == "refused"
    )
    assert refusals == sorted([("user_role", me)] * 2 + [("user_disable", me)] * 2)
