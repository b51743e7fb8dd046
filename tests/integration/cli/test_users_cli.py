"""`refnet users …` as an operator runs it, on the embedded SQLite file and on PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from refnet.core.config import AuthSettings
from refnet.db import migrate
from refnet.db.session import dispose_engines
from refnet.security.lockout import LockedOut
from refnet.security.sessions import LoginRefused
from tests.conftest import PG_URL, empty_database
from tests.integration.security.support import make_sessions

REFNET = str(Path(sys.executable).parent / "refnet")
PASSWORD = "violet-anchor-47-drifting"
NEW_PASSWORD = "amber-lantern-93-orbiting"
CLI_PG_URL = PG_URL + "_users_cli"


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[dict[str, str], str]]:
    """(environment for the command, the database URL it uses)."""
    if request.param == "sqlite":
        yield (
            {"REFNET_DATA_DIR": str(tmp_path / "data")},
            f"sqlite:///{tmp_path / 'data' / 'refnet.sqlite3'}",
        )
        return
    request.getfixturevalue("pg_migrated")  # PostgreSQL is up (or the test fails saying so)
    empty_database(CLI_PG_URL)
    migrate.upgrade(CLI_PG_URL)
    dispose_engines()
    yield {"DATABASE_URL": CLI_PG_URL}, CLI_PG_URL
    dispose_engines()


def refnet(
    env: dict[str, str], *args: str, stdin: str = "", cwd: Path | None = None
) -> tuple[int, str]:
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REFNET_"))},
        **env,
        "COLUMNS": "200",
    }
    result = subprocess.run(
        [REFNET, *args], input=stdin, env=environment, capture_output=True, text=True, cwd=cwd
    )
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    return result.returncode, output


def test_users_are_managed_from_the_command_line(
    target: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    env, url = target
    code, output = refnet(env, "users", "create", "Alice", "--role", "admin", stdin=PASSWORD + "\n")
    assert (code, output.strip()) == (0, "Created user alice (admin).")
    code, output = refnet(env, "users", "create", "bob", stdin=PASSWORD + "\n")
    assert code == 0 and "(reader)" in output

    code, output = refnet(env, "users", "list")
    assert code == 0
    lines = [line for line in output.splitlines() if "alice" in line or "bob" in line]
    assert "admin" in lines[0] and "enabled" in lines[0]
    assert "reader" in lines[1]

    code, output = refnet(env, "users", "set-role", "BOB", "operator")
    assert (code, output.strip()) == (0, "bob is now operator.")
    code, output = refnet(env, "users", "disable", "bob")
    assert (code, output.strip()) == (0, "bob is disabled.")
    listed = refnet(env, "users", "list")[1].splitlines()
    assert "disabled" in next(line for line in listed if "bob" in line)

    sessions = make_sessions(url)
    with pytest.raises(LoginRefused):
        sessions.login(username="bob", password=PASSWORD, client_ip=None, request_id=None)
    code, output = refnet(env, "users", "disable", "bob", "--enable")
    assert (code, output.strip()) == (0, "bob is enabled.")
    pair = sessions.login(username="bob", password=PASSWORD, client_ip=None, request_id=None)
    assert sessions.authorize(pair.access_token).role == "operator"

    code, output = refnet(env, "users", "reset-password", "bob", stdin=NEW_PASSWORD + "\n")
    assert code == 0 and "sessions were ended" in output
    with pytest.raises(Exception, match="session ended"):
        sessions.authorize(pair.access_token)
    sessions = make_sessions(url, AuthSettings(max_failed_logins=10))
    with pytest.raises(LoginRefused):
        sessions.login(username="bob", password=PASSWORD, client_ip=None, request_id=None)
    sessions.login(username="bob", password=NEW_PASSWORD, client_ip=None, request_id=None)


def test_the_last_admin_is_kept(target: tuple[dict[str, str], str]) -> None:
    env, _ = target
    assert refnet(env, "users", "create", "root", "--role", "admin", stdin=PASSWORD + "\n")[0] == 0
    code, output = refnet(env, "users", "set-role", "root", "reader")
    assert code == 1 and "root is the last active admin" in output
    code, output = refnet(env, "users", "disable", "root")
    assert code == 1 and "root is the last active admin" in output


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["create", "al"], PASSWORD, "use 3 to 64 characters"),
        (["create", "alice", "--role", "root"], PASSWORD, "use one of reader, operator, admin"),
        (["create", "alice"], "Kp9x!w", "at least 12 characters"),
        (["create", "alice"], "", "no password given"),
        (["set-role", "alice", "superuser"], "", "use one of reader, operator, admin"),
    ],
)
def test_bad_input_exits_2_with_the_reason(
    target: tuple[dict[str, str], str], args: list[str], stdin: str, message: str
) -> None:
    env, _ = target
    code, output = refnet(env, "users", *args, stdin=stdin + "\n" if stdin else "")
    assert code == 2, output
    assert message in output
    if stdin:
        assert stdin not in output


def test_a_password_is_never_an_argument(target: tuple[dict[str, str], str]) -> None:
    env, _ = target
    code, output = refnet(env, "users", "create", "alice", PASSWORD, stdin=PASSWORD + "\n")
    assert code == 2 and "unexpected extra argument" in output.lower()
    assert refnet(env, "users", "list")[1].count("alice") == 0


def test_a_taken_name_or_an_unknown_user_is_reported(target: tuple[dict[str, str], str]) -> None:
    env, _ = target
    assert refnet(env, "users", "create", "alice", stdin=PASSWORD + "\n")[0] == 0
    code, output = refnet(env, "users", "create", "ALICE", stdin=NEW_PASSWORD + "\n")
    assert code == 1 and "user 'alice' already exists" in output
    for args in (
        ["set-role", "ghost", "reader"],
        ["disable", "ghost"],
        ["reset-password", "ghost"],
    ):
        code, output = refnet(env, "users", *args, stdin=NEW_PASSWORD + "\n")
        assert code == 1 and "no user named 'ghost'" in output


def test_an_empty_database_lists_how_to_begin(target: tuple[dict[str, str], str]) -> None:
    env, _ = target
    code, output = refnet(env, "users", "list")
    assert code == 0 and "refnet users create NAME --role admin" in output


def test_the_lockout_counts_are_per_process_without_redis(
    target: tuple[dict[str, str], str],
) -> None:
    """Without REDIS_URL the lockout lives in memory: a second service does not see the
    first's failures (the stack shares them through Redis; see tests/integration/security)."""
    env, url = target
    assert refnet(env, "users", "create", "alice", stdin=PASSWORD + "\n")[0] == 0
    first, second = make_sessions(url), make_sessions(url)
    for _ in range(3):
        with pytest.raises(LoginRefused):
            first.login(
                username="alice", password="wrong-password", client_ip=None, request_id=None
            )
    with pytest.raises(LockedOut):
        first.login(username="alice", password=PASSWORD, client_ip=None, request_id=None)
    second.login(username="alice", password=PASSWORD, client_ip=None, request_id=None)
