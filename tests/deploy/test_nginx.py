"""The shipped nginx configuration (deploy/nginx) and the development certificate script, run for
real: `nginx -t` accepts the configuration; shellcheck accepts every script; and a real nginx on
loopback, in front of a real `refnet serve` and a small stand-in for Flower, answers as a user
would see it: HTTPS only (TLS 1.2 and 1.3), the security headers on every answer (nginx's own
errors too), rate limits, the body limit, request ids, Flower under its prefix, /metrics hidden.

What runs is the shipped configuration: `render_config` (benchmarks/nginx_front.py) changes only
upstream addresses, listen ports and file paths, and fails when one of them is no longer where it
expects it.
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import stat
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from benchmarks.nginx_front import Placement, render_config
from tests.support.api import ApiServer, api_server, free_port
from tests.support.processes import serving

ROOT = Path(__file__).resolve().parents[2]
CERT_SCRIPT = ROOT / "scripts" / "generate-ssl-cert.sh"
SCRIPT_DIRS = (ROOT / "scripts", ROOT / "deploy", ROOT / ".ci")
MAX_BODY_BYTES = 1_048_576  # API__MAX_BODY_BYTES's default
SECURITY_HEADERS = {
    "strict-transport-security": "max-age=31536000; includeSubDomains",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}
# nginx >= 1.25.1 warns that `listen ... http2` is deprecated; 1.22 (Debian 12) knows no other way.
ALLOWED_WARNING = 'the "listen ... http2" directive is deprecated'


def installed(program: str, package: str) -> str:
    found = shutil.which(program)
    if found is None:
        pytest.fail(f"{program} is not installed: `apt-get install -y {package}` (Debian)")
    return found


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CERT_SCRIPT), *args], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding fullchain.pem and privkey.pem for localhost and 127.0.0.1."""
    tls_dir = tmp_path_factory.mktemp("tls")
    done = run_script(str(tls_dir))
    assert done.returncode == 0, done.stderr
    return tls_dir


# --- static checks ------------------------------------------------------------------------------


def test_nginx_accepts_the_shipped_configuration(certificate: Path, tmp_path: Path) -> None:
    nginx = installed("nginx", "nginx")
    conf = render_config(
        tmp_path / "nginx",
        Placement(
            api="127.0.0.1:9",
            flower="127.0.0.1:9",
            http_port=free_port(),
            https_port=free_port(),
            status_port=free_port(),
            tls_dir=certificate,
            acme_dir=tmp_path / "acme",
            pid_file=tmp_path / "nginx.pid",
            access_log=tmp_path / "access.log",
        ),
    )
    checked = subprocess.run(
        [nginx, "-t", "-p", f"{conf.parent}/", "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stderr
    complaints = [
        line
        for line in checked.stderr.splitlines()
        if "[warn]" in line or "[emerg]" in line
        if ALLOWED_WARNING not in line
    ]
    assert complaints == []


def shell_scripts() -> list[Path]:
    scripts = []
    for directory in SCRIPT_DIRS:
        for path in sorted(directory.rglob("*")) if directory.is_dir() else []:
            if not path.is_file():
                continue
            with path.open("rb") as opened:
                first_line = opened.readline()
            if path.suffix in (".sh", ".bash") or (
                first_line.startswith(b"#!") and first_line.rstrip().endswith((b"sh", b"bash"))
            ):
                scripts.append(path)
    return scripts


def test_every_shell_script_passes_shellcheck() -> None:
    shellcheck = installed("shellcheck", "shellcheck")
    scripts = shell_scripts()
    assert CERT_SCRIPT in scripts
    checked = subprocess.run(
        [shellcheck, "--external-sources", *map(str, scripts)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


# --- the certificate script ---------------------------------------------------------------------


def subject_alt_names(certificate: Path) -> str:
    shown = subprocess.run(
        ["openssl", "x509", "-in", str(certificate), "-noout", "-ext", "subjectAltName"],
        capture_output=True,
        text=True,
        check=True,
    )
    return shown.stdout


def test_the_certificate_script_covers_localhost_by_default_and_keeps_the_key_private(
    certificate: Path,
) -> None:
    names = subject_alt_names(certificate / "fullchain.pem")
    assert "DNS:localhost" in names and "IP Address:127.0.0.1" in names
    assert stat.S_IMODE((certificate / "privkey.pem").stat().st_mode) == 0o600


def test_the_certificate_script_names_the_hosts_it_is_given(tmp_path: Path) -> None:
    done = run_script(str(tmp_path / "tls"), "refnet.example.org", "10.1.2.3", "::1")
    assert done.returncode == 0, done.stderr
    names = subject_alt_names(tmp_path / "tls" / "fullchain.pem")
    assert "DNS:refnet.example.org" in names
    assert "IP Address:10.1.2.3" in names
    assert "IP Address:0:0:0:0:0:0:0:1" in names
    assert "DNS:localhost" not in names


def test_the_certificate_script_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    assert run_script(str(tmp_path)).returncode == 0
    before = (tmp_path / "fullchain.pem").read_bytes(), (tmp_path / "privkey.pem").read_bytes()

    refused = run_script(str(tmp_path))
    assert refused.returncode == 1
    assert "already exists" in refused.stderr and "--force" in refused.stderr
    assert ((tmp_path / "fullchain.pem").read_bytes(), (tmp_path / "privkey.pem").read_bytes()) == (
        before
    )

    assert run_script("--force", str(tmp_path)).returncode == 0
    assert (tmp_path / "privkey.pem").read_bytes() != before[1]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["fullchain.pem", "privkey.pem"]


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        ((), "the output directory is missing"),
        (("--days", "soon", "tls"), "--days must be a whole number"),
        (("tls", "not a host"), "neither a host name nor an IP address"),
        (("--frobnicate", "tls"), "unknown option"),
    ],
)
def test_the_certificate_script_explains_its_usage(
    args: tuple[str, ...], complaint: str, tmp_path: Path
) -> None:
    done = subprocess.run(
        [str(CERT_SCRIPT), *args], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert done.returncode == 2
    assert complaint in done.stderr and "Usage:" in done.stderr
    assert not (tmp_path / "tls").exists()


# --- a stand-in for Flower ----------------------------------------------------------------------


class FlowerStandIn(ThreadingHTTPServer):
    """Answers under /flower/ with what it received (path, headers, the peer's port)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _FlowerHandler)
        self.seen: list[dict[str, Any]] = []

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"


class _FlowerHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Flower's tornado does
    server: FlowerStandIn

    def do_GET(self) -> None:
        record = {
            "path": self.path,
            "peer_port": self.client_address[1],
            "headers": {name.lower(): value for name, value in self.headers.items()},
        }
        self.server.seen.append(record)
        status = 200 if self.path.startswith("/flower/") else 404
        body = json.dumps(record).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Frame-Options", "SAMEORIGIN")  # nginx's DENY must win
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def flower() -> Iterator[FlowerStandIn]:
    server = FlowerStandIn()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


# --- nginx in front of the API ------------------------------------------------------------------


@dataclass
class Edge:
    https_port: int
    http_port: int
    status_port: int
    tls_dir: Path
    acme_dir: Path
    access_log: Path
    api: ApiServer

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def client(self, **kwargs: Any) -> httpx.Client:
        """A client trusting the test certificate, as a user's browser would once told to."""
        trust = ssl.create_default_context(cafile=str(self.tls_dir / "fullchain.pem"))
        return httpx.Client(base_url=self.https_url, verify=trust, timeout=30, **kwargs)

    def api_lines(self) -> list[dict[str, Any]]:
        """The API's access-log events."""
        events = [json.loads(line) for line in self.api.logs().splitlines() if line.startswith("{")]
        return [event for event in events if event.get("event") == "http_request"]

    def api_saw(self, request_id: str) -> bool:
        return any(line.get("request_id") == request_id for line in self.api_lines())

    def api_entry(self, request_id: str) -> dict[str, Any]:
        """The API's access-log line of a request (written just after it answers)."""
        deadline = time.monotonic() + 5
        while True:
            for line in self.api_lines():
                if line.get("request_id") == request_id:
                    return line
            assert time.monotonic() < deadline, f"the API logged no request {request_id}"
            time.sleep(0.05)

    def access_log_entry(self, request_id: str) -> dict[str, Any]:
        """nginx's access-log line of a request (written when the answer is complete)."""
        deadline = time.monotonic() + 5
        while True:
            for line in self.access_log.read_text().splitlines():
                entry: dict[str, Any] = json.loads(line)
                if entry["request_id"] == request_id:
                    return entry
            assert time.monotonic() < deadline, f"nginx logged no request {request_id}"
            time.sleep(0.05)


@pytest.fixture(scope="module")
def edge(
    tmp_path_factory: pytest.TempPathFactory, certificate: Path, flower: FlowerStandIn
) -> Iterator[Edge]:
    nginx = installed("nginx", "nginx")
    workdir = tmp_path_factory.mktemp("edge")
    with (
        # nginx's workers (an unprivileged user) read the challenges; pytest's folders are private.
        tempfile.TemporaryDirectory(prefix="refnet-acme-") as acme_dir,
        api_server(workdir, {"API__TRUSTED_PROXIES": "127.0.0.1/32"}) as api,
    ):
        Path(acme_dir).chmod(0o755)
        placement = Placement(
            api=api.base_url.removeprefix("http://"),
            flower=flower.address,
            http_port=free_port(),
            https_port=free_port(),
            status_port=free_port(),
            tls_dir=certificate,
            acme_dir=Path(acme_dir),
            pid_file=workdir / "nginx.pid",
            access_log=workdir / "access.log",
        )
        conf = render_config(workdir / "nginx", placement)
        command = [nginx, "-p", f"{conf.parent}/", "-c", str(conf), "-g", "daemon off;"]
        with serving(
            command,
            log=workdir / "nginx.log",
            ready_url=f"http://127.0.0.1:{placement.http_port}/",
            ready=lambda answer: answer.status_code == 301,
        ):
            yield Edge(
                https_port=placement.https_port,
                http_port=placement.http_port,
                status_port=placement.status_port,
                tls_dir=certificate,
                acme_dir=placement.acme_dir,
                access_log=placement.access_log,
                api=api,
            )


def assert_security_headers(answer: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert answer.headers.get_list(name) == [value], (name, answer.headers)
    policies = answer.headers.get_list("content-security-policy")
    assert len(policies) == 1 and "frame-ancestors 'none'" in policies[0], policies


def assert_nginx_answered(edge: Edge, answer: httpx.Response, status: int, error: str) -> str:
    """`answer` is nginx's own (the API never saw the request), in the API's error shape and
    with the security headers; returns its message."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = answer.json()
    assert body["error"] == error
    request_id = answer.headers["x-request-id"]
    assert body["request_id"] == request_id
    assert_security_headers(answer)
    assert edge.access_log_entry(request_id)["upstream_addr"] == ""
    assert not edge.api_saw(request_id)
    message: str = body["message"]
    return message


def test_health_answers_through_nginx_over_https_with_the_security_headers(edge: Edge) -> None:
    with edge.client() as client:
        answer = client.get("/health", headers={"X-Request-Id": "health-through-nginx"})
    assert answer.status_code == 200, answer.text
    assert_security_headers(answer)
    # The API's own, stricter policy passes; nginx adds none on top.
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["server"] == "nginx"  # no version (server_tokens off)
    assert edge.api_entry("health-through-nginx")["status"] == 200

    entry = edge.access_log_entry("health-through-nginx")
    assert entry["status"] == 200
    assert entry["uri"] == "/health"
    assert float(entry["upstream_response_time"]) >= 0
    assert entry["upstream_addr"] == edge.api.base_url.removeprefix("http://")
    assert entry["tls"] in ("TLSv1.2", "TLSv1.3")


def test_plain_http_redirects_to_https_keeping_host_and_path(edge: Edge) -> None:
    with httpx.Client(base_url=edge.http_url) as client:
        answer = client.get("/api/papers/search?q=graph+networks")
        named = client.get("/auth/me", headers={"Host": "refnet.example.org"})
        posted = client.post("/auth/login", json={})
    assert answer.status_code == 301
    assert answer.headers["location"] == "https://127.0.0.1/api/papers/search?q=graph+networks"
    assert named.headers["location"] == "https://refnet.example.org/auth/me"
    assert posted.status_code == 301  # nothing reaches the API in clear text
    assert_security_headers(answer)


def test_acme_challenges_are_answered_over_plain_http(edge: Edge) -> None:
    challenges = edge.acme_dir / ".well-known" / "acme-challenge"
    challenges.mkdir(parents=True, exist_ok=True)
    (challenges / "token-123").write_text("token-123.thumbprint")
    with httpx.Client(base_url=edge.http_url) as client:
        answer = client.get("/.well-known/acme-challenge/token-123")
        missing = client.get("/.well-known/acme-challenge/other")
    assert answer.status_code == 200
    assert answer.text == "token-123.thumbprint"
    assert missing.status_code == 404


def test_metrics_are_not_served_through_nginx(edge: Edge) -> None:
    # Asked directly from loopback (API__METRICS_NETWORKS), the API would answer.
    assert edge.api.get("/metrics").status_code == 200
    paths = ["/metrics", "/metrics/", "//metrics", "/%6Detrics", "/metrics?format=json"]
    with edge.client() as client:
        for path in paths:
            answer = client.get(edge.https_url + path)  # absolute: httpx keeps `//` as it is
            assert_nginx_answered(edge, answer, 404, "not_found")


def test_the_exporter_reads_nginx_status_on_the_internal_port_only(edge: Edge) -> None:
    status = httpx.get(f"http://127.0.0.1:{edge.status_port}/stub_status")
    assert status.status_code == 200
    assert status.text.startswith("Active connections:")
    with edge.client() as client:
        public = client.get("/stub_status")
    assert public.status_code == 404
    assert "Active connections" not in public.text


def tls_handshake(
    port: int, version: ssl.TLSVersion, cafile: Path, *, alpn: list[str] | None = None
) -> tuple[str | None, str | None]:
    """The protocol version and ALPN protocol of a handshake limited to `version`."""
    context = ssl.create_default_context(cafile=str(cafile))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.1, on purpose
        context.minimum_version = context.maximum_version = version
    if version < ssl.TLSVersion.TLSv1_2:
        context.set_ciphers("DEFAULT:@SECLEVEL=0")  # the client is willing; the server decides
    if alpn:
        context.set_alpn_protocols(alpn)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        return tls.version(), tls.selected_alpn_protocol()


@contextmanager
def tls_1_1_server(tls_dir: Path) -> Iterator[int]:
    """A loopback server that does accept TLS 1.1: proof that the client side can."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls_dir / "fullchain.pem", tls_dir / "privkey.pem")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    listener = socket.create_server(("127.0.0.1", 0))

    def accept_one() -> None:
        connection, _ = listener.accept()
        try:
            with context.wrap_socket(connection, server_side=True):
                pass
        except (OSError, ssl.SSLError):
            connection.close()

    thread = threading.Thread(target=accept_one, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        thread.join(timeout=10)
        listener.close()


def test_only_tls_1_2_and_1_3_are_accepted(edge: Edge) -> None:
    cafile = edge.tls_dir / "fullchain.pem"
    assert tls_handshake(edge.https_port, ssl.TLSVersion.TLSv1_2, cafile)[0] == "TLSv1.2"
    assert tls_handshake(
        edge.https_port, ssl.TLSVersion.TLSv1_3, cafile, alpn=["h2", "http/1.1"]
    ) == ("TLSv1.3", "h2")

    with tls_1_1_server(edge.tls_dir) as control_port:
        assert tls_handshake(control_port, ssl.TLSVersion.TLSv1_1, cafile)[0] == "TLSv1.1"
    with pytest.raises(ssl.SSLError):
        tls_handshake(edge.https_port, ssl.TLSVersion.TLSv1_1, cafile)


def test_flower_is_reached_under_its_prefix_over_kept_alive_connections(
    edge: Edge, flower: FlowerStandIn
) -> None:
    with edge.client() as client:
        bare = client.get("/flower")
        flower.seen.clear()
        answers = [client.get(f"/flower/dashboard?page={page}") for page in range(3)]
    assert bare.status_code == 301
    assert bare.headers["location"] == "/flower/"
    assert_security_headers(bare)

    for page, answer in enumerate(answers):
        assert answer.status_code == 200, answer.text
        assert answer.json()["path"] == f"/flower/dashboard?page={page}"
        assert_security_headers(answer)  # Flower's own X-Frame-Options is replaced
    headers = flower.seen[0]["headers"]
    assert headers["x-forwarded-proto"] == "https"
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["host"] == "127.0.0.1"
    assert headers.get("connection", "").lower() != "close"
    # One upstream connection, reused (keep-alive towards Flower).
    assert len({seen["peer_port"] for seen in flower.seen}) == 1


def test_a_body_above_the_api_limit_is_refused_by_nginx_and_one_at_it_passes(
    edge: Edge,
) -> None:
    with edge.client() as client:
        too_large = client.post(
            "/api/seeds",
            content=b"x" * (MAX_BODY_BYTES + 1),
            headers={"Content-Type": "application/json", "X-Request-Id": "body-too-large"},
        )
        at_limit = client.post(
            "/api/seeds",
            content=b"x" * MAX_BODY_BYTES,
            headers={"Content-Type": "application/json", "X-Request-Id": "body-at-limit"},
        )
    assert_nginx_answered(edge, too_large, 413, "body_too_large")
    assert at_limit.status_code != 413, at_limit.text
    assert edge.api_entry("body-at-limit")["status"] == at_limit.status_code


def test_a_url_or_header_too_long_is_refused_by_nginx_in_the_apis_error_shape(
    edge: Edge,
) -> None:
    with edge.client() as client:
        long_url = client.get("/api/papers/" + "a" * 20_000)
        long_header = client.get("/api/papers", headers={"X-Notes": "b" * 20_000})
    assert "longer than this server accepts" in assert_nginx_answered(
        edge, long_url, 414, "uri_too_long"
    )
    assert "headers are larger" in assert_nginx_answered(edge, long_header, 400, "bad_request")


def test_request_ids_reach_the_api_and_are_made_when_missing(edge: Edge) -> None:
    with edge.client() as client:
        given = client.get("/health", headers={"X-Request-Id": "client-chosen.id-1"})
        missing = client.get("/health")
        unusable = client.get("/health", headers={"X-Request-Id": "has spaces; and more"})
    assert given.headers.get_list("x-request-id") == ["client-chosen.id-1"]
    assert edge.api_entry("client-chosen.id-1")["status"] == 200

    for answer in (missing, unusable):
        made = answer.headers["x-request-id"]
        assert len(made) == 32 and made != "has spaces; and more"
        # The same id in nginx's log and in the API's: one request, one id, end to end.
        assert edge.api_entry(made)["status"] == 200
        assert edge.access_log_entry(made)["status"] == 200


def test_a_client_cannot_choose_the_address_the_api_sees(edge: Edge) -> None:
    with edge.client() as client:
        client.get(
            "/health", headers={"X-Forwarded-For": "203.0.113.9", "X-Request-Id": "spoofed-xff"}
        )
    assert edge.api_entry("spoofed-xff")["client_ip"] == "127.0.0.1"


def test_hammering_the_login_route_is_stopped_by_nginx_before_the_api(edge: Edge) -> None:
    with edge.client() as client:
        answers = [
            client.post(
                "/auth/login",
                # A new name each time: the API's lockout per user name stays out of it.
                json={"username": f"nobody-{attempt}", "password": "wrong password, again"},
                headers={"X-Request-Id": f"hammer-{attempt}"},
            )
            for attempt in range(40)
        ]
    limited = [answer for answer in answers if answer.status_code == 429]
    reached = [answer for answer in answers if answer.status_code != 429]
    assert len(limited) >= 25, [answer.status_code for answer in answers]
    for answer in reached:
        assert answer.status_code == 401, answer.text  # the API's answer to a wrong password
    for answer in limited:
        message = assert_nginx_answered(edge, answer, 429, "rate_limited")
        assert answer.headers["retry-after"] == "6"
        assert "retry after 6 s" in message
    for answer in reached:
        assert edge.api_entry(answer.headers["x-request-id"])["route"] == "/auth/login"

    # Other routes have their own allowance.
    with edge.client() as client:
        assert client.get("/health").status_code == 200
