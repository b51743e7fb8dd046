"""JSON answers with an `ETag`, and 304 Not Modified when the client already has them.

Paper reads change only when a crawl or a summary touches the paper, so a client polling a paper
costs a query but not the transfer. `Cache-Control: private, no-cache` lets the client keep the
answer and makes it ask again each time (the answer depends on who is signed in).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime
from hashlib import blake2b
from typing import Any

from fastapi import Request, Response

from refnet.api.response_cache import ResponseCache

CACHE_CONTROL = "private, no-cache"


def _default(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_bytes(payload: Any) -> bytes:
    return json.dumps(payload, default=_default, ensure_ascii=False, separators=(",", ":")).encode()


def etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    candidates = {part.strip().removeprefix("W/") for part in header.split(",")}
    return etag in candidates or "*" in candidates


def cached_json(
    request: Request, payload: Any, extra_headers: Mapping[str, str] | None = None
) -> Response:
    return json_answer(request, json_bytes(payload), extra_headers)


def json_answer(
    request: Request, body: bytes, extra_headers: Mapping[str, str] | None = None
) -> Response:
    """`body` (JSON) with its ETag, or 304 when the client has it already."""
    etag = f'"{blake2b(body, digest_size=16).hexdigest()}"'
    headers = {**(extra_headers or {}), "ETag": etag, "Cache-Control": CACHE_CONTROL}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


async def shared_json(
    request: Request,
    cache: ResponseCache | None,
    extra_headers: Mapping[str, str],
    name: tuple[object, ...],
    compute: Callable[[], Awaitable[Any]],
) -> Response:
    """The answer named `name` from the response cache, else computed (and filed there)."""
    if cache is None:
        return cached_json(request, await compute(), extra_headers)
    generation, body = await cache.get(*name)
    if body is None:
        body = json_bytes(await compute())
        if generation is not None:
            await cache.put(generation, body, *name)
    return json_answer(request, body, extra_headers)
