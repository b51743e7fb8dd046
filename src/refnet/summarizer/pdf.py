"""Acquiring open-access PDFs: candidate locations, a guarded download, a content-addressed cache.

`PdfFetcher.fetch` tries each location in order until one yields a PDF. Every request and every
redirect hop is checked against the SSRF rules (`netguard`): its URL before it is sent, the
address it connects to when it connects (one DNS lookup, checked, then used); redirects are
followed by hand. The body is
streamed to a temp file in the cache directory, never beyond `max_bytes`, and must be served as
a PDF-ish content type (or none) and start with `%PDF-`. A good file is renamed atomically to
`<cache>/<sha256[:2]>/<sha256>.pdf`; a failed one leaves nothing behind.

When no location works: if every failure was transient (timeouts, connection errors, 429, 5xx,
a temporary DNS failure) `PdfTemporarilyUnavailable` (a `TransientError`) asks for a later
retry; otherwise `PdfUnavailable` (a `PermanentError`) lists each URL with its reason.

The client ignores the environment (proxies, `.netrc`): PDF hosts are arbitrary third parties
and must never receive credentials meant for someone else. Local I/O errors (a full disk) are
not a location's fault and propagate as they are.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Self
from urllib.parse import quote, urlsplit

import httpx
import structlog

from refnet.core.errors import PermanentError, TransientError
from refnet.sources.http_retry import parse_retry_after
from refnet.summarizer.netguard import Allowlist, check_url_form, guarded_transport

log = structlog.get_logger(__name__)

ACCEPTED_TYPES = frozenset(
    {"application/pdf", "application/x-pdf", "application/octet-stream", "binary/octet-stream"}
)
PDF_MAGIC = b"%PDF-"
MAGIC_WINDOW = 1024  # leading whitespace / BOM tolerated before %PDF-
_LEADING_JUNK = b" \t\r\n\f\x00\xef\xbb\xbf"
_HEAD_SIZE = MAGIC_WINDOW + len(PDF_MAGIC)
_TEMP_PREFIX = ".partial-"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class PdfLocation:
    url: str
    origin: str  # "open_access", "arxiv", "pubmed_central", "acl_anthology"


@dataclass(frozen=True, slots=True)
class FetchedPdf:
    path: Path
    sha256: str
    size: int
    url: str  # the location's URL (before redirects)
    origin: str


class PdfUnavailable(PermanentError):
    """No location yielded a PDF; `attempts` holds (url, reason) per location tried."""

    def __init__(self, attempts: Sequence[tuple[str, str]]) -> None:
        self.attempts = list(attempts)
        super().__init__(f"no PDF could be fetched: {describe_attempts(self.attempts)}")


class PdfTemporarilyUnavailable(TransientError):
    """Every location failed for a reason that may pass (timeouts, 429, 5xx)."""

    def __init__(self, attempts: Sequence[tuple[str, str]], retry_after: float | None) -> None:
        self.attempts = list(attempts)
        message = f"PDF temporarily unavailable: {describe_attempts(self.attempts)}"
        super().__init__(message, retry_after=retry_after)


def describe_attempts(attempts: Sequence[tuple[str, str]]) -> str:
    if not attempts:
        return "no PDF location known"
    return "; ".join(f"{url}: {reason}" for url, reason in attempts)


def pdf_locations(
    *, open_access_pdf_url: str | None, arxiv_id: str | None, external_ids: Mapping[str, str]
) -> list[PdfLocation]:
    """Where a paper's PDF may be, best first, without duplicates."""
    arxiv = _clean_id(arxiv_id or external_ids.get("ArXiv"), prefix="arxiv:")
    pmc = _clean_id(external_ids.get("PubMedCentral"), prefix="pmc")
    acl = _clean_id(external_ids.get("ACL"), prefix="")
    candidates = [
        ((open_access_pdf_url or "").strip(), "open_access"),
        (arxiv and f"https://arxiv.org/pdf/{arxiv}", "arxiv"),
        (pmc and f"https://www.ncbi.nlm.nih.gov/pmc/articles/PMC{pmc}/pdf/", "pubmed_central"),
        (acl and f"https://aclanthology.org/{acl}.pdf", "acl_anthology"),
    ]
    return _unique(PdfLocation(url, origin) for url, origin in candidates if url)


class _Failure(Exception):
    """One location did not yield a PDF."""

    def __init__(
        self, reason: str, *, transient: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
        self.retry_after = retry_after


class PdfFetcher:
    def __init__(
        self,
        *,
        cache_dir: Path,
        max_bytes: int = 50 * 1024 * 1024,
        timeout: float = 30.0,
        max_redirects: int = 5,
        allowlist: Sequence[str] = (),
        user_agent: str = "RefNet (+https://github.com/refnet)",
        total_timeout: float = 300.0,  # per location, against servers that trickle bytes
    ) -> None:
        Allowlist.parse(allowlist)  # fail fast on a malformed entry
        self.cache_dir = cache_dir
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.total_timeout = total_timeout
        self._allowlist = (allowlist,) if isinstance(allowlist, str) else tuple(allowlist)
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            transport=guarded_transport(self._allowlist),
            trust_env=False,
            headers={"User-Agent": user_agent, "Accept": "application/pdf, */*;q=0.1"},
        )
        cache_dir.mkdir(parents=True, exist_ok=True)
        self._sweep_stale_temps()

    def cached(self, sha256: str) -> Path | None:
        """The cached PDF with this content hash, if present."""
        digest = sha256.lower()
        if not _SHA256.match(digest):
            return None
        path = self._cache_path(digest)
        return path if path.is_file() else None

    def fetch(self, locations: Sequence[PdfLocation]) -> FetchedPdf:
        attempts: list[tuple[str, str]] = []
        failures: list[_Failure] = []
        for location in _unique(locations):
            logger = log.bind(host=_host(location.url), origin=location.origin)
            try:
                fetched = self._fetch_location(location)
            except _Failure as failure:
                logger.warning(
                    "pdf_fetch_failed", reason=failure.reason, transient=failure.transient
                )
                attempts.append((location.url, failure.reason))
                failures.append(failure)
                continue
            logger.info("pdf_fetched", size=fetched.size, sha256=fetched.sha256)
            return fetched
        if failures and all(failure.transient for failure in failures):
            waits = [f.retry_after for f in failures if f.retry_after is not None]
            raise PdfTemporarilyUnavailable(attempts, max(waits, default=None))
        raise PdfUnavailable(attempts)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- one location ---------------------------------------------------------------------

    def _fetch_location(self, location: PdfLocation) -> FetchedPdf:
        url = location.url
        for hop in range(self.max_redirects + 1):
            with self._guarded(url, redirected=hop > 0):
                check_url_form(url)
                with _http_errors(), self._client.stream("GET", url) as response:
                    if not response.is_redirect:
                        return self._receive(response, location)
                    url = _redirect_target(response)
        raise _Failure(f"too many redirects (more than {self.max_redirects})")

    @contextmanager
    def _guarded(self, url: str, *, redirected: bool) -> Iterator[None]:
        """The SSRF guard's refusals (and DNS failures) as failures of this location."""
        prefix = f"redirected to {url}: " if redirected else ""
        try:
            yield
        except TransientError as exc:
            raise _Failure(f"{prefix}{exc}", transient=True) from exc
        except PermanentError as exc:
            raise _Failure(f"{prefix}{exc}") from exc

    def _receive(self, response: httpx.Response, location: PdfLocation) -> FetchedPdf:
        status = response.status_code
        if status == 429 or status >= 500:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            raise _Failure(f"HTTP {status}", transient=True, retry_after=retry_after)
        if status != 200:
            raise _Failure(f"HTTP {status}")
        media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type and media_type not in ACCEPTED_TYPES:
            raise _Failure(f"not a PDF ({media_type})")
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            announced = format_size(int(length))
            raise _Failure(f"larger than {format_size(self.max_bytes)} (announced {announced})")
        return self._download(response, location)

    def _download(self, response: httpx.Response, location: PdfLocation) -> FetchedPdf:
        fd, name = tempfile.mkstemp(dir=self.cache_dir, prefix=_TEMP_PREFIX, suffix=".pdf")
        temp = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                digest, size = self._copy(response, out)
                out.flush()
                os.fsync(out.fileno())
            path = self._store(temp, digest)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return FetchedPdf(path, digest, size, location.url, location.origin)

    def _copy(self, response: httpx.Response, out: IO[bytes]) -> tuple[str, int]:
        hasher = hashlib.sha256()
        size = 0
        head = b""
        deadline = time.monotonic() + self.total_timeout
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise _Failure(f"larger than {format_size(self.max_bytes)}")
            if len(head) < _HEAD_SIZE:
                head += chunk[: _HEAD_SIZE - len(head)]
                check_magic(head, complete=False)
            hasher.update(chunk)
            out.write(chunk)
            if time.monotonic() > deadline:
                raise _Failure(f"download slower than {self.total_timeout:g}s", transient=True)
        check_magic(head, complete=True)
        return hasher.hexdigest(), size

    def _store(self, temp: Path, digest: str) -> Path:
        target = self._cache_path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            temp.unlink()
        else:
            os.replace(temp, target)
        return target

    def _cache_path(self, digest: str) -> Path:
        return self.cache_dir / digest[:2] / f"{digest}.pdf"

    def _sweep_stale_temps(self) -> None:
        """Remove temp files left by a killed process (never one a live download may own)."""
        cutoff = time.time() - max(3600.0, 2 * self.total_timeout)
        for temp in self.cache_dir.glob(f"{_TEMP_PREFIX}*"):
            with suppress(FileNotFoundError):  # another process swept it first
                if temp.stat().st_mtime < cutoff:
                    temp.unlink()


def check_magic(head: bytes, *, complete: bool) -> None:
    """Raise unless `head` (the body's first bytes) can be the start of a PDF.

    Up to MAGIC_WINDOW bytes of whitespace or a BOM may precede `%PDF-`. With `complete=False`
    more bytes may follow, so a head that is still a possible prefix passes.
    """
    rest = head.lstrip(_LEADING_JUNK)
    if len(head) - len(rest) > MAGIC_WINDOW:
        raise _Failure("not a PDF (no %PDF- header in the first KiB)")
    if rest.startswith(PDF_MAGIC) or (not complete and PDF_MAGIC.startswith(rest)):
        return
    raise _Failure("not a PDF (empty body)" if not head else "not a PDF (no %PDF- header)")


def format_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB"):
        if value < 1024:
            return f"{value:.3g} {unit}"
        value /= 1024
    return f"{value:.3g} GB"


@contextmanager
def _http_errors() -> Iterator[None]:
    """Map httpx exceptions to failures of the current location."""
    try:
        yield
    except httpx.TimeoutException as exc:
        kind = type(exc).__name__.removesuffix("Timeout").lower() or "request"
        raise _Failure(f"timed out ({kind})", transient=True) from exc
    except httpx.TransportError as exc:
        raise _Failure(f"connection failed ({type(exc).__name__}: {exc})", transient=True) from exc
    except httpx.HTTPError as exc:
        raise _Failure(f"bad response ({type(exc).__name__}: {exc})") from exc


def _redirect_target(response: httpx.Response) -> str:
    location = response.headers["location"]
    try:
        return str(response.url.join(location))
    except (httpx.InvalidURL, ValueError) as exc:
        raise _Failure(f"invalid redirect to {location!r}") from exc


def _clean_id(value: object, *, prefix: str) -> str:
    text = str(value or "").strip()
    if prefix and text.lower().startswith(prefix):
        text = text[len(prefix) :]
    return quote(text, safe="/.-_~")


def _unique(locations: Iterable[PdfLocation]) -> list[PdfLocation]:
    unique: dict[str, PdfLocation] = {}
    for location in locations:
        unique.setdefault(location.url, location)
    return list(unique.values())


def _host(url: str) -> str | None:
    with suppress(ValueError):  # "http://[::1/x" and friends
        return urlsplit(url).hostname
    return None
