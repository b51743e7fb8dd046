"""Splitting work into bounded pieces (batch requests, IN lists, executemany chunks)."""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


def chunks(items: list[T], size: int) -> list[list[T]]:
    """`items` in consecutive pieces of at most `size`."""
    return [items[i : i + size] for i in range(0, len(items), size)]
