"""Fetching PDFs from a real HTTP server on loopback (allowlisted as tests must)."""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import httpcore
import pytest
from structlog.testing import capture_logs

from refnet.core.errors import PermanentError, TransientError
from refnet.summarizer.pdf import (
    FetchedPdf,
    PdfFetcher,
    PdfLocation,
    PdfTemporarilyUnavailable,
    PdfUnavailable,
    pdf_locations,
)
from tests.fakes.pdf_host import FakePdfHost, Route, html, huge, pdf, redirect, slow, status
from tests.support.pdfs import pdf_bytes

PAPER = pdf_bytes(title="Served Paper")
PAPER_SHA = hashlib.sha256(PAPER).hexdigest()
LOOPBACK = ["127.0.0.0/8"]


@pytest.fixture
def host() -> Iterator[FakePdfHost]:
    with FakePdfHost() as fake:
        yield fake


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "pdf-cache"


def fetch(cache_dir: Path, *urls: str, **options: Any) -> FetchedPdf:
    options.setdefault("allowlist", LOOPBACK)
    with PdfFetcher(cache_dir=cache_dir, **options) as fetcher:
        return fetcher.fetch([PdfLocation(url, f"origin{i}") for i, url in enumerate(urls)])


def failure(cache_dir: Path, *urls: str, **options: Any) -> PdfUnavailable:
    with pytest.raises(PdfUnavailable) as caught:
        fetch(cache_dir, *urls, **options)
    return caught.value


def files_in(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file()) if directory.exists() else []


# -- choosing a location ------------------------------------------------------------------


def test_first_location_that_yields_a_pdf_is_taken(host: FakePdfHost, cache_dir: Path) -> None:
    missing = host.route("/missing.pdf", status(404))
    landing = host.route("/landing", html("<html><a href='/paper.pdf'>PDF</a></html>"))
    paper = host.route("/paper.pdf", pdf(PAPER))
    never = host.route("/never.pdf", pdf(b"%PDF-1.4 other"))

    fetched = fetch(cache_dir, missing, landing, paper, never)

    assert (fetched.url, fetched.origin) == (paper, "origin2")
    assert fetched.path.read_bytes() == PAPER
    assert (fetched.sha256, fetched.size) == (PAPER_SHA, len(PAPER))
    assert host.requests == ["/missing.pdf", "/landing", "/paper.pdf"]


def test_no_location_at_all_is_unavailable(cache_dir: Path) -> None:
    assert str(failure(cache_dir)) == "no PDF could be fetched: no PDF location known"


def test_mixed_failures_list_every_url_with_its_reason(host: FakePdfHost, cache_dir: Path) -> None:
    urls = [
        host.route("/gone.pdf", status(404)),
        host.route("/landing", html("<html>Sign in</html>")),
        host.route("/busy.pdf", status(503)),
        host.route("/big.pdf", huge(2_000_000)),
    ]

    error = failure(cache_dir, *urls, max_bytes=1024 * 1024)

    assert isinstance(error, PermanentError)
    reasons = [
        "HTTP 404",
        "not a PDF (text/html)",
        "HTTP 503",
        "larger than 1 MB (announced 1.91 MB)",
    ]
    assert error.attempts == list(zip(urls, reasons, strict=True))
    for url, reason in zip(urls, reasons, strict=True):
        assert f"{url}: {reason}" in str(error)


def test_each_attempt_is_logged_once(host: FakePdfHost, cache_dir: Path) -> None:
    missing = host.route("/missing.pdf", status(404))
    paper = host.route("/paper.pdf", pdf(PAPER))
    with capture_logs() as logs:
        fetch(cache_dir, missing, paper)
    events = [(e["event"], e["origin"], e.get("reason"), e.get("size")) for e in logs]
    assert events == [
        ("pdf_fetch_failed", "origin0", "HTTP 404", None),
        ("pdf_fetched", "origin1", None, len(PAPER)),
    ]
    assert all(e["host"] == "127.0.0.1" for e in logs)


def test_malformed_location_is_a_reason_not_a_crash(cache_dir: Path) -> None:
    error = failure(cache_dir, "http://[::1/paper.pdf", "not a url at all")
    assert [url for url, _ in error.attempts] == ["http://[::1/paper.pdf", "not a url at all"]
    assert error.attempts[0][1].startswith("invalid URL")
    assert error.attempts[1][1] == "refused scheme '(none)': only http and https"


def test_only_transient_failures_ask_for_a_retry(host: FakePdfHost, cache_dir: Path) -> None:
    closed_port = _unused_port()
    urls = [
        host.route("/busy.pdf", status(503)),
        host.route("/limited.pdf", status(429, retry_after=7)),
        host.route("/slow.pdf", slow(5.0, pdf(PAPER))),
        f"http://127.0.0.1:{closed_port}/paper.pdf",
    ]

    with pytest.raises(TransientError) as caught:
        fetch(cache_dir, *urls, timeout=0.3)

    assert not isinstance(caught.value, PermanentError)
    assert caught.value.retry_after == 7
    reasons = [reason for _, reason in caught.value.attempts]  # type: ignore[attr-defined]
    assert reasons[:3] == ["HTTP 503", "HTTP 429", "timed out (read)"]
    assert reasons[3].startswith("connection failed")
    assert all(url in str(caught.value) for url in urls)
    assert files_in(cache_dir) == []


# -- the cache ----------------------------------------------------------------------------


def test_pdf_is_stored_by_content_hash(host: FakePdfHost, cache_dir: Path) -> None:
    first = fetch(cache_dir, host.route("/a/paper.pdf", pdf(PAPER)))
    again = fetch(cache_dir, host.route("/mirror/copy.pdf", pdf(PAPER)))

    assert first.path == again.path == cache_dir / PAPER_SHA[:2] / f"{PAPER_SHA}.pdf"
    assert hashlib.sha256(first.path.read_bytes()).hexdigest() == PAPER_SHA
    assert files_in(cache_dir) == [first.path]  # no temp file left beside it
    with PdfFetcher(cache_dir=cache_dir) as fetcher:
        assert fetcher.cached(PAPER_SHA) == first.path
        assert fetcher.cached(PAPER_SHA.upper()) == first.path
        assert fetcher.cached("0" * 64) is None
        assert fetcher.cached("../../etc/passwd") is None


def test_stale_temp_files_of_killed_downloads_are_swept(cache_dir: Path) -> None:
    cache_dir.mkdir()
    stale = cache_dir / ".partial-old.pdf"
    stale.write_bytes(b"%PDF-1.4 half")
    old = time.time() - 2 * 86400
    os.utime(stale, (old, old))
    fresh = cache_dir / ".partial-live.pdf"  # may belong to a download in progress
    fresh.write_bytes(b"%PDF-1.4 half")

    PdfFetcher(cache_dir=cache_dir).close()

    assert files_in(cache_dir) == [fresh]


# -- size caps ----------------------------------------------------------------------------


def test_content_length_over_the_cap_is_refused_before_download(
    host: FakePdfHost, cache_dir: Path
) -> None:
    url = host.route("/big.pdf", huge(50_000_000))
    error = failure(cache_dir, url, max_bytes=10_000)
    assert error.attempts == [(url, "larger than 9.77 KB (announced 47.7 MB)")]
    assert host.bytes_sent < 50_000_000 // 2
    assert files_in(cache_dir) == []


def test_streamed_body_over_the_cap_is_aborted(host: FakePdfHost, cache_dir: Path) -> None:
    url = host.route("/endless.pdf", huge(50_000_000, send_length=False))
    error = failure(cache_dir, url, max_bytes=100_000)
    assert error.attempts == [(url, "larger than 97.7 KB")]
    assert host.bytes_sent < 50_000_000 // 2  # the download stopped early
    assert files_in(cache_dir) == []


def test_body_exactly_at_the_cap_is_accepted(host: FakePdfHost, cache_dir: Path) -> None:
    fetched = fetch(cache_dir, host.route("/p.pdf", pdf(PAPER)), max_bytes=len(PAPER))
    assert fetched.size == len(PAPER)


def test_chunked_pdf_without_length_is_stored(host: FakePdfHost, cache_dir: Path) -> None:
    url = host.route("/chunked.pdf", Route(body=PAPER, send_length=False, chunk_size=1000))
    assert fetch(cache_dir, url).path.read_bytes() == PAPER


# -- redirects ----------------------------------------------------------------------------


def test_redirects_are_followed_relative_and_absolute(host: FakePdfHost, cache_dir: Path) -> None:
    start = host.route("/start", redirect("/dir/next", status=301))
    host.route("/dir/next", redirect("final.pdf"))
    host.route("/dir/final.pdf", redirect(host.url("/files/paper.pdf"), status=307))
    host.route("/files/paper.pdf", pdf(PAPER))

    fetched = fetch(cache_dir, start)

    assert fetched.path.read_bytes() == PAPER
    assert fetched.url == start
    assert host.requests == ["/start", "/dir/next", "/dir/final.pdf", "/files/paper.pdf"]


def test_redirects_beyond_the_cap_are_refused(host: FakePdfHost, cache_dir: Path) -> None:
    start = host.route("/r0", redirect("/r1"))
    host.route("/r1", redirect("/r2"))
    host.route("/r2", redirect("/paper.pdf"))
    host.route("/paper.pdf", pdf(PAPER))

    error = failure(cache_dir, start, max_redirects=2)
    assert error.attempts == [(start, "too many redirects (more than 2)")]
    assert fetch(cache_dir, start, max_redirects=3).sha256 == PAPER_SHA


def test_redirect_loop_is_refused(host: FakePdfHost, cache_dir: Path) -> None:
    start = host.route("/loop-a", redirect("/loop-b"))
    host.route("/loop-b", redirect("/loop-a"))

    error = failure(cache_dir, start, max_redirects=5)

    assert error.attempts == [(start, "too many redirects (more than 5)")]
    assert len(host.requests) == 6


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "refused link-local address 169.254.169.254"),
        ("http://10.0.0.5/paper.pdf", "refused private address 10.0.0.5"),
        ("http://[::1]/paper.pdf", "refused loopback address ::1"),
        ("file:///etc/passwd", "refused scheme 'file': only http and https"),
    ],
)
def test_redirect_into_the_internal_network_is_refused(
    host: FakePdfHost, cache_dir: Path, target: str, reason: str
) -> None:
    start = host.route("/paper.pdf", redirect(target))
    [(url, text)] = failure(cache_dir, start, timeout=2.0).attempts
    assert url == start
    assert text.startswith("redirected to ") and text.endswith(reason)


# -- SSRF ---------------------------------------------------------------------------------


def test_loopback_is_refused_without_the_allowlist(host: FakePdfHost, cache_dir: Path) -> None:
    url = host.route("/paper.pdf", pdf(PAPER))
    error = failure(cache_dir, url, allowlist=())
    assert error.attempts == [(url, "refused loopback address 127.0.0.1")]
    assert host.requests == []  # nothing reached the server


def test_credentials_in_a_location_are_refused(host: FakePdfHost, cache_dir: Path) -> None:
    host.route("/paper.pdf", pdf(PAPER))
    url = f"http://user:secret@127.0.0.1:{host.port}/paper.pdf"
    error = failure(cache_dir, url)
    assert "credentials" in error.attempts[0][1]
    assert host.requests == []


# -- content checks -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "application/pdf",
        "application/x-pdf",
        "application/octet-stream",
        "binary/octet-stream",
        "Application/PDF; charset=binary",
        None,
    ],
)
def test_pdf_content_types_are_accepted(
    host: FakePdfHost, cache_dir: Path, content_type: str | None
) -> None:
    url = host.route("/paper", pdf(PAPER, content_type=content_type))
    assert fetch(cache_dir, url).sha256 == PAPER_SHA


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "text/plain", "image/png"])
def test_other_content_types_are_refused(
    host: FakePdfHost, cache_dir: Path, content_type: str
) -> None:
    url = host.route("/paper", pdf(PAPER, content_type=content_type))
    error = failure(cache_dir, url)
    assert error.attempts == [(url, f"not a PDF ({content_type.split(';')[0]})")]
    assert files_in(cache_dir) == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<!DOCTYPE html><html>Download</html>", "not a PDF (no %PDF- header)"),
        (b"", "not a PDF (empty body)"),
        (b"%PD", "not a PDF (no %PDF- header)"),
        (b" " * 2000 + PAPER, "not a PDF (no %PDF- header in the first KiB)"),
    ],
)
def test_bodies_that_are_no_pdf_are_refused(
    host: FakePdfHost, cache_dir: Path, body: bytes, reason: str
) -> None:
    url = host.route("/paper.pdf", pdf(body))
    assert failure(cache_dir, url).attempts == [(url, reason)]
    assert files_in(cache_dir) == []


def test_leading_whitespace_and_bom_before_the_header_are_tolerated(
    host: FakePdfHost, cache_dir: Path
) -> None:
    body = b"\xef\xbb\xbf\r\n  \n" + PAPER
    fetched = fetch(cache_dir, host.route("/paper.pdf", Route(body=body, chunk_size=3)))
    assert fetched.path.read_bytes() == body  # stored as served


# -- time limits ----------------------------------------------------------------------------


def test_slow_server_times_out_as_a_transient_failure(host: FakePdfHost, cache_dir: Path) -> None:
    url = host.route("/slow.pdf", slow(5.0, pdf(PAPER)))
    with pytest.raises(TransientError, match="timed out"):
        fetch(cache_dir, url, timeout=0.3)
    assert files_in(cache_dir) == []


def test_trickling_server_hits_the_total_time_limit(host: FakePdfHost, cache_dir: Path) -> None:
    route = Route(body=PAPER, chunk_size=max(1, len(PAPER) // 20), chunk_delay=0.1)
    url = host.route("/trickle.pdf", route)
    with pytest.raises(TransientError, match=r"download slower than 0\.5s"):
        fetch(cache_dir, url, timeout=5.0, total_timeout=0.5)
    assert files_in(cache_dir) == []


# -- where PDFs may be --------------------------------------------------------------------


def test_locations_come_in_order_of_preference() -> None:
    locations = pdf_locations(
        open_access_pdf_url="https://example.org/paper.pdf",
        arxiv_id="2005.11401",
        external_ids={"PubMedCentral": "PMC1234567", "ACL": "2020.acl-main.1", "DOI": "10.1/x"},
    )
    assert [(loc.origin, loc.url) for loc in locations] == [
        ("open_access", "https://example.org/paper.pdf"),
        ("arxiv", "https://arxiv.org/pdf/2005.11401"),
        ("pubmed_central", "https://www.ncbi.nlm.nih.gov/pmc/articles/PMC1234567/pdf/"),
        ("acl_anthology", "https://aclanthology.org/2020.acl-main.1.pdf"),
    ]


def test_locations_skip_what_is_missing_and_drop_duplicates() -> None:
    locations = pdf_locations(
        open_access_pdf_url="https://arxiv.org/pdf/hep-th/9901001",
        arxiv_id=None,
        external_ids={"ArXiv": "hep-th/9901001", "PubMedCentral": "7654321"},
    )
    assert [loc.url for loc in locations] == [
        "https://arxiv.org/pdf/hep-th/9901001",
        "https://www.ncbi.nlm.nih.gov/pmc/articles/PMC7654321/pdf/",
    ]
    assert locations[0].origin == "open_access"
    empty = pdf_locations(open_access_pdf_url="  ", arxiv_id="", external_ids={})
    assert empty == []


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- DNS rebinding --------------------------------------------------------------------------


def rebinding_dns(monkeypatch: pytest.MonkeyPatch, name: str, answers: list[str]) -> list[str]:
    """`name` resolves to the next of `answers` on each lookup (the last one thereafter), as a
    hostile DNS server can arrange; every other name resolves as usual. Returns the lookups."""
    real = socket.getaddrinfo
    lookups: list[str] = []

    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        if host != name:
            return real(host, port, *args, **kwargs)
        address = answers[min(len(lookups), len(answers) - 1)]
        lookups.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return lookups


def test_a_host_that_rebinds_to_loopback_after_the_check_is_never_reached(
    host: FakePdfHost, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host.route("/paper.pdf", pdf(PAPER))
    lookups = rebinding_dns(monkeypatch, "rebind.test", ["93.184.216.34", "127.0.0.1"])
    dialled: list[str] = []

    def dial(self: object, address: str, port: int, *args: object) -> NoReturn:
        dialled.append(address)  # the public address, which no test may really reach
        raise httpcore.ConnectError("unreachable in tests")

    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", dial)
    url = f"http://rebind.test:{host.port}/paper.pdf"

    with pytest.raises(PdfTemporarilyUnavailable, match="unreachable in tests"):
        fetch(cache_dir, url, allowlist=[], timeout=1.0)

    assert dialled == ["93.184.216.34"]  # the checked address is the one dialled
    assert lookups == ["93.184.216.34"]  # after one lookup: no second answer to rebind with
    assert host.requests == []  # the loopback server behind the second answer saw nothing


def test_a_host_that_resolves_to_loopback_at_once_is_refused_at_connect(
    host: FakePdfHost, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host.route("/paper.pdf", pdf(PAPER))
    rebinding_dns(monkeypatch, "inside.test", ["127.0.0.1"])

    problem = failure(cache_dir, f"http://inside.test:{host.port}/paper.pdf", allowlist=[])

    assert host.requests == []
    assert "refused loopback address 127.0.0.1 (host inside.test)" in str(problem)


def test_an_allowlisted_name_is_dialled_at_the_address_it_resolved_to_once(
    host: FakePdfHost, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host.route("/paper.pdf", pdf(PAPER))
    lookups = rebinding_dns(monkeypatch, "pdfs.test", ["127.0.0.1", "10.9.9.9"])

    fetched = fetch(cache_dir, f"http://pdfs.test:{host.port}/paper.pdf", allowlist=["pdfs.test"])

    assert fetched.sha256 == PAPER_SHA
    assert lookups == ["127.0.0.1"]
