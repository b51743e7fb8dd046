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
the host. Residual risk: httpx resolves the name again to connect, so a DNS-rebinding host
could answer differently the second time. Deployments that need a hard guarantee send PDF
traffic through an egress proxy enforcing the same rules.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass

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
    """Raise `BlockedAddress` unless `url` may be fetched (see the module docstring)."""
    parsed = _parse(url)
    host = parsed.raw_host.decode("ascii")
    rules = Allowlist.parse(allowlist)
    if rules.allows_host(host):
        return
    port = parsed.port or _DEFAULT_PORTS[parsed.scheme]
    for address in resolve(host, port):
        if rules.allows_address(address):
            continue
        kind = refusal(address)
        if kind is not None:
            shown = _show(address)
            suffix = "" if host.strip("[]") == shown else f" (host {host})"
            raise BlockedAddress(f"refused {kind} address {shown}{suffix}")


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
