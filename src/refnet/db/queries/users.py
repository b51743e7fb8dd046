"""API users: reading, adding, the active admins, and revoking a user's sessions."""

from __future__ import annotations

from sqlalchemy import false, func, select, update
from sqlalchemy.orm import Session

from refnet.db.base import utcnow
from refnet.db.models import AuthSession, User

ADMIN = "admin"


def get_user(*, session: Session, user_id: int, for_update: bool = False) -> User | None:
    """The user; with `for_update`, row-locked until the transaction ends (PostgreSQL)."""
    return session.get(User, user_id, with_for_update=for_update)


def get_user_by_name(*, session: Session, username: str, for_update: bool = False) -> User | None:
    statement = select(User).where(User.username == username)
    if for_update:
        statement = statement.with_for_update()
    return session.scalars(statement).one_or_none()


def list_users(*, session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def add_user(*, session: Session, username: str, password_hash: str, role: str) -> User:
    """Insert a user (IntegrityError if the name is taken)."""
    now = utcnow()
    user = User(
        username=username,
        password_hash=password_hash,
        role=role,
        disabled=False,
        created_at=now,
        updated_at=now,
        password_changed_at=now,
    )
    session.add(user)
    session.flush()
    return user


def count_admins(*, session: Session) -> int:
    """Every admin, disabled or not."""
    return session.scalar(select(func.count()).where(User.role == ADMIN)) or 0


def lock_active_admins(*, session: Session) -> list[int]:
    """Ids of the enabled admins, row-locked in id order (PostgreSQL) so that two changes
    cannot each leave the other as the last admin and then both proceed. SQLite has no row
    locks, and its driver begins a transaction only at the first write: a write that changes
    nothing takes the database's write lock first, so the count stays true until commit."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(User)
            .where(false())
            .values(disabled=User.disabled)
            .execution_options(synchronize_session=False)
        )
    statement = (
        select(User.id)
        .where(User.role == ADMIN, User.disabled.is_(False))
        .order_by(User.id)
        .with_for_update()
    )
    return list(session.scalars(statement))


def revoke_user_sessions(*, session: Session, user_id: int, reason: str) -> list[str]:
    """Revoke every live session of the user; the ids of those it revoked."""
    revoked = session.scalars(
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
        .returning(AuthSession.id)
    )
    return list(revoked)
