"""SSRF guard: which URLs RefNet may fetch PDFs from."""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Any

import pytest

from refnet.core.errors import PermanentError, TransientError
from refnet.summarizer.netguard import BlockedAddress, check_url


def fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> None:
    """DNS that knows only `answers` (name -> addresses); other names do not exist."""

    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        family = {4: socket.AF_INET, 6: socket.AF_INET6}
        return [
            (family[ipaddress.ip_address(a).version], socket.SOCK_STREAM, 6, "", (a, port))
            for a in answers[host]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/paper.pdf", "refused loopback address 127.0.0.1"),
        ("http://127.8.9.10:8080/", "refused loopback address 127.8.9.10"),
        ("http://10.0.0.5/paper.pdf", "refused private address 10.0.0.5"),
        ("https://172.16.3.4/x.pdf", "refused private address 172.16.3.4"),
        ("http://192.168.1.1/", "refused private address 192.168.1.1"),
        ("http://169.254.169.254/latest/meta-data/", "refused link-local address 169.254.169.254"),
        ("http://100.64.0.1/", "refused non-public address 100.64.0.1"),
        ("http://0.0.0.0/", "refused unspecified address 0.0.0.0"),
        ("http://224.0.0.1/", "refused multicast address 224.0.0.1"),
        ("http://240.0.0.1/", "refused reserved address 240.0.0.1"),
        ("http://[::1]/paper.pdf", "refused loopback address ::1"),
        ("http://[fc00::1]/", "refused private address fc00::1"),
        ("http://[fd12:3456::1]/", "refused private address fd12:3456::1"),
        ("http://[fe80::1]/", "refused link-local address fe80::1"),
        ("http://[::ffff:10.0.0.1]/", "refused private address ::ffff:10.0.0.1"),
        ("http://[::ffff:127.0.0.1]/", "refused loopback address ::ffff:127.0.0.1"),
        ("http://[::ffff:169.254.169.254]/", "refused link-local address"),
        ("http://[64:ff9b::a00:1]/", "refused private address 64:ff9b::a00:1"),
        ("http://2130706433/", "refused loopback address 127.0.0.1"),  # 127.0.0.1 as a number
        ("http://0x7f.1/", "refused loopback address 127.0.0.1"),
    ],
)
def test_internal_addresses_are_refused(url: str, reason: str) -> None:
    with pytest.raises(BlockedAddress, match=re.escape(reason)):
        check_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://93.184.216.34/paper.pdf",
        "https://93.184.216.34:8443/files/paper.pdf?download=1",
        "https://[2606:2800:220:1:248:1893:25c8:1946]/paper.pdf",
        "HTTPS://8.8.8.8/a.pdf",
    ],
)
def test_public_addresses_are_allowed(url: str) -> None:
    check_url(url)


def test_a_host_name_is_refused_when_any_of_its_addresses_is_internal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_dns(monkeypatch, {"papers.example": ["93.184.216.34", "10.1.2.3"]})
    with pytest.raises(BlockedAddress, match=r"10\.1\.2\.3 \(host papers\.example\)"):
        check_url("https://papers.example/paper.pdf")


def test_a_host_name_resolving_to_public_addresses_is_allowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_dns(monkeypatch, {"papers.example": ["93.184.216.34", "2606:2800:220:1::1"]})
    check_url("https://papers.example/paper.pdf")


def test_allowlisted_network_lifts_the_refusal() -> None:
    check_url("http://127.0.0.1:8000/paper.pdf", allowlist=["127.0.0.0/8"])
    check_url("http://[::1]:8000/paper.pdf", allowlist=["::1/128"])
    check_url("http://10.9.8.7/paper.pdf", allowlist=["10.9.8.7"])


def test_allowlist_covers_only_its_own_networks() -> None:
    with pytest.raises(BlockedAddress, match=r"10\.1\.2\.3"):
        check_url("http://10.1.2.3/paper.pdf", allowlist=["127.0.0.0/8"])
    with pytest.raises(BlockedAddress, match="::1"):
        check_url("http://[::1]/paper.pdf", allowlist=["127.0.0.0/8"])


def test_allowlisted_host_name_is_fetched_whatever_it_resolves_to(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_dns(monkeypatch, {"pdfs.internal": ["10.0.0.8"]})
    check_url("http://PDFS.internal./paper.pdf", allowlist=["pdfs.internal"])
    with pytest.raises(BlockedAddress, match=r"10\.0\.0\.8"):
        check_url("http://pdfs.internal/paper.pdf", allowlist=["other.internal"])


def test_malformed_allowlist_entry_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match=r"10\.0\.0\.0/33"):
        check_url("http://93.184.216.34/", allowlist=["10.0.0.0/33"])


@pytest.mark.parametrize(
    "url",
    [
        "ftp://93.184.216.34/paper.pdf",
        "file:///etc/passwd",
        "gopher://93.184.216.34/",
        "javascript:alert(1)",
        "data:application/pdf;base64,JVBERi0=",
        "//93.184.216.34/paper.pdf",
    ],
)
def test_schemes_other_than_http_are_refused(url: str) -> None:
    with pytest.raises(BlockedAddress, match="scheme"):
        check_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://user:secret@93.184.216.34/paper.pdf",
        "https://user@93.184.216.34/paper.pdf",
        "http://127.0.0.1\\@93.184.216.34/",
    ],
)
def test_urls_with_credentials_are_refused(url: str) -> None:
    with pytest.raises(BlockedAddress, match="credentials"):
        check_url(url, allowlist=["93.184.216.34"])


def test_url_without_host_is_refused() -> None:
    with pytest.raises(BlockedAddress, match="without a host"):
        check_url("http:///paper.pdf")


def test_unknown_host_is_a_permanent_error(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dns(monkeypatch, {})
    with pytest.raises(PermanentError, match=r"cannot resolve host no-such-host\.example"):
        check_url("https://no-such-host.example/paper.pdf")


def test_temporary_dns_failure_is_transient(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(*args: object, **kwargs: object) -> list[tuple[Any, ...]]:
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", failing)
    with pytest.raises(TransientError, match="temporary DNS failure"):
        check_url("https://papers.example/paper.pdf")


def test_blocked_address_is_permanent() -> None:
    with pytest.raises(PermanentError):
        check_url("http://10.0.0.1/")
