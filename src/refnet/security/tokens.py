"""JSON Web Tokens (PyJWT): access and refresh tokens signed with HS256 and a key id.

The algorithm is pinned: a token naming any other (`none`, RS256, …) is refused, and no key is
ever taken from a token. Every token carries `kid` (a fingerprint of its signing secret), so the
secret can be rotated: the new one signs, the former ones (JWT_PREVIOUS_SECRETS) still verify
until the tokens they signed have expired, and a token is checked only against the key its
`kid` names. Claims `sub exp iat nbf iss aud jti type roles sid name` are all required.

`TokenError`'s message is safe to show a client: it never says which check failed beyond
"expired", "not yet valid", "wrong type", or "invalid".
"""

from __future__ import annotations

import hashlib
import os
import secrets
import tempfile
import time
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import jwt
import structlog

from refnet.core.errors import InvalidInput, PermanentError
from refnet.security.roles import Role

if TYPE_CHECKING:
    from refnet.core.config import Settings

log = structlog.get_logger(__name__)

ALGORITHM = "HS256"
LEEWAY = timedelta(seconds=10)  # clock skew tolerated between API processes
MAX_TOKEN_LENGTH = 4096
VERIFIED_TOKENS = 10_000  # access tokens whose check `decode_access` remembers
TokenType = Literal["access", "refresh"]
REQUIRED_CLAIMS = ("sub", "exp", "iat", "nbf", "iss", "aud", "jti", "type", "roles", "sid", "name")
DEV_SECRET_FILE = "jwt-secret"


class TokenError(PermanentError):
    """A token that cannot be accepted; the message is safe to show a client."""


@dataclass(frozen=True)
class Claims:
    user_id: int
    username: str
    role: Role
    session_id: str
    jti: str
    token_type: TokenType
    expires_at: datetime


def key_id(secret: str) -> str:
    """The `kid` of a signing secret: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


class Keyring:
    """Signs with one secret; verifies with that one and the former ones."""

    def __init__(
        self,
        *,
        signing_secret: str,
        previous_secrets: Sequence[str] = (),
        issuer: str,
        audience: str,
        leeway: timedelta = LEEWAY,
    ) -> None:
        if not signing_secret:
            raise ValueError("the signing secret is empty")
        self._signing_secret = signing_secret
        self.signing_kid = key_id(signing_secret)
        self._keys = {key_id(s): s for s in previous_secrets if s}
        self._keys[self.signing_kid] = signing_secret
        self.issuer = issuer
        self.audience = audience
        self.leeway = min(leeway, LEEWAY)
        self._verified: OrderedDict[str, Claims] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: Settings) -> Keyring:
        """The keyring of JWT_SECRET and JWT_PREVIOUS_SECRETS; InvalidInput (naming
        JWT_SECRET) in production when it is unset."""
        signing, previous = load_jwt_secrets(settings)
        return cls(
            signing_secret=signing,
            previous_secrets=previous,
            issuer=settings.auth.issuer,
            audience=settings.auth.audience,
        )

    @property
    def key_ids(self) -> list[str]:
        return list(self._keys)

    def issue(
        self,
        *,
        user_id: int,
        username: str,
        role: Role,
        session_id: str,
        token_type: TokenType,
        lifetime: timedelta,
        now: datetime | None = None,
    ) -> tuple[str, Claims]:
        """A signed token and its claims; `now` is for tests of expiry."""
        issued = (now or datetime.now(UTC)).replace(microsecond=0)
        expires = issued + lifetime
        claims = Claims(
            user_id=user_id,
            username=username,
            role=Role(role),
            session_id=session_id,
            jti=uuid.uuid4().hex,
            token_type=token_type,
            expires_at=expires,
        )
        payload = {
            "sub": str(user_id),
            "name": username,
            "roles": [claims.role.value],
            "sid": session_id,
            "jti": claims.jti,
            "type": token_type,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": int(issued.timestamp()),
            "nbf": int(issued.timestamp()),
            "exp": int(expires.timestamp()),
        }
        token = jwt.encode(
            payload, self._signing_secret, algorithm=ALGORITHM, headers={"kid": self.signing_kid}
        )
        return token, claims

    def decode_access(self, token: str) -> Claims:
        """`decode(token, expected_type="access")`, remembering the answer for the token's
        lifetime: a client sends the same token with every request, and checking its signature
        again proves nothing new. Only for one thread (the API's event loop)."""
        claims = self._verified.get(token)
        if claims is not None and claims.expires_at.timestamp() > time.time():
            self._verified.move_to_end(token)
            return claims
        claims = self.decode(token, expected_type="access")
        self._verified[token] = claims
        if len(self._verified) > VERIFIED_TOKENS:
            self._verified.popitem(last=False)
        return claims

    def decode(self, token: str, *, expected_type: TokenType) -> Claims:
        """The token's claims once signature, key id, times, issuer, audience, type and every
        required claim are checked; TokenError otherwise."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
            raise TokenError("invalid token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenError("invalid token") from None
        kid = header.get("kid")
        secret = self._keys.get(kid) if isinstance(kid, str) else None
        if header.get("alg") != ALGORITHM or secret is None:
            raise TokenError("invalid token")
        try:
            payload = jwt.decode(
                token,
                secret,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("token expired") from None
        except jwt.ImmatureSignatureError:
            raise TokenError("token not yet valid") from None
        except jwt.PyJWTError:
            raise TokenError("invalid token") from None
        return _claims(payload, expected_type)


def _claims(payload: dict[str, Any], expected_type: TokenType) -> Claims:
    token_type = payload["type"]
    if token_type not in ("access", "refresh"):
        raise TokenError("invalid token")
    if token_type != expected_type:
        article = "an" if expected_type == "access" else "a"
        raise TokenError(f"wrong token type: expected {article} {expected_type} token")
    roles, sub = payload["roles"], payload["sub"]
    fields = (payload["sid"], payload["jti"], payload["name"])
    if (
        not isinstance(roles, list)
        or len(roles) != 1
        or roles[0] not in Role.__members__.values()
        or not (isinstance(sub, str) and sub.isdigit())
        or not all(isinstance(value, str) and value for value in fields)
    ):
        raise TokenError("invalid token")
    return Claims(
        user_id=int(sub),
        username=payload["name"],
        role=Role(roles[0]),
        session_id=payload["sid"],
        jti=payload["jti"],
        token_type=token_type,
        expires_at=datetime.fromtimestamp(int(payload["exp"]), UTC),
    )


def load_jwt_secrets(settings: Settings) -> tuple[str, list[str]]:
    """(signing secret, former secrets still verified). Without JWT_SECRET: refused in
    production, else a random secret kept in `<data dir>/jwt-secret`."""
    previous = [secret.get_secret_value() for secret in settings.jwt_previous_secrets]
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value(), previous
    if settings.environment == "production":
        raise InvalidInput(
            "JWT_SECRET is not set; ENVIRONMENT=production needs a random secret of at least "
            "32 characters in JWT_SECRET or JWT_SECRET_FILE, e.g. the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
        )
    return development_secret(settings.data_dir / DEV_SECRET_FILE), previous


def development_secret(path: Path) -> str:
    """The secret in `path`, created once (mode 0600) if missing. Creation is a hard link of a
    complete temporary file, so concurrent processes all end up with the same secret."""
    secret = _read_secret(path)
    if secret is not None:
        return secret
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:  # mkstemp: mode 0600
            file.write(secrets.token_urlsafe(48) + "\n")
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
            log.info("jwt_secret_generated", path=str(path))
        except FileExistsError:
            pass  # another process created it first: use theirs
    finally:
        os.unlink(temporary)
    secret = _read_secret(path)
    if secret is None:
        raise InvalidInput(f"{path} is empty; delete it, or set JWT_SECRET")
    return secret


def _read_secret(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None
