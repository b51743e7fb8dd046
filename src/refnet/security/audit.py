"""The audit log: one row per security-relevant act, and the same as a structured log event.

`record` writes in the caller's transaction, so the row commits or rolls back with the act it
describes; `record_alone` commits on its own, for failures whose transaction is rolled back.
Details never carry secrets: any key that looks like one (password, token, secret,
authorization, api key, cookie) is dropped, at any depth.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy.orm import Session

from refnet.db.queries.audit import insert_event
from refnet.db.session import session_scope

if TYPE_CHECKING:
    from refnet.security.tokens import Claims

log = structlog.get_logger("refnet.audit")

OUTCOMES = ("success", "failure", "refused")
SECRET_KEY_PARTS = (
    "password",
    "passwd",
    "token",
    "secret",
    "authorization",
    "api_key",
    "apikey",
    "api-key",
    "cookie",
    "credential",
)
MAX_TEXT = 255


@dataclass
class Actor:
    """Who acts: a signed-in user (API) or a person at the command line."""

    user_id: int | None
    username: str
    client_ip: str | None = None
    request_id: str | None = None

    @classmethod
    def cli(cls) -> Actor:
        try:
            who = getpass.getuser()
        except (OSError, KeyError):  # no passwd entry (some containers)
            who = "unknown"
        return cls(user_id=None, username=f"cli:{who}")

    @classmethod
    def from_claims(
        cls, claims: Claims, *, client_ip: str | None = None, request_id: str | None = None
    ) -> Actor:
        return cls(
            user_id=claims.user_id,
            username=claims.username,
            client_ip=client_ip,
            request_id=request_id,
        )


def record(
    session: Session,
    *,
    action: str,
    outcome: str,
    actor: Actor,
    details: Mapping[str, object] | None = None,
) -> None:
    """Add the event to the caller's transaction and log it."""
    if outcome not in OUTCOMES:
        raise ValueError(f"audit outcome {outcome!r} is not one of {OUTCOMES}")
    clean = without_secrets(details or {})
    fields: dict[str, Any] = {
        "action": action,
        "outcome": outcome,
        "user_id": actor.user_id,
        "username": actor.username[:MAX_TEXT] if actor.username else None,
        "client_ip": actor.client_ip[:45] if actor.client_ip else None,
        "request_id": actor.request_id[:64] if actor.request_id else None,
    }
    insert_event(session=session, details=clean, **fields)
    log.info("audit", **fields, details=clean)


def record_alone(
    database_url: str,
    *,
    action: str,
    outcome: str,
    actor: Actor,
    details: Mapping[str, object] | None = None,
) -> None:
    """`record` in a transaction of its own, committed at once."""
    with session_scope(database_url) as session:
        record(session, action=action, outcome=outcome, actor=actor, details=details)


def looks_secret(key: str) -> bool:
    lowered = key.lower()
    return any(part in lowered for part in SECRET_KEY_PARTS)


def without_secrets(details: Mapping[str, object]) -> dict[str, Any]:
    """A JSON-safe copy of `details` without any key that looks like a secret."""
    cleaned = _drop_secrets(details)
    result: dict[str, Any] = json.loads(json.dumps(cleaned, default=str))
    return result


def _drop_secrets(value: object) -> object:
    if isinstance(value, Mapping):
        return {
            str(key): _drop_secrets(item)
            for key, item in value.items()
            if not looks_secret(str(key))
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_drop_secrets(item) for item in value]
    return value
