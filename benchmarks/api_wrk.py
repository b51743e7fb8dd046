"""Processes for the API load benchmark: servers started and stopped, and wrk runs parsed.

A server runs in its own process group (uvicorn's workers are its children), so stopping it
stops all of it. wrk runs `wrk/rotate.lua` over a file of paths, the token in its environment;
its `done` hook prints the figures as one JSON line.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROTATE_LUA = Path(__file__).resolve().parent / "wrk" / "rotate.lua"
FIGURES = ("rps", "p50_ms", "p95_ms", "p99_ms", "errors")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_ok(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    """Poll `url` until it answers 200; fail with the server's output if it dies or stalls."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} server exited ({process.returncode}): {tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
                last = f"status {response.status}"
        except urllib.error.HTTPError as error:
            last = f"status {error.code}: {error.read()[:500]!r}"
        except OSError as error:
            last = str(error)
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f} s ({last}): {tail(log)}")


def tail(log: Path, size: int = 3000) -> str:
    try:
        return log.read_text(errors="replace")[-size:]
    except OSError:
        return ""


@contextmanager
def server(
    command: Sequence[str],
    env: dict[str, str],
    ready_url: str,
    *,
    cwd: str | None = None,
    timeout: float = 60,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command` until the block ends (stopping every process it started, even on error)."""
    with tempfile.NamedTemporaryFile(prefix="refnet-bench-", suffix=".log", delete=False) as log:
        log_path = Path(log.name)
    with log_path.open("wb") as output:
        process = subprocess.Popen(
            list(command),
            env=env,
            cwd=cwd,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until_ok(ready_url, process, log_path, timeout)
        yield process
        if process.poll() is not None:
            raise RuntimeError(f"server exited during the run: {tail(log_path)}")
    finally:
        stop(process)
        log_path.unlink(missing_ok=True)


def stop(process: subprocess.Popen[bytes]) -> None:
    for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            deadline = time.monotonic() + grace  # the group's other members (workers)
            while time.monotonic() < deadline:
                os.killpg(process.pid, 0)
                time.sleep(0.1)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is not installed: `apt-get install -y wrk` (Debian) installs it")
    return found


def run_wrk(
    base_url: str,
    paths: Sequence[str],
    *,
    token: str | None,
    seconds: float,
    connections: int,
    threads: int,
    check: bool = False,
) -> dict[str, Any]:
    """One wrk run rotating over `paths`; the figures `rotate.lua` prints."""
    threads = max(1, min(threads, connections))
    with tempfile.NamedTemporaryFile("w", suffix=".paths", delete=False) as listing:
        listing.write("\n".join(paths) + "\n")
    env = {
        **os.environ,
        "REFNET_BENCH_TOKEN": token or "",
        "REFNET_BENCH_CHECK": "1" if check else "0",
    }
    command = [
        wrk_binary(), f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
        "--timeout", "5s", "-s", str(ROTATE_LUA), base_url, "--", listing.name, str(threads),
    ]  # fmt: skip
    try:
        result = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=seconds + 60, check=False
        )
    finally:
        Path(listing.name).unlink(missing_ok=True)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stderr[-2000:]}")
    figures: dict[str, Any] = json.loads(lines[-1])
    return figures
