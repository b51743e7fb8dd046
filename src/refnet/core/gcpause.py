"""Pausing Python's cyclic garbage collector while a large answer is decoded and parsed.

Decoding a Semantic Scholar batch answer builds a few hundred thousand small objects (dicts,
lists, strings) that form no reference cycles. Each burst of allocations triggers full
collections that walk the whole heap, which doubled the time to parse an answer. The pause
covers only the decoding and parsing (a fraction of a second); the collector resumes right after
and finds whatever cyclic garbage other threads made meanwhile.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_pauses = 0  # threads inside `gc_paused` (the collector is process-wide)


@contextmanager
def gc_paused() -> Iterator[None]:
    global _pauses
    with _lock:
        _pauses += 1
        if _pauses == 1:
            gc.disable()
    try:
        yield
    finally:
        with _lock:
            _pauses -= 1
            if _pauses == 0:
                gc.enable()
