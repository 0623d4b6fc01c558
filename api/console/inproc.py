"""The console reads and writes through the API itself, in process: one set of rules and scopes.

Each call is an ASGI request to the same Litestar app with the session's bearer token, so the
console sees exactly what the API answers that caller — the same controllers, services, scoping
and refusals — without a socket and without a second copy of any check.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import msgspec
from litestar import Request


class ApiAnswer(msgspec.Struct):
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return msgspec.json.decode(self.body) if self.body else None

    @property
    def ok(self) -> bool:
        return self.status < 400


class Refused(Exception):
    """The API refused: carries its problem document (rule, article, detail …) and status."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(problem.get("detail", ""))
        self.status = status
        self.problem = problem


def _query(params: dict[str, Any] | None) -> bytes:
    if not params:
        return b""
    pairs: list[tuple[str, str]] = []
    for k, v in params.items():
        if v is None or v == "":
            continue
        for one in v if isinstance(v, (list, tuple)) else [v]:
            pairs.append((k, "true" if one is True else "false" if one is False else str(one)))
    return urlencode(pairs).encode("ascii")


async def call(request: Request[Any, Any, Any], token: str, method: str, path: str, *,
               params: dict[str, Any] | None = None, body: Any = None,
               headers: dict[str, str] | None = None) -> ApiAnswer:
    """One API request as the session's caller; the answer whatever its status."""
    payload = b"" if body is None else msgspec.json.encode(body)
    sent_headers = [(b"host", b"console"), (b"authorization", f"Bearer {token}".encode()),
                    (b"accept", b"application/json"), (b"x-request-id", b"console")]
    if body is not None:
        sent_headers += [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    seen = request.query_params.get("seen")
    if seen and seen.isdigit() and len(seen) < 19:  # read your own write: the position it was recorded at
        sent_headers.append((b"x-min-position", seen.encode()))
    for k, v in (headers or {}).items():
        sent_headers.append((k.lower().encode("latin-1"), v.encode("latin-1")))
    outer = request.scope
    scope: dict[str, Any] = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method.upper(),
        "scheme": outer.get("scheme", "http"), "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": _query(params), "headers": sent_headers, "client": outer.get("client"),
        "server": outer.get("server"), "state": {}, "extensions": {},
    }
    chunks: list[bytes] = []
    result: dict[str, Any] = {}
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": payload, "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            result["status"] = message["status"]
            result["headers"] = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await request.app(scope, receive, send)  # type: ignore[arg-type]
    return ApiAnswer(status=result.get("status", 500), headers=result.get("headers", {}), body=b"".join(chunks))


async def get(request: Request[Any, Any, Any], token: str, path: str, **params: Any) -> Any:
    """The JSON of a GET, or Refused with the API's problem."""
    answer = await call(request, token, "GET", path, params=params)
    if not answer.ok:
        raise Refused(answer.status, _problem(answer))
    return answer.json()


def _problem(answer: ApiAnswer) -> dict[str, Any]:
    try:
        doc = answer.json()
    except msgspec.DecodeError:
        doc = None
    return doc if isinstance(doc, dict) else {"status": answer.status, "detail": answer.body.decode("utf-8", "replace")}


def refusal(answer: ApiAnswer) -> Refused:
    return Refused(answer.status, _problem(answer))
