"""Signing in and out: logins, refresh-token rotation, logout, and checking access tokens.

A login opens a session (a refresh-token family). Each refresh exchanges the refresh token for
a new pair in the same session and marks the old one used; presenting a used one again means
it was stolen or replayed, so the whole session is revoked and its holder must sign in again.
Every access token names its session, so revoking the session (logout, reuse, a disabled user,
a role change, a password reset) stops the access token as well. The role a request acts with
is read from the database, not from the token.

A failed login says only "invalid username or password", whether the user is unknown, the
password wrong or the account disabled, and takes as long in each case.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass, replace
from datetime import timedelta
from time import time
from typing import TYPE_CHECKING

import structlog

from refnet.core.errors import PermanentError, TransientError
from refnet.db.base import as_utc, utcnow
from refnet.db.models import AuthSession, User
from refnet.db.queries import auth_sessions as store
from refnet.db.queries.users import get_user_by_name
from refnet.db.session import read_scope, session_scope
from refnet.security.audit import Actor, record, record_alone
from refnet.security.lockout import LockedOut, Lockout
from refnet.security.passwords import hash_password, needs_rehash, verify_password
from refnet.security.passwords import waste_verification as _waste_verification
from refnet.security.roles import Role
from refnet.security.session_cache import (
    LiveSession,
    NoSessionCache,
    Revoked,
    SessionCache,
    session_cache_for,
)
from refnet.security.tokens import Claims, Keyring, TokenError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from refnet.core.config import AuthSettings, Settings

__all__ = ["LockedOut", "LoginRefused", "Sessions", "TokenError", "TokenPair"]

log = structlog.get_logger(__name__)
MAX_NAME = 255


@dataclass(kw_only=True)
class TokenPair:
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int  # seconds the access token lives


class LoginRefused(PermanentError):
    """Wrong credentials; the same message whatever was wrong."""

    def __init__(self) -> None:
        super().__init__("invalid username or password")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    def __init__(
        self,
        *,
        database_url: str,
        keyring: Keyring,
        auth: AuthSettings,
        lockout: Lockout,
        cache: SessionCache | None = None,
    ) -> None:
        self.database_url = database_url
        self.keyring = keyring
        self.auth = auth
        self.lockout = lockout
        self.cache = cache or NoSessionCache()
        self.access_lifetime = timedelta(minutes=auth.access_token_minutes)
        self.refresh_lifetime = timedelta(days=auth.refresh_token_days)

    @classmethod
    def from_settings(cls, settings: Settings) -> Sessions:
        return cls(
            database_url=settings.effective_database_url,
            keyring=Keyring.from_settings(settings),
            auth=settings.auth,
            lockout=Lockout.from_settings(settings),
            cache=session_cache_for(settings.redis_url),
        )

    def login(
        self, *, username: str, password: str, client_ip: str | None, request_id: str | None
    ) -> TokenPair:
        """A token pair for the right password; LoginRefused, LockedOut, or TransientError
        when the lockout counts cannot be reached."""
        name = username.strip().lower()[:MAX_NAME]
        actor = Actor(user_id=None, username=name, client_ip=client_ip, request_id=request_id)
        try:
            self.lockout.check(name, client_ip)
        except LockedOut:
            self._audit_alone("login", "refused", actor, {"reason": "locked_out"})
            raise
        reason: str | None = None
        pair: TokenPair | None = None
        with session_scope(self.database_url) as session:
            user = get_user_by_name(session=session, username=name)
            if user is None:
                _waste_verification()
                reason = "unknown_user"
            elif not verify_password(user.password_hash, password):
                reason = "wrong_password"
            elif user.disabled:
                reason = "disabled"
            if user is not None:
                actor.user_id = user.id
            if user is not None and reason is None:
                if needs_rehash(user.password_hash):
                    user.password_hash = hash_password(password)
                pair, session_id = self._open_session(session, user, client_ip)
                details = {"session_id": session_id}
                record(session, action="login", outcome="success", actor=actor, details=details)
        if pair is None:
            self._audit_alone("login", "failure", actor, {"reason": reason})
            self.lockout.failed(name, client_ip)
            raise LoginRefused()
        try:
            self.lockout.succeeded(name)
        except TransientError:
            log.warning("login_lockout_not_cleared", username=name)
        return pair

    def refresh(
        self, *, refresh_token: str, client_ip: str | None, request_id: str | None
    ) -> TokenPair:
        """A new pair for an unused refresh token of a live session; TokenError otherwise. A
        used one revokes its session."""
        actor = Actor(user_id=None, username="", client_ip=client_ip, request_id=request_id)
        try:
            claims = self.keyring.decode(refresh_token, expected_type="refresh")
            actor.user_id, actor.username = claims.user_id, claims.username
            with session_scope(self.database_url) as session:
                pair = self._rotate(session, claims, refresh_token, actor)
        except TokenError as exc:
            self._audit_alone("refresh", "failure", actor, {"reason": str(exc)})
            raise
        if pair is None:
            self.cache.forget([claims.session_id])
            raise TokenError("refresh token reuse detected; sign in again")
        return pair

    def logout(
        self,
        *,
        claims: Claims,
        refresh_token: str | None,
        client_ip: str | None,
        request_id: str | None,
    ) -> None:
        """Revoke the session of the access token (and of the refresh token given, if it is
        another session of the same user)."""
        actor = Actor.from_claims(claims, client_ip=client_ip, request_id=request_id)
        ended = [claims.session_id]
        if refresh_token:
            try:
                other = self.keyring.decode(refresh_token, expected_type="refresh")
                if other.user_id == claims.user_id and other.session_id not in ended:
                    ended.append(other.session_id)
            except TokenError:
                pass  # a bad refresh token cannot be revoked and does not need to be
        with session_scope(self.database_url) as session:
            for session_id in ended:
                store.revoke_session(session=session, session_id=session_id, reason="logout")
            details = {"session_ids": ended}
            record(session, action="logout", outcome="success", actor=actor, details=details)
            self.cache.forget(ended)

    def authorize(self, access_token: str) -> Claims:
        """The claims of a valid access token whose session is live and whose user is
        enabled, with the role the database holds now (or held within the session cache's
        lifetime); TokenError otherwise."""
        claims = self.keyring.decode(access_token, expected_type="access")
        return self.from_cache(claims, self.cache.get(claims.session_id)) or self.confirm(claims)

    def from_cache(self, claims: Claims, cached: LiveSession | Revoked | None) -> Claims | None:
        """`authorize`'s answer from what the session cache holds; None when it cannot say."""
        if isinstance(cached, Revoked):
            raise TokenError("session ended; sign in again")
        if cached is not None and cached.user_id == claims.user_id and cached.expires_at > time():
            return replace(claims, role=Role(cached.role), username=cached.username)
        return None

    def confirm(self, claims: Claims) -> Claims:
        """`authorize`'s answer from the database (decoded claims in), remembered in the cache."""
        with read_scope(self.database_url) as own:
            auth_session, user = self._live(own, claims)
        live = LiveSession(
            user_id=user.id,
            username=user.username,
            role=user.role,
            expires_at=as_utc(auth_session.expires_at).timestamp(),
        )
        self.cache.remember(claims.session_id, live)
        return replace(claims, role=Role(user.role), username=user.username)

    def _live_user(self, session: Session, claims: Claims) -> User:
        return self._live(session, claims)[1]

    def _live(self, session: Session, claims: Claims) -> tuple[AuthSession, User]:
        found = store.get_session_and_user(session=session, session_id=claims.session_id)
        if found is None:
            raise TokenError("session ended; sign in again")
        auth_session, user = found
        if user.id != claims.user_id:
            raise TokenError("invalid token")
        if auth_session.revoked_at is not None:
            raise TokenError("session ended; sign in again")
        if as_utc(auth_session.expires_at) <= utcnow():
            raise TokenError("session expired; sign in again")
        if user.disabled:
            raise TokenError("account disabled")
        return auth_session, user

    def _rotate(
        self, session: Session, claims: Claims, refresh_token: str, actor: Actor
    ) -> TokenPair | None:
        """The next pair, or None (and the session revoked) for a token already used."""
        row = store.get_refresh_token(session=session, jti=claims.jti)
        if (
            row is None
            or row.session_id != claims.session_id
            or not hmac.compare_digest(row.token_hash, token_hash(refresh_token))
        ):
            raise TokenError("invalid token")
        user = self._live_user(session, claims)
        if not store.claim_refresh_token(session=session, jti=claims.jti):
            store.revoke_session(session=session, session_id=claims.session_id, reason="reuse")
            details = {"reason": "reuse", "session_id": claims.session_id}
            record(session, action="refresh", outcome="refused", actor=actor, details=details)
            log.warning("refresh_token_reuse", session_id=claims.session_id, user_id=user.id)
            return None
        now = utcnow()
        store.purge_expired_tokens(session=session, session_id=claims.session_id, before=now)
        pair = self._issue_pair(session, user, claims.session_id)
        store.extend_session(
            session=session, session_id=claims.session_id, expires_at=now + self.refresh_lifetime
        )
        details = {"session_id": claims.session_id}
        record(session, action="refresh", outcome="success", actor=actor, details=details)
        return pair

    def _open_session(
        self, session: Session, user: User, client_ip: str | None
    ) -> tuple[TokenPair, str]:
        now = utcnow()
        store.purge_expired_sessions(session=session, user_id=user.id, before=now)
        session_id = str(uuid.uuid4())
        store.add_session(
            session=session,
            session_id=session_id,
            user_id=user.id,
            client_ip=client_ip[:45] if client_ip else None,
            expires_at=now + self.refresh_lifetime,
        )
        return self._issue_pair(session, user, session_id), session_id

    def _issue_pair(self, session: Session, user: User, session_id: str) -> TokenPair:
        role = Role(user.role)
        access, _ = self.keyring.issue(
            user_id=user.id,
            username=user.username,
            role=role,
            session_id=session_id,
            token_type="access",
            lifetime=self.access_lifetime,
        )
        refresh, refresh_claims = self.keyring.issue(
            user_id=user.id,
            username=user.username,
            role=role,
            session_id=session_id,
            token_type="refresh",
            lifetime=self.refresh_lifetime,
        )
        store.add_refresh_token(
            session=session,
            jti=refresh_claims.jti,
            session_id=session_id,
            token_hash=token_hash(refresh),
            expires_at=refresh_claims.expires_at,
        )
        return TokenPair(
            access_token=access,
            refresh_token=refresh,
            expires_in=int(self.access_lifetime.total_seconds()),
        )

    def _audit_alone(
        self, action: str, outcome: str, actor: Actor, details: dict[str, object]
    ) -> None:
        record_alone(
            self.database_url, action=action, outcome=outcome, actor=actor, details=details
        )
