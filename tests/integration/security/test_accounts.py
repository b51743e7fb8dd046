"""Accounts: creating users, roles, disabling, passwords, the first admin, and the audit log."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from refnet.core.config import Settings
from refnet.core.errors import Conflict, InvalidInput, NotFound
from refnet.db.queries.audit import AuditFilter, list_events
from refnet.db.session import session_scope
from refnet.security import audit
from refnet.security.accounts import (
    UserView,
    bootstrap_admin,
    create_user,
    find_user,
    get_user,
    list_users,
    reset_password,
    set_disabled,
    set_role,
)
from refnet.security.roles import Role
from refnet.security.sessions import Sessions
from tests.integration.security.support import ADMIN, PASSWORD, execute, rows

AddUser = Callable[..., UserView]
NEW_PASSWORD = "amber-lantern-93-orbiting"


def test_a_created_user_is_listed_with_its_role(add_user: AddUser, database_url: str) -> None:
    alice = add_user("Alice.Smith", Role.OPERATOR)
    add_user("bob")
    assert (alice.username, alice.role, alice.disabled) == ("alice.smith", Role.OPERATOR, False)
    assert alice.created_at.tzinfo is not None
    assert [u.username for u in list_users(database_url=database_url)] == ["alice.smith", "bob"]
    assert get_user(database_url=database_url, user_id=alice.id) == alice
    assert find_user(database_url=database_url, username="ALICE.smith") == alice
    stored = rows(database_url, "SELECT password_hash FROM users WHERE id = :id", id=alice.id)
    assert stored[0]["password_hash"].startswith("$argon2id$")


def test_a_taken_name_is_a_conflict_in_any_case(add_user: AddUser) -> None:
    add_user("alice")
    with pytest.raises(Conflict, match="user 'alice' already exists"):
        add_user("ALICE")


@pytest.mark.parametrize(
    ("name", "password", "role", "message"),
    [
        ("al", PASSWORD, "reader", "use 3 to 64 characters"),
        ("a" * 65, PASSWORD, "reader", "use 3 to 64 characters"),
        ("alice smith", PASSWORD, "reader", "letters a-z, digits"),
        ("alice';--", PASSWORD, "reader", "letters a-z, digits"),
        ("alice", "short", "reader", "at least 12 characters"),
        ("alice", "alice-is-my-password", "reader", "contains the user name"),
        ("alice", PASSWORD, "root", "use one of reader, operator, admin"),
    ],
)
def test_bad_input_is_refused_saying_what_is_accepted(
    database_url: str, name: str, password: str, role: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        create_user(
            database_url=database_url, username=name, password=password, role=role, actor=ADMIN
        )
    assert list_users(database_url=database_url) == []


def test_unknown_user_is_not_found(database_url: str) -> None:
    with pytest.raises(NotFound, match="no user with id 99"):
        set_role(database_url=database_url, user_id=99, role=Role.ADMIN, actor=ADMIN)
    with pytest.raises(NotFound, match="no user named 'ghost'"):
        find_user(database_url=database_url, username="ghost")


def test_the_last_active_admin_can_be_neither_demoted_nor_disabled(
    add_user: AddUser, database_url: str
) -> None:
    root = add_user("root", Role.ADMIN)
    with pytest.raises(Conflict, match="root is the last active admin"):
        set_role(database_url=database_url, user_id=root.id, role=Role.OPERATOR, actor=ADMIN)
    with pytest.raises(Conflict, match="root is the last active admin"):
        set_disabled(database_url=database_url, user_id=root.id, disabled=True, actor=ADMIN)
    assert get_user(database_url=database_url, user_id=root.id).role == Role.ADMIN

    second = add_user("second", Role.ADMIN)
    set_disabled(database_url=database_url, user_id=second.id, disabled=True, actor=ADMIN)
    # A disabled admin does not count: root is still the last active one.
    with pytest.raises(Conflict, match="last active admin"):
        set_role(database_url=database_url, user_id=root.id, role=Role.READER, actor=ADMIN)
    set_disabled(database_url=database_url, user_id=second.id, disabled=False, actor=ADMIN)
    demoted = set_role(database_url=database_url, user_id=root.id, role=Role.READER, actor=ADMIN)
    assert demoted.role == Role.READER
    refused = rows(database_url, "SELECT action FROM audit_events WHERE outcome = 'refused'")
    assert [r["action"] for r in refused] == ["user_role", "user_disable", "user_role"]


def test_two_admins_demoting_each_other_at_once_leave_one_admin(
    add_user: AddUser, database_url: str
) -> None:
    first, second = add_user("first", Role.ADMIN), add_user("second", Role.ADMIN)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def demote(user: UserView) -> None:
        barrier.wait()
        try:
            set_role(database_url=database_url, user_id=user.id, role=Role.READER, actor=ADMIN)
            outcomes.append("demoted")
        except Exception as exc:  # Conflict, or a busy database (TransientError)
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=demote, args=(u,)) for u in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    admins = [u for u in list_users(database_url=database_url) if u.role == Role.ADMIN]
    assert len(admins) == 1
    assert outcomes.count("demoted") == 1


def test_a_new_password_replaces_the_old_and_ends_sessions(
    add_user: AddUser, database_url: str, sessions: Sessions
) -> None:
    alice = add_user("alice")
    pair = sessions.login(username="alice", password=PASSWORD, client_ip=None, request_id=None)
    with pytest.raises(InvalidInput, match="too short"):
        reset_password(database_url=database_url, user_id=alice.id, password="short", actor=ADMIN)
    reset_password(database_url=database_url, user_id=alice.id, password=NEW_PASSWORD, actor=ADMIN)
    with pytest.raises(Exception, match="session ended"):
        sessions.authorize(pair.access_token)
    sessions.login(username="alice", password=NEW_PASSWORD, client_ip=None, request_id=None)
    with pytest.raises(Exception, match="invalid username or password"):
        sessions.login(username="alice", password=PASSWORD, client_ip=None, request_id=None)


def bootstrap_settings(url: str, **values: Any) -> Settings:
    """Settings whose database is `url`, with the bootstrap variables given."""
    if url.startswith("sqlite"):
        return Settings(REFNET_DATA_DIR=str(Path(url.split("///", 1)[1]).parent), **values)
    return Settings(database_url=url, **values)


def test_bootstrap_creates_the_first_admin_once(database_url: str) -> None:
    settings = bootstrap_settings(
        database_url, refnet_bootstrap_admin="Root", refnet_bootstrap_admin_password=PASSWORD
    )
    assert settings.effective_database_url == database_url
    created = bootstrap_admin(settings)
    assert created is not None and (created.username, created.role) == ("root", Role.ADMIN)
    with capture_logs() as logs:
        assert bootstrap_admin(settings) is None
    assert any(e["event"] == "bootstrap_admin_ignored" for e in logs)

    # Once another admin takes over and the bootstrapped one is demoted, the variables still
    # do nothing: they are for an empty system only.
    create_user(
        database_url=database_url, username="ops", password=PASSWORD, role="admin", actor=ADMIN
    )
    set_role(database_url=database_url, user_id=created.id, role=Role.READER, actor=ADMIN)
    assert bootstrap_admin(settings) is None
    users = {u.username: u.role for u in list_users(database_url=database_url)}
    assert users == {"ops": Role.ADMIN, "root": Role.READER}
    events = rows(
        database_url, "SELECT username, details FROM audit_events WHERE action = 'user_create'"
    )
    assert events[0]["username"] == "bootstrap"
    assert PASSWORD not in json.dumps(events, default=str)


def test_api_processes_starting_together_bootstrap_one_admin(database_url: str) -> None:
    settings = bootstrap_settings(
        database_url, refnet_bootstrap_admin="root", refnet_bootstrap_admin_password=PASSWORD
    )
    barrier = threading.Barrier(4)
    results: list[object] = []

    def start() -> None:
        barrier.wait()
        try:
            results.append(bootstrap_admin(settings))
        except Exception as exc:
            results.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(isinstance(r, UserView) for r in results) == 1
    assert results.count(None) == 3
    assert [u.username for u in list_users(database_url=database_url)] == ["root"]


def test_bootstrap_does_nothing_when_an_admin_exists(add_user: AddUser, database_url: str) -> None:
    add_user("existing", Role.ADMIN)
    settings = bootstrap_settings(
        database_url,
        refnet_bootstrap_admin="root",
        refnet_bootstrap_admin_password=PASSWORD,
    )
    assert bootstrap_admin(settings) is None
    assert [u.username for u in list_users(database_url=database_url)] == ["existing"]


def test_bootstrap_without_variables_does_nothing(database_url: str) -> None:
    assert bootstrap_admin(bootstrap_settings(database_url)) is None
    assert list_users(database_url=database_url) == []


def test_bootstrap_refuses_a_missing_or_weak_password(database_url: str) -> None:
    missing = bootstrap_settings(database_url, refnet_bootstrap_admin="root")
    with pytest.raises(InvalidInput, match="REFNET_BOOTSTRAP_ADMIN_PASSWORD"):
        bootstrap_admin(missing)
    weak = bootstrap_settings(
        database_url,
        refnet_bootstrap_admin="root",
        refnet_bootstrap_admin_password="changeme",
    )
    with pytest.raises(
        InvalidInput, match="REFNET_BOOTSTRAP_ADMIN / _PASSWORD: the password is too short"
    ) as caught:
        bootstrap_admin(weak)
    assert "changeme" not in str(caught.value)
    assert list_users(database_url=database_url) == []


def test_bootstrap_name_taken_by_a_non_admin_is_a_conflict(
    add_user: AddUser, database_url: str
) -> None:
    add_user("root", Role.READER)
    settings = bootstrap_settings(
        database_url,
        refnet_bootstrap_admin="root",
        refnet_bootstrap_admin_password=PASSWORD,
    )
    with pytest.raises(Conflict, match="exists but is not an admin"):
        bootstrap_admin(settings)


def test_user_changes_are_audited_with_who_did_them(add_user: AddUser, database_url: str) -> None:
    alice = add_user("alice")
    set_role(database_url=database_url, user_id=alice.id, role=Role.OPERATOR, actor=ADMIN)
    set_disabled(database_url=database_url, user_id=alice.id, disabled=True, actor=ADMIN)
    set_disabled(database_url=database_url, user_id=alice.id, disabled=False, actor=ADMIN)
    reset_password(database_url=database_url, user_id=alice.id, password=NEW_PASSWORD, actor=ADMIN)
    with session_scope(database_url) as session:
        total, events = list_events(session=session, filters=AuditFilter(), limit=10, offset=0)
    assert total == 5
    assert [e.action for e in events] == [
        "user_password",
        "user_enable",
        "user_disable",
        "user_role",
        "user_create",
    ]
    assert {(e.username, e.client_ip, e.request_id, e.outcome) for e in events} == {
        ("test-admin", "127.0.0.1", "req-1", "success")
    }
    assert events[3].details == {
        "target_id": alice.id,
        "role": "operator",
        "target": "alice",
        "previous": "reader",
    }
    text = json.dumps([e.details for e in events])
    assert PASSWORD not in text and NEW_PASSWORD not in text


def test_audit_events_filter_and_page_newest_first(database_url: str) -> None:
    actors = [audit.Actor(user_id=n, username=name) for n, name in ((1, "alice"), (2, "bob"))]
    for n in range(6):
        audit.record_alone(
            database_url,
            action="login" if n % 2 else "seed_add",
            outcome="success",
            actor=actors[n % 2],
        )
    with session_scope(database_url) as session:
        total, page = list_events(
            session=session, filters=AuditFilter(username="BOB"), limit=2, offset=1
        )
        assert total == 3 and [e.username for e in page] == ["bob", "bob"]
        assert page[0].id > page[1].id
        total, page = list_events(
            session=session, filters=AuditFilter(action="seed_add"), limit=10, offset=0
        )
        assert total == 3 and {e.action for e in page} == {"seed_add"}
        future = datetime.now(UTC) + timedelta(hours=1)
        total, _ = list_events(
            session=session, filters=AuditFilter(since=future), limit=10, offset=0
        )
        assert total == 0
        local = datetime.now(UTC).astimezone(tz=None) + timedelta(seconds=5)  # aware, any zone
        total, _ = list_events(
            session=session, filters=AuditFilter(until=local), limit=10, offset=0
        )
        assert total == 6


def test_audit_details_never_keep_secrets(database_url: str) -> None:
    details = {
        "paper_id": "ARXIV:2005.11401",
        "password": "hunter2-hunter2",
        "new_password": "x-secret-1",
        "Authorization": "Bearer abc.def.ghi",
        "refresh_token": "r-token-value",
        "nested": {"api_key": "k-123", "depth": 2, "items": [{"client_secret": "s-1", "ok": 1}]},
        "when": datetime(2026, 1, 1, tzinfo=UTC),
    }
    with capture_logs() as logs:
        audit.record_alone(
            database_url, action="crawl_trigger", outcome="success", actor=ADMIN, details=details
        )
    with session_scope(database_url) as session:
        _, [event] = list_events(session=session, filters=AuditFilter(), limit=1, offset=0)
    expected = {
        "paper_id": "ARXIV:2005.11401",
        "nested": {"depth": 2, "items": [{"ok": 1}]},
        "when": "2026-01-01 00:00:00+00:00",
    }
    assert event.details == expected
    [logged] = [e for e in logs if e["event"] == "audit"]
    assert logged["details"] == expected and logged["action"] == "crawl_trigger"


def test_an_unknown_audit_outcome_is_a_programming_error(database_url: str) -> None:
    with pytest.raises(ValueError, match="outcome"):
        audit.record_alone(database_url, action="login", outcome="maybe", actor=ADMIN)
    assert rows(database_url, "SELECT id FROM audit_events") == []
    execute(database_url, "DELETE FROM audit_events")
