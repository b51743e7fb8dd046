"""What every response carries and what the edge refuses before any route runs."""

from __future__ import annotations

import httpx
import pytest

from refnet.security.roles import Role
from tests.support.api import ApiServer

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


@pytest.mark.parametrize("path", ["/health", "/api/papers", "/nowhere", "/auth/me"])
def test_security_headers_are_on_every_answer_errors_included(api: ApiServer, path: str) -> None:
    with api.client() as client:
        answer = client.get(path)
    for name, value in SECURITY_HEADERS.items():
        assert answer.headers[name] == value
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    assert "strict-transport-security" not in answer.headers  # plain HTTP: no HSTS
    assert answer.headers["x-request-id"]


def test_hsts_is_sent_when_a_trusted_proxy_says_the_client_used_https(api: ApiServer) -> None:
    with api.client() as client:
        untrusted = client.get("/health", headers={"X-Forwarded-Proto": "https"})
    assert "strict-transport-security" not in untrusted.headers


def test_unknown_routes_and_methods_answer_json(api: ApiServer) -> None:
    with api.client() as client:
        missing = client.get("/nowhere")
        wrong = client.delete("/health")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert wrong.status_code == 405 and "DELETE" in wrong.json()["message"]


def test_a_clean_request_id_is_kept_and_a_bad_one_replaced(api: ApiServer) -> None:
    with api.client() as client:
        kept = client.get("/health", headers={"X-Request-ID": "trace-42.a_b"})
        replaced = client.get("/health", headers={"X-Request-ID": "<script>" * 10})
    assert kept.headers["x-request-id"] == "trace-42.a_b"
    assert replaced.headers["x-request-id"] != "<script>" * 10
    assert len(replaced.headers["x-request-id"]) == 32


def test_an_untrusted_host_name_is_refused(api: ApiServer) -> None:
    with api.client() as client:
        answer = client.get("/health", headers={"Host": "evil.example"})
    assert answer.status_code == 400
    assert answer.json()["error"] == "bad_request"


def test_an_oversized_body_is_a_413_before_it_is_read(api: ApiServer) -> None:
    huge = b'{"paper_id": "' + b"x" * 2_000_000 + b'"}'
    with api.client(api.token(Role.OPERATOR)) as client:
        declared = client.post(
            "/api/papers/crawl", content=huge, headers={"Content-Type": "application/json"}
        )

        def chunks() -> object:
            for start in range(0, len(huge), 65536):
                yield huge[start : start + 65536]

        streamed = client.post(
            "/api/papers/crawl", content=chunks(), headers={"Content-Type": "application/json"}
        )
    assert declared.status_code == 413
    assert streamed.status_code == 413
    assert "bytes" in streamed.json()["message"]


@pytest.mark.parametrize(
    "body",
    [b"{not json", b'{"paper_id": 5}', b"[]", b'{"paper_id": "ARXIV:2005.11401", "role": "admin"}'],
)
def test_malformed_and_mistyped_bodies_are_422s_saying_what_is_wrong(
    api: ApiServer, body: bytes
) -> None:
    with api.client(api.token(Role.OPERATOR)) as client:
        answer = client.post(
            "/api/papers/crawl", content=body, headers={"Content-Type": "application/json"}
        )
    assert answer.status_code == 422, answer.text
    assert answer.json()["message"]


def test_health_needs_nothing_and_ready_names_its_checks(api: ApiServer) -> None:
    with api.client() as client:
        assert client.get("/health").json() == {"status": "ok"}
        ready = client.get("/ready").json()
    assert ready["status"] == "ready"
    assert "database" in ready["checks"]


def test_metrics_count_requests_by_route_template(api: ApiServer) -> None:
    api.get("/api/papers/ARXIV:2005.11401")
    with api.client() as client:
        text = client.get("/metrics").text
    assert 'route="/api/papers/{paper_id:path}"' in text or 'route="/api/papers/{paper_id}"' in text
    assert "refnet_http_request_duration_seconds_bucket" in text
    assert "2005.11401" not in text  # ids never become labels


def test_no_cors_headers_unless_an_origin_is_allowed(api: ApiServer) -> None:
    with api.client() as client:
        answer = client.options(
            "/api/papers",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
    assert "access-control-allow-origin" not in answer.headers


def test_the_openapi_document_declares_every_answer(api: ApiServer) -> None:
    schema = httpx.get(api.base_url + "/openapi.json").json()
    detail = schema["paths"]["/api/papers/{paper_id}"]["get"]["responses"]
    assert {"200", "401", "403", "404", "422", "429"} <= set(detail)


def test_the_docs_page_gets_its_own_content_policy_and_every_other_header(
    api: ApiServer,
) -> None:
    with api.client() as client:
        answer = client.get("/docs")
    assert answer.status_code == 200
    policies = answer.headers.get_list("content-security-policy")
    assert (
        len(policies) == 1
        and "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net" in policies[0]
    )
    assert answer.headers["cross-origin-opener-policy"] == "same-origin"
    for name, value in SECURITY_HEADERS.items():
        assert answer.headers[name] == value
