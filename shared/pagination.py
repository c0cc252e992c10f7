"""Opaque cursors for keyset pagination: the sort key of the last row sent, base64 JSON, so
a page never shifts when rows are added (unlike an offset)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from shared.errors import BadRequest

MAX_CURSOR_CHARS = 200


class InvalidCursor(BadRequest):
    code, title = "invalid-cursor", "Invalid cursor"


def encode(*key: Any) -> str:
    raw = json.dumps(list(key), separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str, *, types: tuple[type, ...]) -> list[Any]:
    """The key a cursor carries, each part checked against ``types``; 400 otherwise."""
    try:
        if len(cursor) > MAX_CURSOR_CHARS:
            raise ValueError("too long")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
        if not isinstance(key, list) or len(key) != len(types) or not all(
                isinstance(v, t) and not isinstance(v, bool) for v, t in zip(key, types,
                                                                             strict=True)):
            raise ValueError("wrong shape")
        return key
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidCursor("The cursor is not one this API gave out; start again "
                            "without it.") from exc
