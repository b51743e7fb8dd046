"""Schemathesis against `/openapi.json` of a stack API of its own (PostgreSQL, Redis, the sample
network), through the shipped nginx configuration and TLS as a user reaches it: every operation,
anonymous and with an access token of each role, with data that fits the schema and data that
does not. No answer may be a 5xx, have a status the operation does not declare, a body outside
its schema or another content type than declared; data that breaks the schema must be refused;
and no role may succeed at an operation whose `x-required-role` it does not include.
(nginx's per-address rate limits are lifted: every request comes from one address.)

Generation is derandomized and bounded per operation, so a run is repeatable and short. Every
failure is collected (one example per operation and kind) and reported together with a `curl`
line that reproduces it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import redis
import requests
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from benchmarks.nginx_front import dev_certificate, nginx_in_front
from refnet.api.main import REQUIRED_ROLE
from refnet.db import migrate
from refnet.db.session import dispose_engines
from refnet.security.accounts import Actor, find_user, reset_password, set_disabled, set_role
from refnet.security.roles import Role
from tests.conftest import PG_URL, REDIS_URL, _unavailable, empty_database
from tests.support.api import PASSWORD, ApiServer, api_server, load_sample

# Examples per operation, role and mode: the whole module stays within a few minutes. Raise it
# for a deeper search on your machine: REFNET_FUZZ_EXAMPLES=200 pytest tests/…/test_schema_fuzz.py
EXAMPLES = int(os.environ.get("REFNET_FUZZ_EXAMPLES", "10"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
NEGATIVE_CHECKS = [*CHECKS, negative_data_rejection]
# Not routed by nginx on purpose (404 there; tests/deploy/test_nginx.py checks it), so outside
# what a client of the edge can reach.
HIDDEN_BY_NGINX = {"/metrics"}


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """A stack API on a database and Redis of its own: what the fuzzer changes stays here."""
    base, name = PG_URL.rsplit("/", 1)
    url = f"{base}/{name}_api_fuzz"
    try:
        empty_database(url)
        redis.Redis.from_url(REDIS_URL).flushdb()
    except sa.exc.OperationalError as exc:
        _unavailable("PostgreSQL", exc)
    except redis.RedisError as exc:
        _unavailable("Redis", exc)
    migrate.upgrade(url)
    dispose_engines()
    workdir = tmp_path_factory.mktemp("fuzz-api")
    env = {
        "DATABASE_URL": url,
        "REDIS_URL": REDIS_URL,
        # Random sign-ins must not lock out the fuzzer's own users.
        "AUTH__MAX_FAILED_LOGINS": "1000000",
        "AUTH__MAX_FAILED_LOGINS_PER_CLIENT": "1000000",
        "API__TRUSTED_PROXIES": "127.0.0.1/32",
    }
    load_sample(workdir, env)
    with api_server(workdir, env) as server:
        yield server
    dispose_engines()
    redis.Redis.from_url(REDIS_URL).flushdb()


@dataclass
class Identity:
    """A user of one role whose access token is kept working whatever the fuzzer does to them
    (log out, change role, disable, reset password): it is restored and signed in again."""

    server: ApiServer
    role: Role
    username: str = ""
    token: str = ""

    def headers(self) -> dict[str, str]:
        if not self.token:
            if not self.username:
                self.username = self.server.new_user(self.role)
            self.token = self.server.login(self.username)["access_token"]
        return {"Authorization": f"Bearer {self.token}"}

    def check(self) -> None:
        """After a 401: if the token itself no longer works, restore the user and sign in."""
        with self.server.client(self.token) as client:
            if client.get("/auth/me").status_code != 401:
                return
        url, actor = self.server.database_url, Actor.cli()
        user = find_user(database_url=url, username=self.username)
        if user.disabled:
            set_disabled(database_url=url, user_id=user.id, disabled=False, actor=actor)
        if user.role != self.role:
            set_role(database_url=url, user_id=user.id, role=self.role, actor=actor)
        reset_password(database_url=url, user_id=user.id, password=PASSWORD, actor=actor)
        self.token = ""


@dataclass
class Findings:
    seen: set[tuple[str, str]] = field(default_factory=set)
    reports: list[str] = field(default_factory=list)

    def add(self, label: str, group: FailureGroup) -> None:
        titles = sorted({failure.title for failure in group.exceptions})
        self.note(label, " / ".join(titles), group.message)

    def note(self, label: str, title: str, details: str = "") -> None:
        if (label, title) not in self.seen:
            self.seen.add((label, title))
            self.reports.append(f"=== {label}: {title}\n{details}")


@dataclass(frozen=True)
class Edge:
    url: str  # https://localhost:PORT, nginx in front of the fuzzed API
    ca: Path  # the certificate nginx presents, trusted by the fuzzer's session

    def session(self) -> requests.Session:
        session = requests.Session()
        session.verify = str(self.ca)
        return session


@pytest.fixture(scope="module")
def edge(fuzz_server: ApiServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    workdir = tmp_path_factory.mktemp("fuzz-edge")
    tls_dir = dev_certificate(workdir / "tls")
    api = fuzz_server.base_url.removeprefix("http://")
    with nginx_in_front(api, workdir, tls_dir) as (https_port, _):
        yield Edge(f"https://localhost:{https_port}", tls_dir / "fullchain.pem")


@pytest.fixture(scope="module")
def schema(edge: Edge) -> Any:
    return schemathesis.openapi.from_url(edge.url + "/openapi.json", verify=str(edge.ca))


@pytest.fixture(scope="module")
def identities(fuzz_server: ApiServer) -> dict[Role, Identity]:
    return {role: Identity(fuzz_server, role) for role in Role}


def fuzz_operation(
    operation: Any,
    mode: GenerationMode,
    identity: Identity | None,
    findings: Findings,
    session: requests.Session,
) -> int:
    """Run up to EXAMPLES generated requests against one operation; how many were sent."""
    checks = NEGATIVE_CHECKS if mode is GenerationMode.NEGATIVE else CHECKS
    sent = [0]
    required = operation.definition.raw.get(REQUIRED_ROLE)
    allowed = required is None or (identity is not None and identity.role.includes(required))

    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        sent_headers = {**(case.headers or {}), **(identity.headers() if identity else {})}
        options = {"headers": sent_headers, "timeout": 30, "verify": session.verify}
        response = case.call(session=session, **options)
        sent[0] += 1
        # nginx's 414 refuses an overlong URL as surely as the API's 422 (schemathesis's
        # rejection check does not count it as one).
        refused_by_nginx = response.status_code == 414
        try:
            case.validate_response(
                response, checks=CHECKS if refused_by_nginx else checks, headers=sent_headers
            )
        except FailureGroup as group:
            findings.add(operation.label, group)
        if response.status_code < 400 and not allowed:
            who = identity.role if identity else "anonymous"
            findings.note(operation.label, f"{who} got {response.status_code}, needs {required}")
        if response.status_code == 401 and identity is not None:
            identity.check()

    # Unsatisfiable: nothing about this operation can be made invalid (no parameters, no body).
    with contextlib.suppress(hypothesis.errors.Unsatisfiable):
        run()
    return sent[0]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize("role", [None, *Role], ids=lambda role: str(role or "anonymous"))
def test_no_request_gets_an_answer_outside_the_schema(
    schema: Any,
    edge: Edge,
    identities: dict[Role, Identity],
    role: Role | None,
    mode: GenerationMode,
) -> None:
    findings = Findings()
    identity = identities[role] if role else None
    operations = [
        operation
        for result in schema.get_all_operations()
        if (operation := result.ok()).path not in HIDDEN_BY_NGINX
    ]
    assert len(operations) >= 20, [operation.label for operation in operations]
    total = 0
    session = edge.session()
    for operation in operations:
        total += fuzz_operation(operation, mode, identity, findings, session)
    assert total >= len(operations) * 3  # the fuzzer did send requests
    assert not findings.reports, f"{len(findings.reports)} finding(s):\n\n" + "\n\n".join(
        findings.reports
    )


def test_every_operation_declares_401_and_429_where_a_token_is_needed(
    fuzz_server: ApiServer,
) -> None:
    """What the fuzzer relies on: the document says which answers each route gives."""
    document = schemathesis.openapi.from_url(fuzz_server.base_url + "/openapi.json").raw_schema
    public = {"/health", "/ready", "/metrics", "/auth/login", "/auth/refresh"}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            declared = set(operation["responses"])
            assert {"422", "429"} <= declared, (method, path)
            if path not in public:
                assert "401" in declared, (method, path)
            if path.startswith("/api/"):
                assert "403" in declared, (method, path)


def test_the_document_names_the_role_each_operation_needs(schema: Any) -> None:
    """What the role check relies on: `x-required-role` as the routes enforce it."""
    document = schema.raw_schema
    roles = {
        (method.upper(), path): operation.get(REQUIRED_ROLE)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    assert roles[("GET", "/health")] is None and roles[("POST", "/auth/login")] is None
    assert roles[("GET", "/auth/me")] == "reader"
    assert roles[("GET", "/api/papers/{paper_id}")] == "reader"
    assert roles[("POST", "/api/papers/crawl")] == "operator"
    assert roles[("DELETE", "/api/seeds/{seed_id}")] == "operator"
    assert roles[("GET", "/api/users")] == "admin" and roles[("GET", "/api/audit")] == "admin"
    public = {"/health", "/ready", "/metrics", "/auth/login", "/auth/refresh"}
    assert {path for (_, path), role in roles.items() if role is None} == public


# --- what the fuzzer found once, replayed on every run ----------------------------------------
def test_error_answers_of_the_note_route_have_the_documented_content_type(
    schema: Any, edge: Edge, identities: dict[Role, Identity]
) -> None:
    """Found by the fuzzer: the note route documents its errors as text/plain, but errors are
    JSON like everywhere else."""
    operation = schema["/api/papers/{paper_id}/note"]["GET"]
    for headers in ({}, identities[Role.READER].headers()):
        for paper_id in ("ARXIV:1901.00001", "x"):  # unknown (404), no id form (422)
            case = operation.Case(path_parameters={"paper_id": paper_id}, headers=headers)
            response = case.call(timeout=30, verify=str(edge.ca))
            assert response.status_code in (401, 404, 422)
            case.validate_response(response, checks=CHECKS, headers=headers)


@pytest.mark.parametrize(
    ("role", "method", "path", "options"),
    [
        (Role.ADMIN, "PATCH", "/api/users/{reader}", {"json": {"disabled": 0}}),
        (Role.ADMIN, "PATCH", "/api/users/{reader}", {"json": {"disabled": "no"}}),
        (Role.OPERATOR, "POST", "/api/tasks/generate", {"json": {"full": 0}}),
        (Role.ADMIN, "GET", "/api/audit", {"params": {"until": "0.5"}}),
        (Role.ADMIN, "GET", "/api/audit", {"params": {"since": "1700000000"}}),
    ],
    ids=["disabled-0", "disabled-no", "full-0", "until-number", "since-number"],
)
def test_values_of_the_wrong_type_are_refused_not_coerced(
    fuzz_server: ApiServer,
    identities: dict[Role, Identity],
    role: Role,
    method: str,
    path: str,
    options: dict[str, Any],
) -> None:
    """Found by the fuzzer: a boolean field took 0 or "no", a date-time took a number, where
    the published schema says boolean and date-time."""
    reader = identities[Role.READER]
    reader.headers()
    user = find_user(database_url=fuzz_server.database_url, username=reader.username)
    with fuzz_server.client() as client:
        answer = client.request(
            method,
            path.format(reader=user.id),
            headers=identities[role].headers(),
            **options,
        )
    assert answer.status_code == 422, f"{method} {path} {options} -> {answer.status_code}"
