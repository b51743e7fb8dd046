"""SSRF protection for outbound PDF fetches.

`check_url` refuses a URL unless it is plain http(s) without credentials and its host resolves
(every address `getaddrinfo` returns) to public addresses only. Refused: private, loopback,
link-local (including the cloud metadata service 169.254.169.254), multicast, reserved,
unspecified and any other non-global address, also when wrapped in IPv6 (IPv4-mapped
`::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4). An allowlist of host names and CIDR networks
lifts the refusal; tests allowlist loopback.

DNS failures: a host that does not exist is a `PermanentError` (a PDF host missing from DNS is
not fixed by retrying the task); only EAI_AGAIN, "temporary failure in name resolution", which
says our resolver is struggling, is a `TransientError`.

URLs are parsed with httpx, the parser the client uses, so the check and the request agree on
the host. The PDF client connects through `GuardedBackend`, which resolves a host once, checks
the answer and connects to a checked address: a DNS-rebinding host has no second lookup to
answer differently. Answers (and failures) are kept for a minute, so a host that does not
resolve costs one lookup, not one per paper.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import httpcore
import httpx

from refnet.core.errors import PermanentError, TransientError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = frozenset({"http", "https"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class BlockedAddress(PermanentError):
    """The URL must not be fetched: bad scheme, credentials, or a non-public address."""


@dataclass(frozen=True, slots=True)
class Allowlist:
    hosts: frozenset[str]
    networks: tuple[Network, ...]

    @classmethod
    def parse(cls, entries: Sequence[str]) -> Allowlist:
        """Entries that parse as an address or CIDR network are networks, the rest host names."""
        if isinstance(entries, str):
            entries = (entries,)
        hosts: set[str] = set()
        networks: list[Network] = []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                if "/" in entry:
                    raise ValueError(f"invalid network in allowlist: {entry!r}") from None
                hosts.add(_normalize_host(entry))
        return cls(frozenset(hosts), tuple(networks))

    def allows_host(self, host: str) -> bool:
        return _normalize_host(host) in self.hosts

    def allows_address(self, address: Address) -> bool:
        return any(address in network for network in self.networks)


def check_url(url: str, *, allowlist: Sequence[str] = ()) -> None:
    """Raise `BlockedAddress` unless `url` may be fetched (see the module docstring).

    The whole rule for one URL. The PDF client applies it in its two halves: `check_url_form`
    before each request and redirect hop, `connectable_addresses` when it connects.
    """
    parsed = check_url_form(url)
    host = parsed.raw_host.decode("ascii")
    rules = Allowlist.parse(allowlist)
    if not rules.allows_host(host):  # an allowlisted name needs no lookup to be allowed
        port = parsed.port or _DEFAULT_PORTS[parsed.scheme]
        connectable_addresses(host, resolve(host, port), rules)


def check_url_form(url: str) -> httpx.URL:
    """The parsed URL, unless its scheme, credentials or missing host refuse it (no DNS)."""
    return _parse(url)


def connectable_addresses(host: str, addresses: list[Address], rules: Allowlist) -> list[Address]:
    """`addresses` (what `host` resolved to) if they may be contacted, else `BlockedAddress`:
    every one must be public or allowlisted, unless the host name itself is allowlisted."""
    if rules.allows_host(host):
        return addresses
    for address in addresses:
        if rules.allows_address(address):
            continue
        kind = refusal(address)
        if kind is not None:
            shown = _show(address)
            suffix = "" if host.strip("[]") == shown else f" (host {host})"
            raise BlockedAddress(f"refused {kind} address {shown}{suffix}")
    return addresses


def guarded_transport(allowlist: Sequence[str] = ()) -> httpx.HTTPTransport:
    """An httpx transport whose every connection goes through `GuardedBackend`."""
    transport = httpx.HTTPTransport(trust_env=False)
    # httpx offers no public way to choose httpcore's network backend; its pool is swapped for
    # one that uses ours (a test fetches through a rebinding host name to prove it holds).
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        network_backend=GuardedBackend(allowlist),
    )
    return transport


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's network backend, connecting only to addresses it resolved and checked."""

    ANSWER_SECONDS = 60.0

    def __init__(self, allowlist: Sequence[str] = ()) -> None:
        self.rules = Allowlist.parse(allowlist)
        self._inner = httpcore.SyncBackend()
        self._answers: dict[tuple[str, int], tuple[float, list[Address] | Exception]] = {}
        self._lock = threading.Lock()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = connectable_addresses(host, self._resolve(host, port), self.rules)
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                return self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # `resolve` never returns an empty list
        raise failure

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise BlockedAddress("refused a Unix socket: only http and https hosts are fetched")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)

    def _resolve(self, host: str, port: int) -> list[Address]:
        key, now = (host, port), time.monotonic()
        with self._lock:
            cached = self._answers.get(key)
        if cached is not None and now - cached[0] < self.ANSWER_SECONDS:
            answer = cached[1]
        else:
            try:
                answer = resolve(host, port)
            except (PermanentError, TransientError) as exc:
                answer = exc
            with self._lock:
                self._answers[key] = (now, answer)
        if isinstance(answer, Exception):
            raise answer
        return answer


def refusal(address: Address) -> str | None:
    """Why `address` may not be contacted ("private", "loopback", ...), or None if public."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return refusal(embedded)
    checks = (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("unspecified", address.is_unspecified),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("site-local", isinstance(address, ipaddress.IPv6Address) and address.is_site_local),
        ("non-public", not address.is_global),
    )
    return next((kind for kind, refused in checks if refused), None)


def resolve(host: str, port: int) -> list[Address]:
    """Every address `host` resolves to (IP literals resolve to themselves without DNS)."""
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        if exc.errno == socket.EAI_AGAIN:
            raise TransientError(f"temporary DNS failure resolving {host}") from exc
        raise PermanentError(f"cannot resolve host {host}: {exc.strerror}") from exc
    except (UnicodeError, OSError) as exc:
        raise PermanentError(f"cannot resolve host {host}: {exc}") from exc
    addresses = sorted({ipaddress.ip_address(info[4][0]) for info in infos}, key=str)
    if not addresses:
        raise PermanentError(f"cannot resolve host {host}: no addresses")
    return addresses


def _parse(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise BlockedAddress(f"invalid URL {url!r}: {exc}") from exc
    if parsed.scheme not in ALLOWED_SCHEMES:
        raise BlockedAddress(f"refused scheme {parsed.scheme or '(none)'!r}: only http and https")
    if parsed.userinfo:
        raise BlockedAddress("refused URL with credentials (user:password@)")
    if not parsed.raw_host:
        raise BlockedAddress(f"refused URL without a host: {url!r}")
    return parsed


def _embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def _show(address: Address) -> str:
    """IPv4-mapped addresses the way people write them (::ffff:10.0.0.1)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return f"::ffff:{address.ipv4_mapped}"
    return str(address)


def _normalize_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()
