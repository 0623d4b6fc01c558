"""Refuses, before any handler runs, values that one of the stores cannot hold.

PostgreSQL text cannot contain NUL, and neither store's integers go past 64 bits signed. Such a
value in a query would fail inside the database (a 500); in a body it would be recorded in an
event and then stop every read model that tries to project it, on one backend and not the other.
So the path, the query string and JSON bodies are checked here, the same way on both stores,
and a 400 names each offending field.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

import msgspec
from litestar import Request

from application.common import ApplicationError

INT64 = (-(2**63), 2**63 - 1)
# Cheap tests on the raw body; the decoded body is walked only when one of them matches.
_SUSPECT = re.compile(rb"\\u0000|\d{19,}")


class Unstorable(ApplicationError):
    status = 400
    title = "Malformed request"

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("The request holds values no store can keep; see errors.")
        self.errors = errors


def _walk(value: Any, path: str, out: list[dict[str, str]]) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            out.append({"field": path or "body", "message": "Text may not contain the NUL character (U+0000)."})
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        if not INT64[0] <= value <= INT64[1]:
            out.append({"field": path or "body", "message": "A whole number between -2^63 and 2^63-1."})
    elif isinstance(value, dict):
        for k, v in value.items():
            _walk(k, f"{path}.{k}" if path else str(k), out)
            _walk(v, f"{path}.{k}" if path else str(k), out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _walk(v, f"{path}[{i}]", out)


async def refuse_unstorable(request: Request[Any, Any, Any]) -> None:
    """A `before_request` hook: 400 for NUL in the path or query, a >64-bit integer in the path, or NUL or
    >64-bit integers in a JSON body (integer query parameters carry their own bounds, `api.params.Position`)."""
    errors: list[dict[str, str]] = []
    if "\x00" in request.url.path:
        errors.append({"field": "path", "message": "The path may not contain the NUL character."})
    for name, value in request.path_params.items():
        if isinstance(value, int) and not isinstance(value, bool) and not INT64[0] <= value <= INT64[1]:
            errors.append({"field": name, "message": "A whole number between -2^63 and 2^63-1."})
    for name, value in request.query_params.items():
        if "\x00" in name or "\x00" in value:
            errors.append({"field": name.replace("\x00", "\\u0000"),
                           "message": "Text may not contain the NUL character (U+0000)."})
    if request.method in ("POST", "PUT", "PATCH") and "json" in request.headers.get("content-type", ""):
        raw = await request.body()
        if _SUSPECT.search(raw):
            # malformed JSON: the handler's own decoding answers 400 with its errors
            with contextlib.suppress(msgspec.DecodeError, ValueError):
                _walk(msgspec.json.decode(raw), "", errors)
    if errors:
        raise Unstorable(errors)
