"""Forged, altered and misused tokens, and role escalation through what a client sends: every
attempt is refused (401 for a token, 403 or 422 for a request), never answered 200 or 500.

Forgeries copy the shape of a real token of the server under test (header with `kid`, every
claim, a live session id), so each is refused for the one defect it carries; the control test
shows that the same forgery without a defect, signed with the server's key, is accepted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest

from refnet.security.roles import Role
from tests.support.api import JWT_SECRET, PASSWORD, RAG, ApiServer

Signer = Callable[[bytes], bytes]
CLAIMS = ("sub", "exp", "iat", "nbf", "iss", "aud", "jti", "type", "roles", "sid", "name")


# --- building tokens by hand, so nothing a library refuses to produce is out of reach ---------
def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(header: dict[str, Any], payload: dict[str, Any], sign: Signer | None) -> str:
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    signature = sign(signing_input.encode()) if sign else b""
    return f"{signing_input}.{b64url(signature)}"


def hmac_signer(key: bytes, digest: str = "sha256") -> Signer:
    return lambda data: hmac.new(key, data, digest).digest()


SERVER_KEY = hmac_signer(JWT_SECRET.encode())


@dataclass(frozen=True)
class RsaKey:
    """A 2048-bit RSA key made here (no crypto library needed), for RS256 forgeries."""

    n: int
    e: int
    d: int

    @classmethod
    def generate(cls) -> RsaKey:
        e = 65537
        while True:
            p, q = _prime(1024), _prime(1024)
            phi = (p - 1) * (q - 1)
            if p != q and phi % e:
                return cls(p * q, e, pow(e, -1, phi))

    def sign_rs256(self, data: bytes) -> bytes:
        """RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 §8.2)."""
        size = (self.n.bit_length() + 7) // 8
        digest_info = bytes.fromhex("3031300d060960864801650304020105000420")
        encoded = digest_info + hashlib.sha256(data).digest()
        block = b"\x00\x01" + b"\xff" * (size - len(encoded) - 3) + b"\x00" + encoded
        signature = pow(int.from_bytes(block, "big"), self.d, self.n)
        assert pow(signature, self.e, self.n) == int.from_bytes(block, "big")
        return signature.to_bytes(size, "big")

    def public_pem(self) -> str:
        """The SubjectPublicKeyInfo PEM, as a server would publish its verification key."""
        rsa_key = _der(0x30, _der_int(self.n) + _der_int(self.e))
        algorithm = _der(0x30, bytes.fromhex("06092a864886f70d010101") + b"\x05\x00")
        info = _der(0x30, algorithm + _der(0x03, b"\x00" + rsa_key))
        body = base64.encodebytes(info).decode().replace("\n", "")
        lines = [body[i : i + 64] for i in range(0, len(body), 64)]
        return "\n".join(["-----BEGIN PUBLIC KEY-----", *lines, "-----END PUBLIC KEY-----"]) + "\n"

    def jwk(self) -> dict[str, str]:
        def number(value: int) -> str:
            return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))

        return {"kty": "RSA", "n": number(self.n), "e": number(self.e)}


def _prime(bits: int) -> int:
    small = [3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47]
    while True:
        candidate = secrets.randbits(bits) | (1 << (bits - 1)) | 1
        if any(candidate % p == 0 for p in small):
            continue
        if _probably_prime(candidate):
            return candidate


def _probably_prime(n: int, rounds: int = 24) -> bool:
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for _ in range(rounds):
        x = pow(secrets.randbelow(n - 3) + 2, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _der(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + content


def _der_int(value: int) -> bytes:
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


# --- a real signed-in user to copy ------------------------------------------------------------
@dataclass
class Victim:
    username: str
    tokens: dict[str, str]
    header: dict[str, Any]
    claims: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)

    def payload(self, **changes: Any) -> dict[str, Any]:
        """The real access token's claims, fresh in time and id, with `changes` (None: drop)."""
        now = int(time.time())
        payload = {**self.claims, "iat": now, "nbf": now, "exp": now + 600}
        payload["jti"] = uuid.uuid4().hex
        payload.update(changes)
        return {name: value for name, value in payload.items() if value is not None}

    def forge(
        self, sign: Signer | None = SERVER_KEY, header: dict[str, Any] | None = None, **changes: Any
    ) -> str:
        return compact(header or self.header, self.payload(**changes), sign)


@pytest.fixture(scope="module")
def _victims() -> dict[str, Victim]:
    return {}


@pytest.fixture
def victim(api: ApiServer, _victims: dict[str, Victim]) -> Victim:
    """A reader signed in on `api` (one per server, kept for the module)."""
    if api.base_url not in _victims:
        username = api.new_user(Role.READER)
        tokens = api.login(username)
        access = tokens["access_token"]
        claims = jwt.decode(access, options={"verify_signature": False})
        assert set(CLAIMS) <= set(claims), claims
        _victims[api.base_url] = Victim(username, tokens, jwt.get_unverified_header(access), claims)
    return _victims[api.base_url]


def call(api: ApiServer, token: str, path: str = "/auth/me") -> httpx.Response:
    with api.client() as client:
        return client.get(path, headers={"Authorization": f"Bearer {token}"})


def assert_refused(answer: httpx.Response, token: str | None = None) -> None:
    assert answer.status_code == 401, answer.text
    assert answer.headers["www-authenticate"].startswith('Bearer realm="refnet"')
    body = answer.json()
    assert body["error"] == "unauthorized"
    assert set(body) == {"error", "message", "request_id"}
    if token:
        signature = token.rsplit(".", 1)[-1]
        assert token not in answer.text
        assert not signature or signature not in answer.text


# --- controls: the forging is faithful -------------------------------------------------------
def test_the_real_token_and_a_faithful_forgery_with_the_servers_key_are_accepted(
    api: ApiServer, victim: Victim
) -> None:
    assert call(api, victim.tokens["access_token"]).json()["username"] == victim.username
    answer = call(api, victim.forge())
    assert answer.status_code == 200, answer.text
    assert answer.json()["username"] == victim.username


def test_the_role_comes_from_the_database_not_from_the_token(
    api: ApiServer, victim: Victim
) -> None:
    """Even correctly signed, a reader's token claiming admin grants nothing more."""
    token = victim.forge(roles=["admin"])
    assert call(api, token).json()["role"] == "reader"
    answer = call(api, token, "/api/users")
    assert answer.status_code == 403, answer.text


# --- signatures and algorithms ---------------------------------------------------------------
def _rs256(victim: Victim) -> list[str]:
    key = RsaKey.generate()
    header = {**victim.header, "alg": "RS256"}
    with_jwk = {**header, "jwk": key.jwk()}
    confused = {**victim.header, "alg": "HS256"}
    pem = key.public_pem().encode()
    return [
        victim.forge(key.sign_rs256, header=header),
        victim.forge(key.sign_rs256, header=with_jwk),  # the key carried in the token
        victim.forge(hmac_signer(pem), header=confused),  # HS256 keyed with public key text
        victim.forge(hmac_signer(pem.strip()), header=confused),
        victim.forge(hmac_signer(b64url(pem).encode()), header=confused),
    ]


def test_algorithm_confusion_is_refused(api: ApiServer, victim: Victim) -> None:
    for token in _rs256(victim):
        assert_refused(call(api, token), token)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda v: v.forge(sign=None), id="unsigned"),
        pytest.param(lambda v: v.forge()[:-2], id="signature-cut"),
        pytest.param(lambda v: v.forge(header={**v.header, "alg": "none"}, sign=None), id="none"),
        pytest.param(lambda v: v.forge(header={**v.header, "alg": "None"}, sign=None), id="None"),
        pytest.param(lambda v: v.forge(header={**v.header, "alg": "NONE"}, sign=None), id="NONE"),
        pytest.param(lambda v: v.forge(header={**v.header, "alg": "none"}), id="none-signed"),
        pytest.param(lambda v: v.forge(header={"alg": "none", "typ": "JWT"}, sign=None), id="bare"),
        pytest.param(lambda v: v.forge(hmac_signer(b"x" * 40)), id="wrong-key"),
        pytest.param(lambda v: v.forge(hmac_signer(b"")), id="empty-key"),
        pytest.param(lambda v: v.forge(hmac_signer(JWT_SECRET[:-1].encode())), id="near-key"),
        pytest.param(
            lambda v: v.forge(
                hmac_signer(JWT_SECRET.encode(), "sha512"), header={**v.header, "alg": "HS512"}
            ),
            id="HS512-right-key",
        ),
        pytest.param(
            lambda v: v.forge(
                hmac_signer(JWT_SECRET.encode(), "sha384"), header={**v.header, "alg": "HS384"}
            ),
            id="HS384-right-key",
        ),
        pytest.param(
            lambda v: v.forge(hmac_signer(JWT_SECRET.encode(), "sha512")), id="HS512-as-HS256"
        ),
    ],
)
def test_unsigned_none_and_wrongly_signed_tokens_are_refused(
    api: ApiServer, victim: Victim, make: Callable[[Victim], str]
) -> None:
    token = make(victim)
    assert_refused(call(api, token), token)


@pytest.mark.parametrize(
    "kid",
    ["0000000000000000", "", "../../../../dev/null", "' OR '1'='1", 7, None, ["x"]],
    ids=["unknown", "empty", "path", "sql", "number", "null", "list"],
)
def test_a_kid_naming_no_known_key_is_refused(api: ApiServer, victim: Victim, kid: Any) -> None:
    header = {**victim.header, "kid": kid}
    token = victim.forge(header=header)
    assert_refused(call(api, token), token)


def test_a_token_without_a_kid_is_refused(api: ApiServer, victim: Victim) -> None:
    without = {name: value for name, value in victim.header.items() if name != "kid"}
    token = victim.forge(header=without)
    assert_refused(call(api, token), token)


def test_a_key_from_the_token_header_is_never_used(api: ApiServer, victim: Victim) -> None:
    attacker = b"attacker-chosen-secret-of-forty-chars!!!"
    for extra in (
        {"jwk": {"kty": "oct", "k": b64url(attacker)}},
        {"jku": "https://evil.example/keys.json"},
        {"x5u": "https://evil.example/cert.pem"},
    ):
        token = victim.forge(hmac_signer(attacker), header={**victim.header, **extra})
        assert_refused(call(api, token), token)


# --- claims -----------------------------------------------------------------------------------
def _now() -> int:
    return int(time.time())


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param(lambda: {"exp": _now() - 120, "iat": _now() - 1020}, id="expired"),
        pytest.param(lambda: {"exp": _now() - 30}, id="expired-beyond-leeway"),
        pytest.param(lambda: {"nbf": _now() + 120}, id="not-yet-valid"),
        pytest.param(lambda: {"aud": "another-api"}, id="wrong-audience"),
        pytest.param(lambda: {"aud": ["another-api"]}, id="audience-list"),
        pytest.param(lambda: {"iss": "evil"}, id="wrong-issuer"),
        pytest.param(lambda: {"type": "refresh"}, id="type-refresh"),
        pytest.param(lambda: {"type": "id"}, id="type-unknown"),
        pytest.param(lambda: {"roles": ["superuser"]}, id="unknown-role"),
        pytest.param(lambda: {"roles": "admin"}, id="roles-not-a-list"),
        pytest.param(lambda: {"roles": ["reader", "admin"]}, id="two-roles"),
        pytest.param(lambda: {"sub": "1 OR 1=1"}, id="sub-not-a-number"),
        pytest.param(lambda: {"sub": 1}, id="sub-a-number"),
        pytest.param(lambda: {"sid": str(uuid.uuid4())}, id="unknown-session"),
        pytest.param(lambda: {"exp": "tomorrow"}, id="exp-text"),
    ],
)
def test_tokens_with_a_bad_claim_are_refused(
    api: ApiServer, victim: Victim, changes: Callable[[], dict[str, Any]]
) -> None:
    token = victim.forge(**changes())
    assert_refused(call(api, token), token)


def test_a_message_says_expired_or_not_yet_valid_and_nothing_more(
    api: ApiServer, victim: Victim
) -> None:
    expired = call(api, victim.forge(exp=_now() - 120)).json()["message"]
    early = call(api, victim.forge(nbf=_now() + 120)).json()["message"]
    audience = call(api, victim.forge(aud="another-api")).json()["message"]
    assert "expired" in expired
    assert "not yet valid" in early
    assert audience == "invalid token"


@pytest.mark.parametrize("claim", CLAIMS)
def test_a_token_missing_any_claim_is_refused(api: ApiServer, victim: Victim, claim: str) -> None:
    token = victim.forge(**{claim: None})
    assert claim not in jwt.decode(token, options={"verify_signature": False})
    assert_refused(call(api, token), token)


def test_a_token_naming_another_user_in_this_session_is_refused(
    api: ApiServer, victim: Victim
) -> None:
    other = api.login(api.new_user(Role.ADMIN))["access_token"]
    other_sub = jwt.decode(other, options={"verify_signature": False})["sub"]
    token = victim.forge(sub=other_sub, roles=["admin"])
    assert_refused(call(api, token, "/api/users"), token)


def test_tampered_claims_under_the_original_signature_are_refused(
    api: ApiServer, victim: Victim
) -> None:
    real = victim.tokens["access_token"]
    header, _, signature = real.split(".")
    for changes in ({"roles": ["admin"]}, {"sub": "1"}, {"exp": victim.claims["exp"] + 86400}):
        payload = b64url(json.dumps({**victim.claims, **changes}).encode())
        token = f"{header}.{payload}.{signature}"
        assert_refused(call(api, token, "/api/users"), token)
    # The same payload, re-encoded with other whitespace: the signature covers the bytes.
    payload = b64url(json.dumps(victim.claims, indent=1).encode())
    assert_refused(call(api, f"{header}.{payload}.{signature}"))


# --- tokens used for what they are not --------------------------------------------------------
def test_a_refresh_token_is_no_access_token(api: ApiServer, victim: Victim) -> None:
    refresh_token = victim.tokens["refresh_token"]
    answer = call(api, refresh_token)
    assert_refused(answer, refresh_token)
    assert "access" in answer.json()["message"]


def test_an_access_token_is_no_refresh_token(api: ApiServer, victim: Victim) -> None:
    access = victim.tokens["access_token"]
    with api.client() as client:
        answer = client.post("/auth/refresh", json={"refresh_token": access})
    assert_refused(answer, access)
    assert call(api, access).status_code == 200  # and the attempt revoked nothing


def test_a_well_signed_refresh_token_that_was_never_issued_is_refused(
    api: ApiServer, victim: Victim
) -> None:
    token = victim.forge(type="refresh", exp=_now() + 86400)
    with api.client() as client:
        answer = client.post("/auth/refresh", json={"refresh_token": token})
    assert_refused(answer, token)


# --- what is sent as Authorization ------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [
        "Basic dXNlcjpjb3JyZWN0IGhvcnNl",
        "Bearer",
        "Bearer ..",
        "Bearer a.b.c",
        "Bearer " + "A" * 5000,
        "Bearer " + "eyJhbGciOiJIUzI1NiJ9." * 3000,
        "Bearer \u00e9t\u00e9",
        "Token abc",
        "Digest username=admin",
    ],
    ids=["basic", "bearer-empty", "dots", "abc", "long", "very-long", "latin-1", "token", "digest"],
)
def test_a_garbage_authorization_header_is_refused(api: ApiServer, value: str) -> None:
    with api.client() as client:
        answer = client.get("/auth/me", headers={b"Authorization": value.encode("latin-1")})
    assert_refused(answer)
    assert len(answer.content) < 1000  # nothing echoed


def test_two_authorization_headers_are_refused(api: ApiServer, victim: Victim) -> None:
    headers = [
        ("Authorization", "Bearer not-a-token"),
        ("Authorization", f"Bearer {victim.tokens['access_token']}"),
    ]
    with api.client() as client:
        answer = client.get("/api/users", headers=headers)
    assert answer.status_code in (401, 403), answer.text


# --- escalation through what a request carries -----------------------------------------------
def test_a_role_in_a_trigger_body_is_a_422(api: ApiServer) -> None:
    with api.client(api.token(Role.OPERATOR)) as client:
        answer = client.post("/api/papers/crawl", json={"paper_id": RAG, "role": "admin"})
        seed = client.post("/api/seeds", json={"paper_id": RAG, "user_id": 1, "role": "admin"})
    for refused in (answer, seed):
        assert refused.status_code == 422, refused.text
        assert "role" in refused.json()["message"]


def test_a_role_in_the_login_body_or_query_is_a_422(api: ApiServer) -> None:
    username = api.new_user(Role.READER)
    body = {"username": username, "password": PASSWORD, "role": "admin"}
    with api.client() as client:
        answer = client.post("/auth/login", json=body)
    assert answer.status_code == 422, answer.text
    assert "access_token" not in answer.text
    with api.client(api.token(Role.READER)) as client:
        query = client.get("/api/users", params={"role": "admin"})
    assert query.status_code in (403, 422), query.text


def test_a_reader_cannot_create_users(api: ApiServer) -> None:
    name = f"sneaky-{uuid.uuid4().hex[:8]}"
    body = {"username": name, "password": "a long enough passphrase here", "role": "admin"}
    with api.client(api.token(Role.READER)) as client:
        answer = client.post("/api/users", json=body)
    assert answer.status_code == 403, answer.text
    names = [user["username"] for user in api.get("/api/users", Role.ADMIN).json()]
    assert name not in names


def test_an_operator_cannot_promote_themselves(api: ApiServer) -> None:
    username = api.new_user(Role.OPERATOR)
    token = api.login(username)["access_token"]
    with api.client(token) as client:
        own = client.get("/auth/me").json()["id"]
        promote = client.patch(f"/api/users/{own}", json={"role": "admin"})
        password = client.put(f"/api/users/{own}/password", json={"password": "x" * 20 + "yz!"})
        enable = client.patch(f"/api/users/{own}", json={"disabled": False})
        after = client.get("/auth/me")
    for refused in (promote, password, enable):
        assert refused.status_code == 403, refused.text
    assert after.status_code == 200
    assert after.json()["role"] == "operator"
    users = {user["username"]: user for user in api.get("/api/users", Role.ADMIN).json()}
    assert users[username]["role"] == "operator"


def test_a_reader_cannot_trigger_work(api: ApiServer) -> None:
    with api.client(api.token(Role.READER)) as client:
        answers = [
            client.post("/api/papers/crawl", json={"paper_id": RAG}),
            client.post("/api/tasks/summarize", json={"paper_id": RAG}),
            client.post("/api/tasks/generate", json={}),
            client.post("/api/seeds", json={"paper_id": RAG}),
            client.delete("/api/seeds/1"),
        ]
    for answer in answers:
        assert answer.status_code == 403, answer.text
