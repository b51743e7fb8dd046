"""Access and refresh tokens: what is accepted, and every forgery that is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from refnet.security.roles import Role
from refnet.security.tokens import Keyring, TokenError, TokenType, key_id

SECRET = "unit-test-signing-secret-0123456789abcdefghij"
OLD_SECRET = "the-previous-signing-secret-9876543210zyxwvu"
# A public key an attacker knows: signing HS256 with it as the HMAC secret is the classic
# algorithm-confusion attack on servers that verify RS256 with a key taken from the token.
PUBLIC_KEY = """-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo
4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u
+qKhbwKfBstIs+bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyeh
kd3qqGElvW/VDL5AaWTg0nLVkjRo9z+40RQzuVaE8AkAFmxZzow3x+VJYKdjykkJ
0iT9wCS0DRTXu269V264Vf/3jvredZiKRkgwlL9xNAwxXFg0x/XFw005UWVRIkdg
cKWTjpBP2dPwVZ4WWC+9aGVd+Gyn1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbc
mwIDAQAB
-----END PUBLIC KEY-----"""


def keyring(secret: str = SECRET, previous: tuple[str, ...] = ()) -> Keyring:
    return Keyring(
        signing_secret=secret, previous_secrets=previous, issuer="refnet", audience="refnet-api"
    )


def issue(
    ring: Keyring | None = None,
    *,
    token_type: TokenType = "access",
    lifetime: timedelta = timedelta(minutes=15),
    now: datetime | None = None,
) -> str:
    token, _ = (ring or keyring()).issue(
        user_id=7,
        username="alice",
        role=Role.OPERATOR,
        session_id="5f0c1a9e-0000-4000-8000-000000000001",
        token_type=token_type,
        lifetime=lifetime,
        now=now,
    )
    return token


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], payload: dict[str, Any], secret: bytes | None) -> str:
    """A token built by hand, signed HS256 with `secret`, or unsigned."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    if secret is None:
        return signing_input + "."
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def valid_payload(**changes: Any) -> dict[str, Any]:
    now = int(datetime.now(UTC).timestamp())
    payload = {
        "sub": "7",
        "name": "alice",
        "roles": ["reader"],
        "sid": "5f0c1a9e-0000-4000-8000-000000000001",
        "jti": "0123456789abcdef",
        "type": "access",
        "iss": "refnet",
        "aud": "refnet-api",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    payload.update(changes)
    return {k: v for k, v in payload.items() if v is not None}


def refused(token: str, expected: TokenType = "access") -> str:
    with pytest.raises(TokenError) as caught:
        keyring().decode(token, expected_type=expected)
    return str(caught.value)


def test_an_issued_token_decodes_to_its_claims() -> None:
    ring = keyring()
    token, issued = ring.issue(
        user_id=7,
        username="alice",
        role=Role.OPERATOR,
        session_id="sid-1",
        token_type="access",
        lifetime=timedelta(minutes=15),
    )
    claims = ring.decode(token, expected_type="access")
    assert claims == issued
    assert (claims.user_id, claims.username, claims.role) == (7, "alice", Role.OPERATOR)
    assert claims.session_id == "sid-1" and claims.token_type == "access"
    assert timedelta(minutes=14) < claims.expires_at - datetime.now(UTC) <= timedelta(minutes=15)
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT", "kid": key_id(SECRET)}


def test_a_hand_built_token_with_the_right_key_is_accepted() -> None:
    """The forgery helper itself builds tokens the keyring accepts, so the refusals below are
    refusals of the one thing each changes."""
    token = forge({"alg": "HS256", "kid": key_id(SECRET)}, valid_payload(), SECRET.encode())
    assert keyring().decode(token, expected_type="access").user_id == 7


def test_expired_token_is_refused() -> None:
    token = issue(now=datetime.now(UTC) - timedelta(hours=1))
    assert refused(token) == "token expired"


def test_expiry_tolerates_a_few_seconds_of_clock_skew_and_no_more() -> None:
    just_expired = issue(
        lifetime=timedelta(seconds=60), now=datetime.now(UTC) - timedelta(seconds=65)
    )
    assert keyring().decode(just_expired, expected_type="access").user_id == 7
    long_expired = issue(
        lifetime=timedelta(seconds=60), now=datetime.now(UTC) - timedelta(seconds=75)
    )
    assert refused(long_expired) == "token expired"


def test_not_yet_valid_token_is_refused() -> None:
    token = issue(now=datetime.now(UTC) + timedelta(minutes=5))
    assert refused(token) == "token not yet valid"


@pytest.mark.parametrize(("claim", "value"), [("aud", "someone-else"), ("iss", "evil")])
def test_wrong_audience_or_issuer_is_refused(claim: str, value: str) -> None:
    token = forge(
        {"alg": "HS256", "kid": key_id(SECRET)}, valid_payload(**{claim: value}), SECRET.encode()
    )
    assert refused(token) == "invalid token"


@pytest.mark.parametrize(
    "claim", ["sub", "exp", "iat", "nbf", "iss", "aud", "jti", "type", "roles", "sid", "name"]
)
def test_a_token_missing_any_claim_is_refused(claim: str) -> None:
    token = forge(
        {"alg": "HS256", "kid": key_id(SECRET)}, valid_payload(**{claim: None}), SECRET.encode()
    )
    assert refused(token) == "invalid token"


@pytest.mark.parametrize(
    "changes",
    [
        {"roles": ["superuser"]},
        {"roles": "admin"},
        {"roles": ["reader", "admin"]},
        {"roles": []},
        {"sub": "alice"},
        {"sub": 7},
        {"type": "id"},
        {"sid": ""},
    ],
)
def test_malformed_claims_are_refused(changes: dict[str, Any]) -> None:
    token = forge(
        {"alg": "HS256", "kid": key_id(SECRET)}, valid_payload(**changes), SECRET.encode()
    )
    assert refused(token) == "invalid token"


def test_alg_none_is_refused() -> None:
    for alg in ("none", "None", "NONE"):
        token = forge({"alg": alg, "kid": key_id(SECRET)}, valid_payload(roles=["admin"]), None)
        assert refused(token) == "invalid token"


def test_unsigned_token_with_hs256_header_is_refused() -> None:
    token = forge({"alg": "HS256", "kid": key_id(SECRET)}, valid_payload(), None)
    assert refused(token) == "invalid token"


def test_token_signed_with_another_key_is_refused() -> None:
    other = "an-attackers-own-secret-0123456789abcdefghijk"
    # Claims its kid is ours: the signature still does not match.
    token = forge({"alg": "HS256", "kid": key_id(SECRET)}, valid_payload(), other.encode())
    assert refused(token) == "invalid token"
    # Its own kid: no such key.
    assert refused(issue(keyring(other))) == "invalid token"


def test_public_key_used_as_an_hmac_secret_is_refused() -> None:
    for alg in ("HS256", "RS256"):
        for kid in (key_id(SECRET), key_id(PUBLIC_KEY)):
            token = forge({"alg": alg, "kid": kid}, valid_payload(), PUBLIC_KEY.encode())
            assert refused(token) == "invalid token"


def test_a_key_named_by_the_token_is_never_used() -> None:
    attacker = b"attacker-chosen-key-0123456789abcdef"
    header = {"alg": "HS256", "kid": key_id(SECRET), "jwk": {"kty": "oct", "k": b64(attacker)}}
    assert refused(forge(header, valid_payload(), attacker)) == "invalid token"
    header = {"alg": "HS256", "kid": "../../../../dev/null", "jku": "http://evil.example/keys"}
    assert refused(forge(header, valid_payload(), attacker)) == "invalid token"


def test_refresh_token_is_not_an_access_token_and_the_reverse() -> None:
    assert (
        refused(issue(token_type="refresh"), "access")
        == "wrong token type: expected an access token"
    )
    assert (
        refused(issue(token_type="access"), "refresh")
        == "wrong token type: expected a refresh token"
    )


def test_tampered_claims_break_the_signature() -> None:
    header, payload, signature = issue().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["admin"]
    assert refused(f"{header}.{b64(json.dumps(claims).encode())}.{signature}") == "invalid token"


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "Bearer x", "." * 3, "x" * 10_000])
def test_garbage_is_an_invalid_token(garbage: str) -> None:
    assert refused(garbage) == "invalid token"


def test_token_signed_with_the_previous_key_still_verifies_after_rotation() -> None:
    before = issue(keyring(OLD_SECRET))
    rotated = keyring(SECRET, previous=(OLD_SECRET,))
    assert rotated.decode(before, expected_type="access").user_id == 7
    assert jwt.get_unverified_header(issue(rotated))["kid"] == key_id(SECRET)
    # Once the old key is dropped, its tokens stop working.
    with pytest.raises(TokenError, match="invalid token"):
        keyring(SECRET).decode(before, expected_type="access")


def test_unknown_kid_is_refused_even_with_a_valid_signature() -> None:
    token = forge({"alg": "HS256", "kid": "0000000000000000"}, valid_payload(), SECRET.encode())
    assert refused(token) == "invalid token"
    token = forge({"alg": "HS256"}, valid_payload(), SECRET.encode())
    assert refused(token) == "invalid token"


def test_error_messages_never_contain_the_token() -> None:
    token = issue(now=datetime.now(UTC) - timedelta(hours=1))
    message = refused(token)
    assert token not in message and token.split(".")[2] not in message


def test_a_remembered_access_token_is_refused_once_it_expires() -> None:
    ring = Keyring(
        signing_secret=SECRET, issuer="refnet", audience="refnet-api", leeway=timedelta(0)
    )
    token = issue(ring, lifetime=timedelta(seconds=1))
    assert ring.decode_access(token) == ring.decode_access(token)  # the second from memory
    time.sleep(1.1)
    with pytest.raises(TokenError, match="expired"):
        ring.decode_access(token)


def test_only_the_exact_token_is_remembered() -> None:
    ring = keyring()
    token = issue(ring)
    ring.decode_access(token)
    with pytest.raises(TokenError):
        ring.decode_access(token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    with pytest.raises(TokenError):
        ring.decode_access(issue(ring, token_type="refresh"))
