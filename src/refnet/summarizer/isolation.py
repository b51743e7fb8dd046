"""Text extraction in a child process with limits on memory and time.

A hostile or broken PDF can make pypdf allocate gigabytes (a content stream of millions of tiny
operators) or loop for minutes. `extract_isolated` forks, caps the child's data segment and CPU
time, runs `extract_text` there and reads the result back through a pipe; the worker itself never
holds the PDF's objects. A child that runs out of memory, overruns its time or dies becomes an
`ExtractionError` of kind "memory", "timeout" or "crashed" for that paper alone.
"""

from __future__ import annotations

import faulthandler
import gc
import json
import logging
import os
import resource
import select
import signal
import time
from contextlib import suppress
from dataclasses import asdict
from pathlib import Path
from typing import Any

from refnet.summarizer.extract import ExtractedText, ExtractionError, extract_text

_READ_SIZE = 1 << 16


def extract_isolated(
    path: Path, *, max_pages: int, timeout: float, memory_bytes: int
) -> ExtractedText:
    """`extract_text(path)` in a forked child limited to `memory_bytes` more memory than this
    process uses and `timeout` seconds."""
    if not path.is_file():
        raise FileNotFoundError(path)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover  (the child; coverage cannot follow it)
        os.close(read_end)
        _run_child(write_end, path, max_pages, timeout, memory_bytes)
    os.close(write_end)
    try:
        payload = _read_result(read_end, pid, timeout, path)
    except BaseException:  # a soft time limit, say: the child must not outlive the wait
        _kill(pid)
        raise
    finally:
        os.close(read_end)
    return _decode(payload, path)


def _run_child(out: int, path: Path, max_pages: int, timeout: float, memory_bytes: int) -> None:
    out_of_memory = _encode({"error": ["memory", _memory_message(path, memory_bytes)]})
    faulthandler.disable()  # a crash here is the parent's to report, once
    logging.disable(logging.CRITICAL)  # pypdf's complaints: a lock another thread held at fork
    gc.freeze()  # never walk the parent's objects: that would copy every page of its heap
    try:
        _limit(memory_bytes, timeout)
        try:
            result: dict[str, Any] = {"text": asdict(extract_text(path, max_pages=max_pages))}
        except ExtractionError as exc:
            result = {"error": [exc.kind, str(exc)]}
        except MemoryError:
            result = {}
        except RecursionError:
            result = {"error": ["corrupt", f"{path.name}: objects nested too deeply to read"]}
        payload = _encode(result) if result else out_of_memory
    except MemoryError:
        payload = out_of_memory
    except BaseException as exc:  # whatever happens here is reported, never raised
        payload = _encode({"error": ["crashed", f"{path.name}: {type(exc).__name__}: {exc}"]})
    with suppress(OSError):
        view = memoryview(payload)
        while view:
            view = view[os.write(out, view) :]
    os._exit(0)


def _limit(memory_bytes: int, timeout: float) -> None:
    used = _data_segment_bytes()
    limit = used + memory_bytes
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    seconds = int(timeout) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))


def _data_segment_bytes() -> int:
    """What RLIMIT_DATA counts for this process now (VmData, Linux)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024
    return 0


def _read_result(read_end: int, pid: int, timeout: float, path: Path) -> bytes:
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        ready, _, _ = select.select([read_end], [], [], max(0.0, remaining))
        if not ready:
            _kill(pid)
            raise ExtractionError("timeout", f"{path.name}: reading took longer than {timeout:g}s")
        chunk = os.read(read_end, _READ_SIZE)
        if not chunk:
            break
        chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        kind = "timeout" if name == "SIGXCPU" else "crashed"
        raise ExtractionError(kind, f"{path.name}: the PDF reader was stopped by {name}")
    return b"".join(chunks)


def _kill(pid: int) -> None:
    with suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with suppress(ChildProcessError):  # reaped already
        os.waitpid(pid, 0)


def _decode(payload: bytes, path: Path) -> ExtractedText:
    try:
        result = json.loads(payload)
    except ValueError:
        message = f"{path.name}: the PDF reader ended without an answer"
        raise ExtractionError("crashed", message) from None
    if "error" in result:
        kind, message = result["error"]
        raise ExtractionError(kind, message)
    return ExtractedText(**result["text"])


def _encode(result: dict[str, Any]) -> bytes:
    return json.dumps(result).encode()


def _memory_message(path: Path, memory_bytes: int) -> str:
    return f"{path.name}: reading it needs more than {memory_bytes // (1024 * 1024)} MB of memory"
