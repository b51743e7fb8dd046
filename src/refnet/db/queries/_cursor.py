"""Keyset cursors of paper listings: URL-safe base64 of JSON holding the sort's name and the
last row's sort key and id. Opaque to clients; anything that is not one this code gave out (or
one of another sort) is InvalidInput, never a database error."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

from refnet.core.errors import InvalidInput
from refnet.db.base import as_utc

MAX_CURSOR_LENGTH = 2000
_LARGEST = 2**62  # keys and ids beyond this would overflow the database's integers


def encode_cursor(sort: str, key: Any, row_id: int) -> str:
    value = as_utc(key).isoformat() if isinstance(key, datetime) else key
    data = json.dumps({"sort": sort, "key": value, "id": row_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")


_BAD_CURSOR = "cursor is not one this listing gave out; start again without it"


def decode_cursor(cursor: str, sort: str) -> tuple[Any, int]:
    """The last key and id a cursor of `sort` names."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidInput(_BAD_CURSOR)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError):
        raise InvalidInput(_BAD_CURSOR) from None
    if not isinstance(data, dict) or set(data) != {"sort", "key", "id"}:
        raise InvalidInput(_BAD_CURSOR)
    if data["sort"] != sort:
        raise InvalidInput(
            f"this cursor belongs to sort {str(data['sort'])[:20]!r}, not {sort!r}; "
            "keep the sort of the first page, or start again without a cursor"
        )
    row_id, key = data["id"], data["key"]
    if type(row_id) is not int or not 0 < row_id < _LARGEST:
        raise InvalidInput(_BAD_CURSOR)
    name = sort.lstrip("-")
    if name in ("citations", "year") and type(key) is int and abs(key) < _LARGEST:
        return key, row_id
    if name == "title" and isinstance(key, str) and "\x00" not in key:
        return key, row_id
    if name == "added" and isinstance(key, str):
        try:
            added = datetime.fromisoformat(key)
        except ValueError:
            raise InvalidInput(_BAD_CURSOR) from None
        if added.tzinfo is not None:
            return added.astimezone(UTC), row_id
    raise InvalidInput(_BAD_CURSOR)
