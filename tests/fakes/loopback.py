"""The plumbing every fake server shares: an HTTP server on 127.0.0.1 in a daemon thread."""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Self


class OwnedHTTPServer(ThreadingHTTPServer):
    """A threading server that knows the fake it serves (handlers reach it as `server.owner`)."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(
        self, handler: type[BaseHTTPRequestHandler], owner: Any, address: tuple[str, int]
    ) -> None:
        self.owner = owner
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up (after a timeout or a size cap) is normal here, not an error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def request_body(handler: BaseHTTPRequestHandler) -> bytes:
    """The request's body, as long as its Content-Length says."""
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length > 0 else b""


class LoopbackServer:
    """Serves `handler_class` on `host`:`port` (an ephemeral loopback port unless a test needs
    containers to reach it: then their network's gateway address); a context manager."""

    handler_class: ClassVar[type[BaseHTTPRequestHandler]]
    thread_name: ClassVar[str] = "fake-server"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._wanted_port = port
        self._stopping = threading.Event()
        self._httpd: OwnedHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        if self._httpd is None:
            self._stopping.clear()
            self._httpd = OwnedHTTPServer(self.handler_class, self, (self.host, self._wanted_port))
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, args=(0.05,), name=self.thread_name, daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stopping.set()  # wakes handlers stalled on purpose (timeouts, slow answers)
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def stall(self, seconds: float) -> None:
        """Sleep in a handler, but wake at once when the server stops."""
        self._stopping.wait(seconds)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return int(self._httpd.server_address[1])
