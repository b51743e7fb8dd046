"""A server process for a test: started, waited for until it answers, stopped at the end."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx


def answers_ok(response: httpx.Response) -> bool:
    return response.status_code == 200


@contextmanager
def serving(
    command: Sequence[str],
    *,
    log: Path,
    ready_url: str,
    ready: Callable[[httpx.Response], bool] = answers_ok,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    seconds: float = 60,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command` (its output to `log`) until the block ends, once GET `ready_url` gives an
    answer `ready` accepts; SIGTERM at the end, SIGKILL if it lingers. A process that exits or
    never gets ready fails the test with its log."""
    name = Path(command[0]).name
    with open(log, "wb") as out:
        process = subprocess.Popen(
            list(command),
            env=None if env is None else dict(env),
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_ready(process, name, log, ready_url, ready, seconds)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_ready(
    process: subprocess.Popen[bytes],
    name: str,
    log: Path,
    url: str,
    ready: Callable[[httpx.Response], bool],
    seconds: float,
) -> None:
    deadline = time.monotonic() + seconds
    while True:
        if process.poll() is not None:
            raise AssertionError(f"{name} exited {process.returncode}:\n{_tail(log)}")
        try:
            if ready(httpx.get(url, timeout=2)):
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} did not get ready at {url}:\n{_tail(log)}")
        time.sleep(0.2)


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-5000:]
