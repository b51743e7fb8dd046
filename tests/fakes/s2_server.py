"""A fake Semantic Scholar Graph API: a real HTTP server on 127.0.0.1 for tests.

    graph = make_graph(2_000)
    with FakeSemanticScholar(graph, min_interval=1.0, faults=Faults(rate=0.2)) as s2:
        ...  # point the client under test at s2.base_url
    assert s2.rate_violations == 0

Every request is counted (`total_requests`, `requests[endpoint]`), then, in this order:
`down` answers 503; a wrong `x-api-key` (when `required_api_key` is set) answers 403; an
endpoint in `refused` answers its status (e.g. `{"citations": 403}`: a key without access to
that endpoint); a request
sooner than `min_interval` (5% tolerance) after the previous accepted one answers 429 with
`Retry-After`; an injected fault may answer 429/5xx, stall (`timeout`) or send a truncated
200 body (`malformed`); otherwise the endpoint answers as the official spec describes.
"""

from __future__ import annotations

import collections
import json
import math
import random
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

from .loopback import LoopbackServer, OwnedHTTPServer, request_body
from .s2_endpoints import Call, Reply, dispatch, route
from .s2_graph import SyntheticGraph

RATE_LIMIT_MESSAGE = (
    "Too Many Requests. Please wait and try again or apply for a key for higher rate limits. "
    "https://www.semanticscholar.org/product/api#api-key-form"
)
RATE_TOLERANCE = 0.05
FAULT_BODIES: dict[str, tuple[int, dict[str, str]]] = {
    "500": (500, {"message": "Internal Server Error"}),
    "502": (502, {"message": "Bad Gateway"}),
    "503": (503, {"message": "Service Unavailable"}),
    "504": (504, {"message": "Endpoint request timed out"}),
}


@dataclass
class Faults:
    """Injected failures, decided per request by a seeded RNG."""

    rate: float = 0.0  # fraction of requests answered with a fault
    kinds: tuple[str, ...] = ("429", "500", "502", "503", "504", "timeout", "malformed")
    retry_after: float = 0.05  # seconds sent in Retry-After on an injected 429
    timeout_seconds: float = 2.0  # how long a "timeout" fault stalls before answering
    max_consecutive: int = 2  # never fault one request signature more often in a row
    seed: int = 0
    # Faults for the first requests, in order, whatever `rate` says (e.g. ("503", "429")).
    opening: tuple[str, ...] = ()


class FaultPlan:
    """Decides which requests fail; one identical request never fails > max_consecutive times
    in a row (the signature is method + path + query + body)."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self._rng = random.Random(faults.seed)
        self._streaks: dict[str, int] = {}
        self._opening = list(faults.opening)

    def decide(self, signature: str) -> str | None:
        if self._opening:
            return self._opening.pop(0)
        faults = self.faults
        if faults.rate <= 0 or not faults.kinds:
            return None
        roll, kind = self._rng.random(), self._rng.choice(faults.kinds)
        streak = self._streaks.get(signature, 0)
        if roll >= faults.rate or streak >= faults.max_consecutive:
            self._streaks.pop(signature, None)
            return None
        self._streaks[signature] = streak + 1
        return kind


def format_retry_after(seconds: float) -> str:
    """Whole seconds (rounded up) from 1 s on, else a decimal string such as "0.05"."""
    if seconds >= 1:
        return str(math.ceil(seconds))
    return f"{max(seconds, 0.001):.3f}".rstrip("0").rstrip(".")


def too_many_requests(retry_after: float) -> Reply:
    body = {"message": RATE_LIMIT_MESSAGE, "code": "429"}
    return Reply(429, body, {"Retry-After": format_retry_after(retry_after)})


@dataclass(frozen=True)
class Admission:
    """The gate's verdict: answer `reply` now, or serve normally (possibly with a fault)."""

    reply: Reply | None = None
    fault: str | None = None


class FakeSemanticScholar(LoopbackServer):
    """The fake server. `start()` (or `with`) binds an ephemeral port on 127.0.0.1."""

    def __init__(
        self,
        graph: SyntheticGraph,
        *,
        min_interval: float = 0.0,
        faults: Faults | None = None,
        required_api_key: str | None = None,
        down: bool = False,
        refused: dict[str, int] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host, port)
        self.graph = graph
        self.min_interval = min_interval
        self.required_api_key = required_api_key
        self.down = down
        self.refused = dict(refused or {})
        self._lock = threading.Lock()
        self._plan = FaultPlan(faults or Faults())
        self._last_accepted: float | None = None
        self.requests: collections.Counter[str] = collections.Counter()
        self.total_requests = 0
        self.faulted_requests = 0
        self.rate_violations = 0
        self.api_keys_seen: set[str | None] = set()

    @property
    def base_url(self) -> str:
        """`http://<host>:<port>/graph/v1`; only once started."""
        return f"http://{self.host}:{self.port}/graph/v1"

    @property
    def faults(self) -> Faults:
        return self._plan.faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        with self._lock:
            self._plan = FaultPlan(faults)

    def reset_counters(self) -> None:
        """Zero the counters (rate-limit timing and fault streaks are server state, kept)."""
        with self._lock:
            self.requests.clear()
            self.total_requests = self.faulted_requests = self.rate_violations = 0
            self.api_keys_seen.clear()

    # -- serving ---------------------------------------------------------------------------

    def handle(self, method: str, target: str, api_key: str | None, body: bytes) -> Reply:
        """Answer one HTTP request (called from the handler threads)."""
        split = urlsplit(target)
        found = route(split.path)
        admission = self._admit(found.endpoint, f"{method} {target}\n{body!r}", api_key)
        if admission.reply is not None:
            return admission.reply
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        reply = dispatch(self.graph, found, Call(method, params, body))
        if admission.fault == "timeout":
            self.stall(self.faults.timeout_seconds)
        if admission.fault == "malformed":
            text = encode_json(reply.body)
            return Reply(200, text[: max(1, len(text) // 2)], {})
        return reply

    def _admit(self, endpoint: str, signature: str, api_key: str | None) -> Admission:
        with self._lock:
            self.total_requests += 1
            self.requests[endpoint] += 1
            self.api_keys_seen.add(api_key)
            if self.down:
                return Admission(Reply(503, {"message": "Service Unavailable"}))
            if self.required_api_key is not None and api_key != self.required_api_key:
                return Admission(Reply(403, {"message": "Forbidden"}))
            if endpoint in self.refused:
                return Admission(Reply(self.refused[endpoint], {"message": "Forbidden"}))
            wait = self._rate_wait(time.monotonic())
            if wait > 0:
                self.rate_violations += 1
                return Admission(too_many_requests(wait))
            kind = self._plan.decide(signature)
            if kind is None:
                return Admission()
            self.faulted_requests += 1
        return self._fault(kind)

    def _rate_wait(self, now: float) -> float:
        """Seconds the caller should still have waited; 0 (and the slot taken) if accepted."""
        if self.min_interval > 0 and self._last_accepted is not None:
            elapsed = now - self._last_accepted
            if elapsed < self.min_interval * (1 - RATE_TOLERANCE):
                return self.min_interval - elapsed
        self._last_accepted = now
        return 0.0

    def _fault(self, kind: str) -> Admission:
        if kind == "429":
            return Admission(too_many_requests(self.faults.retry_after))
        if kind in FAULT_BODIES:
            status, body = FAULT_BODIES[kind]
            return Admission(Reply(status, body))
        return Admission(fault=kind)


def encode_json(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes
    server_version = "FakeSemanticScholar/1.0"

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        body = request_body(self)
        fake = cast(OwnedHTTPServer, self.server).owner
        reply = fake.handle(self.command, self.path, self.headers.get("x-api-key"), body)
        payload = reply.body if isinstance(reply.body, bytes) else encode_json(reply.body)
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. after a "timeout" fault)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""


FakeSemanticScholar.handler_class = _Handler
