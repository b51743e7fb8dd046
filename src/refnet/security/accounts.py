"""User accounts: create, list, change role, disable, reset password, bootstrap the first admin.

Every change is audited with the acting person (`Actor`), and refused changes are audited too.
No change can leave the system without an enabled admin. Disabling a user, changing their role
or resetting their password revokes their sessions: they sign in again with what is now true.
Functions return plain `UserView`s, never ORM objects.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import exc as sa_exc

from refnet.core.errors import Conflict, InvalidInput, NotFound
from refnet.db.base import as_utc, utcnow
from refnet.db.models import User
from refnet.db.queries import users as queries
from refnet.db.session import session_scope
from refnet.security.audit import Actor, record, record_alone
from refnet.security.passwords import check_policy, hash_password
from refnet.security.roles import Role
from refnet.security.session_cache import session_cache_for

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from refnet.core.config import Settings

__all__ = [
    "Actor",
    "UserView",
    "bootstrap_admin",
    "create_user",
    "find_user",
    "get_user",
    "list_users",
    "normalize_username",
    "reset_password",
    "set_disabled",
    "set_role",
]

log = structlog.get_logger(__name__)
USERNAME = re.compile(r"[a-z0-9._-]{3,64}")
BOOTSTRAP_ACTOR = Actor(user_id=None, username="bootstrap")


@dataclass
class UserView:
    id: int
    username: str
    role: Role
    disabled: bool
    created_at: datetime
    updated_at: datetime


def normalize_username(username: str) -> str:
    """The stored form of a user name (lower case); InvalidInput saying what is allowed."""
    name = username.strip().lower()
    if not USERNAME.fullmatch(name):
        shown = username if len(username) <= 80 else username[:80] + "…"
        raise InvalidInput(
            f"user name {shown!r} is not allowed; use 3 to 64 characters: "
            "letters a-z, digits, '.', '_' or '-'"
        )
    return name


def create_user(
    *,
    database_url: str,
    username: str,
    password: str,
    role: Role | str,
    actor: Actor,
    min_password_length: int | None = None,
) -> UserView:
    """A new enabled user; InvalidInput for a bad name, weak password or unknown role,
    Conflict if the name is taken."""
    details: dict[str, object] = {"target": username[:64], "role": str(role)[:16]}
    with _audited(database_url, "user_create", actor, details):
        name = normalize_username(username)
        details["target"] = name
        chosen = Role.parse(str(role))
        check_policy(password, username=name, min_length=_min_length(min_password_length))
        password_hash = hash_password(password)
        try:
            with session_scope(database_url) as session:
                if queries.get_user_by_name(session=session, username=name) is not None:
                    raise Conflict(f"user {name!r} already exists")
                user = queries.add_user(
                    session=session, username=name, password_hash=password_hash, role=chosen.value
                )
                details["target_id"] = user.id
                record(
                    session, action="user_create", outcome="success", actor=actor, details=details
                )
                return _view(user)
        except sa_exc.IntegrityError:  # created by someone else since we looked
            raise Conflict(f"user {name!r} already exists") from None


def list_users(*, database_url: str) -> list[UserView]:
    with session_scope(database_url) as session:
        return [_view(user) for user in queries.list_users(session=session)]


def get_user(*, database_url: str, user_id: int) -> UserView:
    with session_scope(database_url) as session:
        return _view(_existing(session, user_id))


def find_user(*, database_url: str, username: str) -> UserView:
    """The user by name (any case); NotFound naming it."""
    name = username.strip().lower()
    with session_scope(database_url) as session:
        user = queries.get_user_by_name(session=session, username=name)
        if user is None:
            raise NotFound(f"no user named {username[:80]!r}")
        return _view(user)


def set_role(*, database_url: str, user_id: int, role: Role | str, actor: Actor) -> UserView:
    """Change the user's role (revoking their sessions); Conflict for the last admin."""
    details: dict[str, object] = {"target_id": user_id, "role": str(role)[:16]}
    with _audited(database_url, "user_role", actor, details):
        chosen = Role.parse(str(role))
        with session_scope(database_url) as session:
            admins = queries.lock_active_admins(session=session)
            user = _existing(session, user_id, for_update=True)
            details.update(target=user.username, previous=user.role)
            if chosen != Role.ADMIN and admins == [user.id]:
                raise Conflict(
                    f"{user.username} is the last active admin; make another user admin first"
                )
            if user.role != chosen:
                user.role = chosen.value
                user.updated_at = utcnow()
                _revoke_sessions(session, user.id, "role_changed")
            record(session, action="user_role", outcome="success", actor=actor, details=details)
            return _view(user)


def set_disabled(*, database_url: str, user_id: int, disabled: bool, actor: Actor) -> UserView:
    """Disable (revoking their sessions) or enable the user; Conflict for the last admin."""
    action = "user_disable" if disabled else "user_enable"
    details: dict[str, object] = {"target_id": user_id}
    with _audited(database_url, action, actor, details), session_scope(database_url) as session:
        admins = queries.lock_active_admins(session=session)
        user = _existing(session, user_id, for_update=True)
        details["target"] = user.username
        if disabled and admins == [user.id]:
            raise Conflict(f"{user.username} is the last active admin; it cannot be disabled")
        if user.disabled != disabled:
            user.disabled = disabled
            user.updated_at = utcnow()
        if disabled:
            _revoke_sessions(session, user.id, "disabled")
        record(session, action=action, outcome="success", actor=actor, details=details)
        return _view(user)


def reset_password(
    *,
    database_url: str,
    user_id: int,
    password: str,
    actor: Actor,
    min_password_length: int | None = None,
) -> UserView:
    """Give the user a new password (revoking their sessions)."""
    details: dict[str, object] = {"target_id": user_id}
    with _audited(database_url, "user_password", actor, details):
        username = get_user(database_url=database_url, user_id=user_id).username
        details["target"] = username
        check_policy(password, username=username, min_length=_min_length(min_password_length))
        password_hash = hash_password(password)
        with session_scope(database_url) as session:
            user = _existing(session, user_id, for_update=True)
            now = utcnow()
            user.password_hash = password_hash
            user.password_changed_at = user.updated_at = now
            _revoke_sessions(session, user.id, "password_reset")
            record(session, action="user_password", outcome="success", actor=actor, details=details)
            return _view(user)


def bootstrap_admin(settings: Settings) -> UserView | None:
    """Create REFNET_BOOTSTRAP_ADMIN with REFNET_BOOTSTRAP_ADMIN_PASSWORD when the database has
    no admin at all; otherwise do nothing (and say so in the log)."""
    name, secret = settings.refnet_bootstrap_admin, settings.refnet_bootstrap_admin_password
    if name is None:
        if secret is not None:
            log.warning("bootstrap_admin_ignored", reason="REFNET_BOOTSTRAP_ADMIN is not set")
        return None
    if secret is None:
        raise InvalidInput(
            "REFNET_BOOTSTRAP_ADMIN is set but REFNET_BOOTSTRAP_ADMIN_PASSWORD "
            "(or REFNET_BOOTSTRAP_ADMIN_PASSWORD_FILE) is not"
        )
    url = settings.effective_database_url
    with session_scope(url) as session:
        admins = queries.count_admins(session=session)
    if admins:
        log.info("bootstrap_admin_ignored", reason="an admin exists", username=name)
        return None
    try:
        normalize_username(name)
        check_policy(
            secret.get_secret_value(),
            username=name.lower(),
            min_length=settings.auth.min_password_length,
        )
    except InvalidInput as exc:
        raise InvalidInput(f"REFNET_BOOTSTRAP_ADMIN / _PASSWORD: {exc}") from None
    try:
        user = create_user(
            database_url=url,
            username=name,
            password=secret.get_secret_value(),
            role=Role.ADMIN,
            actor=BOOTSTRAP_ACTOR,
            min_password_length=settings.auth.min_password_length,
        )
    except Conflict:
        with session_scope(url) as session:
            if queries.count_admins(session=session):  # another process bootstrapped it
                return None
        raise Conflict(
            f"REFNET_BOOTSTRAP_ADMIN {name!r} exists but is not an admin; promote it with "
            "`refnet users set-role` or choose another name"
        ) from None
    log.info("bootstrap_admin_created", username=user.username)
    return user


@contextmanager
def _audited(
    database_url: str, action: str, actor: Actor, details: Mapping[str, object]
) -> Iterator[None]:
    """Audit a refused change (its own transaction was rolled back) and let the error pass."""
    try:
        yield
    except (Conflict, InvalidInput, NotFound) as exc:
        outcome = "refused" if isinstance(exc, Conflict) else "failure"
        failure = {**details, "error": str(exc)[:300]}
        record_alone(database_url, action=action, outcome=outcome, actor=actor, details=failure)
        raise


def _revoke_sessions(session: Session, user_id: int, reason: str) -> None:
    """Revoke the user's sessions, and say so to every process's session cache at once (before
    the commit: a request reading the sessions meanwhile cannot cache them as live)."""
    from refnet.core.config import get_settings

    revoked = queries.revoke_user_sessions(session=session, user_id=user_id, reason=reason)
    session_cache_for(get_settings().redis_url).forget(revoked)


def _existing(session: Session, user_id: int, *, for_update: bool = False) -> User:
    user = queries.get_user(session=session, user_id=user_id, for_update=for_update)
    if user is None:
        raise NotFound(f"no user with id {user_id}")
    return user


def _min_length(value: int | None) -> int:
    if value is not None:
        return value
    from refnet.core.config import get_settings

    return get_settings().auth.min_password_length


def _view(user: User) -> UserView:
    return UserView(
        id=user.id,
        username=user.username,
        role=Role(user.role),
        disabled=user.disabled,
        created_at=as_utc(user.created_at),
        updated_at=as_utc(user.updated_at),
    )
