"""Helpers for the security tests: a sign-in service over a real database, and raw SQL."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from limits.storage import MemoryStorage

from refnet.core.config import AuthSettings
from refnet.db.session import get_engine
from refnet.security.accounts import Actor
from refnet.security.lockout import Lockout
from refnet.security.sessions import Sessions
from refnet.security.tokens import Keyring

SECRET = "integration-signing-secret-0123456789abcdefgh"
PASSWORD = "violet-anchor-47-drifting"
ADMIN = Actor(user_id=None, username="test-admin", client_ip="127.0.0.1", request_id="req-1")
AUTH = AuthSettings(max_failed_logins=3, max_failed_logins_per_client=5, lockout_minutes=15)


def make_sessions(database_url: str, auth: AuthSettings = AUTH) -> Sessions:
    """Sign-in over `database_url` with an in-memory lockout of this process."""
    keyring = Keyring(signing_secret=SECRET, issuer=auth.issuer, audience=auth.audience)
    lockout = Lockout(
        storage=MemoryStorage(),
        max_per_user=auth.max_failed_logins,
        max_per_client=auth.max_failed_logins_per_client,
        window_minutes=auth.lockout_minutes,
    )
    return Sessions(database_url=database_url, keyring=keyring, auth=auth, lockout=lockout)


def rows(database_url: str, query: str, **params: Any) -> list[dict[str, Any]]:
    with get_engine(database_url).connect() as connection:
        return [dict(row._mapping) for row in connection.execute(sa.text(query), params)]


def execute(database_url: str, statement: str, **params: Any) -> None:
    with get_engine(database_url).begin() as connection:
        connection.execute(sa.text(statement), params)
