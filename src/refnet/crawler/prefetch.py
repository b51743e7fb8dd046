"""One source request on its way in the background while the crawl stores the previous answer.

The rate limiter paces background requests like any other, so prefetching never sends faster; it
only stops our own processing from delaying the next request. An answer is handed out only for
exactly the request it was fetched for; a failed background request is simply made again in the
foreground, with the source's usual retries.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import structlog

from refnet.crawler.plan import Request

log = structlog.get_logger(__name__)
MISS = object()


class Prefetcher:
    def __init__(self, fetch: Callable[[Request], Any]) -> None:
        self._fetch = fetch
        self._executor: ThreadPoolExecutor | None = None
        self._pending: tuple[Request, Future[Any]] | None = None

    def start(self, request: Request) -> None:
        if self._pending is not None and self._pending[0] == request:
            return  # already on its way (a retried transaction chose the same step again)
        self.discard()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch")
        self._pending = (request, self._executor.submit(self._fetch, request))

    def take(self, request: Request) -> Any:
        """The answer fetched for `request`, or MISS when none was (or it failed)."""
        pending, self._pending = self._pending, None
        if pending is None:
            return MISS
        fetched_for, future = pending
        if fetched_for != request:
            log.info("prefetch_unused", request=fetched_for[0])
            future.cancel()
            return MISS
        try:
            return future.result()
        except Exception as exc:  # the foreground request retries and reports it properly
            log.info("prefetch_failed", request=request[0], reason=str(exc))
            return MISS

    def discard(self) -> None:
        if self._pending is not None:
            self._pending[1].cancel()
            self._pending = None

    def close(self) -> None:
        self.discard()
        if self._executor is not None:
            # A request still on its way ends with the source, which the caller closes next.
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
