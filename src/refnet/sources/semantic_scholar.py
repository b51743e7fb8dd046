"""Semantic Scholar Graph API client: the `PaperSource` the crawler uses in the stack.

Pacing and retries live in `http_retry`; field traps of the JSON live in `records`. This module
knows the endpoints: batch lookups in chunks of 500, listings paged with `next` and kept under
the API's offset+limit < 10,000 window, title matching.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx
import structlog

from refnet.core.batching import chunks
from refnet.core.errors import NotFound, PermanentError
from refnet.core.gcpause import gc_paused
from refnet.core.records import CitationRecord, PaperRecord
from refnet.sources.base import BATCH_LIMIT
from refnet.sources.http_retry import RetryingJsonClient, RetryPolicy
from refnet.sources.rate_limit import RateLimiter
from refnet.sources.records import (
    EDGE_FIELDS,
    LISTED_PAPER_FIELDS,
    PAPER_FIELDS,
    parse_listing_row,
    parse_paper,
)

log = structlog.get_logger(__name__)

LISTING_PAGE_LIMIT = 1000
# The API refuses listing requests whose offset + limit reaches this.
LISTING_WINDOW = 10_000
LISTING_FIELDS = f"{LISTED_PAPER_FIELDS},{EDGE_FIELDS}"


def _paper_path(paper_id: str, suffix: str = "") -> str:
    # Ids such as `DOI:10.1000/x` keep their slashes, as in the API's own examples.
    return f"/paper/{quote(paper_id.strip(), safe='/:')}{suffix}"


def _parse_or_none(raw: Any) -> PaperRecord | None:
    if raw is None:
        return None
    try:
        return parse_paper(raw, complete=True)
    except PermanentError:
        return None


class SemanticScholarClient:
    """Reads papers, citations and references from the Semantic Scholar Graph API."""

    name = "semantic_scholar"

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        rate_limiter: RateLimiter,
        timeout: float = 30.0,
        max_retries: int = 6,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        max_wait: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Accept": "application/json", "User-Agent": "refnet"}
        if api_key:
            headers["x-api-key"] = api_key
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(timeout),
            transport=transport,
        )
        policy = RetryPolicy(
            max_retries=max_retries,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            max_wait=max_wait,
        )
        self._api = RetryingJsonClient(
            http=self._http, limiter=rate_limiter, policy=policy, service="Semantic Scholar"
        )

    @property
    def requests_made(self) -> int:
        """HTTP requests sent so far, retries included."""
        return self._api.attempts_made

    def __repr__(self) -> str:  # never shows the api key
        return f"SemanticScholarClient(base_url={str(self._http.base_url)!r})"

    # -- metadata -------------------------------------------------------------------------

    def get_papers(
        self, ids: Sequence[str], *, fields: str = PAPER_FIELDS
    ) -> list[PaperRecord | None]:
        """Full records in request order; None where the API does not know the id."""
        found: list[PaperRecord | None] = []
        for chunk in chunks(list(ids), BATCH_LIMIT):
            found.extend(self._batch(chunk, fields=fields))
        return found

    def _batch(self, ids: Sequence[str], *, fields: str) -> list[PaperRecord | None]:
        body = self._api.request(
            "POST",
            "/paper/batch",
            endpoint="/paper/batch",
            expect=list,
            params={"fields": fields},
            json={"ids": list(ids)},
        )
        if len(body) != len(ids):
            raise PermanentError(
                f"Semantic Scholar /paper/batch answered {len(body)} entries for {len(ids)} ids"
            )
        with gc_paused():  # a batch answer is hundreds of thousands of small objects
            return [_parse_or_none(raw) for raw in body]

    def get_paper(self, paper_id: str, *, fields: str = PAPER_FIELDS) -> PaperRecord:
        """One full record; `NotFound` when the API does not know the id."""
        body = self._api.request(
            "GET",
            _paper_path(paper_id),
            endpoint="/paper/{paper_id}",
            expect=dict,
            params={"fields": fields},
        )
        return parse_paper(body, complete=True)

    def match_title(self, title: str) -> PaperRecord | None:
        """The paper whose title best matches `title`, or None when nothing matches."""
        if not title.strip():
            return None
        try:
            body = self._api.request(
                "GET",
                "/paper/search/match",
                endpoint="/paper/search/match",
                expect=dict,
                params={"query": title.strip(), "fields": PAPER_FIELDS},
            )
        except NotFound:
            return None
        data = body.get("data")
        if not isinstance(data, list) or not data:
            return None
        return _parse_or_none(data[0])

    # -- listings -------------------------------------------------------------------------

    def get_citations(
        self, paper_id: str, *, limit: int, published_since: str | None = None
    ) -> list[CitationRecord]:
        """Papers citing `paper_id` (at most `limit`); `published_since` like `2025-06:`."""
        extra = {"publicationDateOrYear": published_since} if published_since else {}
        return self._listing(paper_id, "citations", "citingPaper", limit=limit, extra=extra)

    def get_references(self, paper_id: str, *, limit: int) -> list[CitationRecord]:
        """Papers `paper_id` cites (at most `limit`)."""
        return self._listing(paper_id, "references", "citedPaper", limit=limit, extra={})

    def _listing(
        self,
        paper_id: str,
        kind: str,
        paper_key: str,
        *,
        limit: int,
        extra: Mapping[str, str],
    ) -> list[CitationRecord]:
        records: list[CitationRecord] = []
        offset: int | None = 0
        while offset is not None and len(records) < limit:
            page_size = min(limit - len(records), LISTING_PAGE_LIMIT, LISTING_WINDOW - 1 - offset)
            if page_size <= 0:
                log.warning(
                    "s2_listing_capped", endpoint=kind, paper_id=paper_id, collected=len(records)
                )
                break
            body = self._listing_page(paper_id, kind, offset=offset, size=page_size, extra=extra)
            records.extend(self._rows(body.get("data"), paper_key))
            offset = self._next_offset(body, offset)
        return records[:limit]

    def _listing_page(
        self, paper_id: str, kind: str, *, offset: int, size: int, extra: Mapping[str, str]
    ) -> dict[str, Any]:
        params: dict[str, str | int] = {
            "fields": LISTING_FIELDS,
            "offset": offset,
            "limit": size,
            **extra,
        }
        page: dict[str, Any] = self._api.request(
            "GET",
            _paper_path(paper_id, f"/{kind}"),
            endpoint=f"/paper/{{paper_id}}/{kind}",
            expect=dict,
            params=params,
        )
        return page

    @staticmethod
    def _rows(data: Any, paper_key: str) -> Iterator[CitationRecord]:
        for raw in data if isinstance(data, list) else []:
            row = parse_listing_row(raw, paper_key=paper_key)
            if row is not None:  # unresolved papers (paperId null) are skipped
                yield row

    @staticmethod
    def _next_offset(body: Mapping[str, Any], offset: int) -> int | None:
        following = body.get("next")
        if isinstance(following, bool) or not isinstance(following, int) or following <= offset:
            return None
        if not body.get("data"):
            return None
        return following

    # -- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
