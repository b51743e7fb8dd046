"""What happens to every request before routing and to every response on its way out.

One ASGI middleware (cheaper than a stack of them, and nothing can slip between the parts):
- a request id (the client's `X-Request-ID` when it is short and plain, else a new one), bound to
  every log line of the request and echoed in the response;
- the client address: the peer, or the nearest untrusted `X-Forwarded-For` hop when the peer is a
  configured proxy; the scheme from `X-Forwarded-Proto` on the same condition;
- trusted `Host` names (400 otherwise) and the body size limit (413, by `Content-Length` or by
  counting a streamed body);
- security headers on every response, errors included; HSTS only over HTTPS;
- an unexpected exception becomes a JSON 500 naming the request id, with the trace in the log;
- request count and latency by route template, and one access-log line.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterable
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network

import structlog
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from refnet.api.errors import error_body
from refnet.core.metrics import HTTP_IN_FLIGHT, observe_request

log = structlog.get_logger("refnet.api.access")

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
Network = IPv4Network | IPv6Network

SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
# The interactive docs load Swagger UI's script and style from its CDN.
DOCS_CSP = (
    b"content-security-policy",
    b"default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    b"style-src 'self' https://cdn.jsdelivr.net; "
    b"img-src 'self' data: https://fastapi.tiangolo.com; "
    b"connect-src 'self'; frame-ancestors 'none'",
)
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ip_network(value, strict=False) for value in values)


def in_networks(address: str | None, networks: tuple[Network, ...]) -> bool:
    if not address or not networks:
        return False
    try:
        parsed = ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in networks)


class HostPolicy:
    """Host names the API answers to: exact names, `*.domain` suffixes, or `*` (anything)."""

    def __init__(self, hosts: Iterable[str]) -> None:
        names = [host.lower() for host in hosts]
        self.any = "*" in names
        self.exact = frozenset(name for name in names if not name.startswith("*."))
        self.suffixes = tuple(name[1:] for name in names if name.startswith("*."))

    def allows(self, host_header: str) -> bool:
        if self.any:
            return True
        host = host_header.lower()
        if host.startswith("["):  # [::1]:8000
            host = host[1 : host.find("]")]
        elif host.count(":") == 1:
            host = host.split(":", 1)[0]
        return host in self.exact or host.endswith(self.suffixes)


class EdgeMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        trusted_hosts: Iterable[str],
        trusted_proxies: Iterable[str],
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self.hosts = HostPolicy(trusted_hosts)
        self.proxies = parse_networks(trusted_proxies)
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = _headers(scope)
        request_id = headers.get("x-request-id", "")
        if not _REQUEST_ID.fullmatch(request_id):
            request_id = uuid.uuid4().hex
        client, https = self._client(scope, headers)
        scope["refnet.request_id"] = request_id
        scope["refnet.client_ip"] = client
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status_holder = [500]
        extra = [*SECURITY_HEADERS, DOCS_CSP if scope["path"].startswith("/docs") else API_CSP]
        if https:
            extra.append(HSTS)
        extra.append((b"x-request-id", request_id.encode()))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        HTTP_IN_FLIGHT.inc()
        try:
            refusal = self._refusal(headers)
            if refusal is not None:
                await _send_error(scope, send_with_headers, *refusal)
            else:
                await self.app(scope, self._limited(receive, headers), send_with_headers)
        except Exception:
            log.exception("request_failed", path=scope["path"], method=scope["method"])
            if status_holder[0] == 500:  # nothing was sent yet
                await _send_error(
                    scope, send_with_headers, 500, "an internal error occurred; it has been logged"
                )
        finally:
            HTTP_IN_FLIGHT.dec()
            route = scope.get("route")
            template = getattr(route, "path_format", None) or getattr(route, "path", None)
            seconds = time.perf_counter() - started
            observe_request(scope["method"], template or "unmatched", status_holder[0], seconds)
            log.info(
                "http_request",
                method=scope["method"],
                route=template or "unmatched",
                status=status_holder[0],
                duration_ms=round(seconds * 1000, 2),
                client_ip=client,
                user_id=scope.get("refnet.user_id"),
            )

    def _client(self, scope: Scope, headers: dict[str, str]) -> tuple[str | None, bool]:
        peer = scope["client"][0] if scope.get("client") else None
        https = scope.get("scheme") == "https"
        if not in_networks(peer, self.proxies):
            return peer, https
        client = peer
        hops = [hop.strip() for hop in headers.get("x-forwarded-for", "").split(",") if hop.strip()]
        for hop in reversed(hops):
            client = hop
            if not in_networks(hop, self.proxies):
                break
        proto = headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        return client, https or proto == "https"

    def _refusal(self, headers: dict[str, str]) -> tuple[int, str] | None:
        host = headers.get("host", "")
        if not self.hosts.allows(host):
            return 400, "this server does not answer to that Host name"
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                return 400, "Content-Length must be a number of bytes"
            if int(length) > self.max_body_bytes:
                return 413, f"the body is larger than {self.max_body_bytes} bytes"
        return None

    def _limited(self, receive: Receive, headers: dict[str, str]) -> Receive:
        if "content-length" in headers:
            return receive  # checked above; the server never reads past it
        limit = self.max_body_bytes
        seen = 0

        async def counting() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise HTTPException(413, f"the body is larger than {limit} bytes")
            return message

        return counting


def _headers(scope: Scope) -> dict[str, str]:
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}


async def _send_error(scope: Scope, send: Send, status: int, message: str) -> None:
    raw = json.dumps(error_body(status, message, scope.get("refnet.request_id"))).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": raw})
