"""Pages of the read models' lists and their opaque cursors, shared by every context's queries."""

from __future__ import annotations

import base64
from typing import Any

import msgspec


class Page(msgspec.Struct):
    items: list[dict[str, Any]]
    next_cursor: str | None
    position: int


def encode_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode("utf-8")).decode("ascii").rstrip("=")


class MalformedCursor(ValueError):
    """A cursor no page of the list handed out; the API answers 400 naming the `cursor` parameter."""


def decode_cursor(cursor: str) -> str:
    """The key an opaque cursor carries; garbage, or a key no page gives (e.g. with NUL), is refused."""
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        value = raw.decode("utf-8")
    except (ValueError, UnicodeError):  # binascii.Error is a ValueError
        raise MalformedCursor("The cursor is not one this list handed out; follow next_cursor as given.") from None
    if not value or not value.isprintable():  # PostgreSQL refuses NUL in text parameters
        raise MalformedCursor("The cursor is not one this list handed out; follow next_cursor as given.")
    return value


def decode_number_cursor(cursor: str) -> int:
    """A cursor that carries a position or an offset: a whole number SQL can compare (BIGINT)."""
    value = decode_cursor(cursor)
    if not (value.isascii() and value.isdigit()) or int(value) >= 2**63:
        raise MalformedCursor("The cursor is not one this list handed out; follow next_cursor as given.")
    return int(value)
