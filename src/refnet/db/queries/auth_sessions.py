"""Sign-in sessions and the refresh tokens rotated within them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from refnet.db.base import utcnow
from refnet.db.models import AuthSession, RefreshToken, User


def add_session(
    *,
    session: Session,
    session_id: str,
    user_id: int,
    client_ip: str | None,
    expires_at: datetime,
) -> AuthSession:
    row = AuthSession(
        id=session_id,
        user_id=user_id,
        client_ip=client_ip,
        created_at=utcnow(),
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return row


def get_session_and_user(*, session: Session, session_id: str) -> tuple[AuthSession, User] | None:
    """The session with its user, in one query."""
    row = session.execute(
        select(AuthSession, User)
        .join(User, User.id == AuthSession.user_id)
        .where(AuthSession.id == session_id)
    ).one_or_none()
    return None if row is None else (row[0], row[1])


def revoke_session(*, session: Session, session_id: str, reason: str) -> bool:
    """Revoke the session unless it already is; whether this call revoked it."""
    result = session.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )
    return bool(getattr(result, "rowcount", 0))


def extend_session(*, session: Session, session_id: str, expires_at: datetime) -> None:
    session.execute(
        update(AuthSession).where(AuthSession.id == session_id).values(expires_at=expires_at)
    )


def add_refresh_token(
    *, session: Session, jti: str, session_id: str, token_hash: str, expires_at: datetime
) -> None:
    session.add(
        RefreshToken(jti=jti, session_id=session_id, token_hash=token_hash, expires_at=expires_at)
    )
    session.flush()


def get_refresh_token(*, session: Session, jti: str) -> RefreshToken | None:
    return session.get(RefreshToken, jti)


def claim_refresh_token(*, session: Session, jti: str) -> bool:
    """Mark the token used unless it already was (compare-and-set): True for the one caller
    that may exchange it, False for a replay."""
    result = session.execute(
        update(RefreshToken)
        .where(RefreshToken.jti == jti, RefreshToken.used_at.is_(None))
        .values(used_at=utcnow())
    )
    return bool(getattr(result, "rowcount", 0))


def purge_expired_tokens(*, session: Session, session_id: str, before: datetime) -> None:
    """Forget the session's refresh tokens that expired before `before` (replaying one is
    refused by its own expiry)."""
    session.execute(
        delete(RefreshToken)
        .where(RefreshToken.session_id == session_id, RefreshToken.expires_at < before)
        .execution_options(synchronize_session=False)
    )


def purge_expired_sessions(*, session: Session, user_id: int, before: datetime) -> None:
    """Forget the user's sessions that expired before `before` (their tokens go with them)."""
    session.execute(
        delete(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.expires_at < before)
        .execution_options(synchronize_session=False)
    )
