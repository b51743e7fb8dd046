"""`refnet users …`: the API's accounts, managed from the command line.

A password is never a command-line argument (it would sit in the shell history and in every
process listing): it is asked for twice, hidden, on a terminal, or read as one line from
standard input (`printf '%s\\n' "$PASSWORD" | refnet users create alice`).
"""

from __future__ import annotations

import sys

import typer
from rich.table import Table

from refnet.cli.common import app, console, errors_as_messages, load_settings, ready_database
from refnet.core.errors import Conflict, InvalidInput, NotFound
from refnet.security.accounts import (
    Actor,
    UserView,
    create_user,
    find_user,
    list_users,
    normalize_username,
    reset_password,
    set_disabled,
    set_role,
)
from refnet.security.roles import Role

users_app = typer.Typer(help="API users and their roles.", no_args_is_help=True)
app.add_typer(users_app, name="users")
ROLES = "|".join(role.value for role in Role)


@users_app.command("create")
def users_create(
    name: str = typer.Argument(..., help="3 to 64 characters: a-z, digits, '.', '_', '-'."),
    role: str = typer.Option(Role.READER.value, "--role", "-r", help=f"{ROLES}."),
) -> None:
    """Create a user; the password comes from a prompt, or one line of standard input."""
    settings = load_settings()
    with errors_as_messages():
        chosen = Role.parse(role)
        username = normalize_username(name)
        url = ready_database(settings)
        _refuse_taken(url, username)
        password = read_password()
        user = create_user(
            database_url=url, username=name, password=password, role=chosen, actor=Actor.cli()
        )
    console.print(f"Created user {user.username} ({user.role}).")


@users_app.command("list")
def users_list() -> None:
    """List every user with role and state."""
    settings = load_settings()
    with errors_as_messages():
        users = list_users(database_url=ready_database(settings))
    if not users:
        console.print("No users yet: `refnet users create NAME --role admin` makes the first.")
        return
    table = Table("user", "role", "state", "created (UTC)", "changed (UTC)")
    for user in users:
        table.add_row(
            user.username,
            user.role.value,
            "disabled" if user.disabled else "enabled",
            f"{user.created_at:%Y-%m-%d %H:%M}",
            f"{user.updated_at:%Y-%m-%d %H:%M}",
        )
    console.print(table)


@users_app.command("set-role")
def users_set_role(
    name: str = typer.Argument(..., help="The user."),
    role: str = typer.Argument(..., help=f"{ROLES}."),
) -> None:
    """Change a user's role (they sign in again)."""
    settings = load_settings()
    with errors_as_messages():
        chosen = Role.parse(role)
        url = ready_database(settings)
        user = _user(url, name)
        changed = set_role(database_url=url, user_id=user.id, role=chosen, actor=Actor.cli())
    console.print(f"{changed.username} is now {changed.role}.")


@users_app.command("disable")
def users_disable(
    name: str = typer.Argument(..., help="The user."),
    enable: bool = typer.Option(False, "--enable", help="Enable the user again instead."),
) -> None:
    """Disable a user (signing them out at once), or with --enable enable them again."""
    settings = load_settings()
    with errors_as_messages():
        url = ready_database(settings)
        user = _user(url, name)
        changed = set_disabled(
            database_url=url, user_id=user.id, disabled=not enable, actor=Actor.cli()
        )
    console.print(f"{changed.username} is {'disabled' if changed.disabled else 'enabled'}.")


@users_app.command("reset-password")
def users_reset_password(name: str = typer.Argument(..., help="The user.")) -> None:
    """Give a user a new password (signing them out); it is read like `create`'s."""
    settings = load_settings()
    with errors_as_messages():
        url = ready_database(settings)
        user = _user(url, name)
        password = read_password()
        changed = reset_password(
            database_url=url, user_id=user.id, password=password, actor=Actor.cli()
        )
    console.print(f"New password set for {changed.username}; their sessions were ended.")


def read_password() -> str:
    """A hidden prompt with confirmation on a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        return password
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise InvalidInput(
            "no password given: type it at the prompt, or pass it as one line on standard input"
        )
    return line


def _user(url: str, name: str) -> UserView:
    return find_user(database_url=url, username=name)


def _refuse_taken(url: str, username: str) -> None:
    """Conflict before the password is asked for, when the name is taken already."""
    try:
        find_user(database_url=url, username=username)
    except NotFound:
        return
    raise Conflict(f"user {username!r} already exists")
