"""Request plumbing shared by the controllers: the caller, the command envelope, answers and read-your-writes."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import NotAuthorizedException

from application.common import ApplicationError, Command, CommandResult, Principal, fingerprint
from bootstrap import Runtime

POSITION_HEADER = "X-Ledger-Position"
MIN_POSITION_HEADER = "X-Min-Position"


def runtime_of(request: Request[Any, Any, Any]) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthorizedException("A bearer token is required.", headers={"WWW-Authenticate": "Bearer"})
    p = runtime_of(request).principal(token.strip(), on_behalf_of=request.headers.get("x-on-behalf-of") or None)
    if p is None:
        raise NotAuthorizedException("The token is unknown or revoked.", headers={"WWW-Authenticate": "Bearer"})
    return p


def command(request: Request[Any, Any, Any], name: str, data: Any = None) -> Command:
    key = request.headers.get("idempotency-key")
    if key is not None and not (1 <= len(key) <= 200):
        raise ApplicationError("Idempotency-Key must be 1 to 200 characters.")
    return Command(
        name=name,
        idempotency_key=key,
        expected_version=_if_match(request),
        fingerprint=fingerprint(request.method, request.url.path, msgspec.to_builtins(data) if data is not None else None),
        request_id=request.headers.get("x-request-id"),
    )


def _if_match(request: Request[Any, Any, Any]) -> int | None:
    value = request.headers.get("if-match")
    if value is None or value.strip() == "*":
        return None
    raw = value.strip().removeprefix("W/").strip('"')
    if not raw.isdigit():
        raise ApplicationError("If-Match carries the aggregate version from the ETag, e.g. \"3\".")
    return int(raw)


def answer(result: CommandResult, *, location: str | None = None) -> Response[bytes]:
    headers: dict[str, str] = {}
    if result.position is not None:
        headers[POSITION_HEADER] = str(result.position)
    if result.version is not None:
        headers["ETag"] = f'"{result.version}"'
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    if location and result.status == 201:
        headers["Location"] = location
    return Response(content=result.body, status_code=result.status, media_type="application/json", headers=headers)


def honour_min_position(request: Request[Any, Any, Any], *views: str) -> None:
    """Waits for X-Min-Position when one is sent, and costs nothing when none is (the hot path)."""
    raw = request.headers.get(MIN_POSITION_HEADER) or request.query_params.get("min_position")
    if raw:
        if not raw.isdigit():
            raise ApplicationError(f"{MIN_POSITION_HEADER} is a ledger position (a whole number).")
        runtime_of(request).projector.wait_for(int(raw), *views)


def wait_for_position(request: Request[Any, Any, Any], *views: str) -> int:
    """Honours X-Min-Position (or ?min_position=) so a client reads its own write without sleeping."""
    raw = request.headers.get(MIN_POSITION_HEADER) or request.query_params.get("min_position")
    rt = runtime_of(request)
    if raw:
        if not raw.isdigit():
                raise ApplicationError(f"{MIN_POSITION_HEADER} is a ledger position (a whole number).")
        rt.projector.wait_for(int(raw), *views)
    return min(rt.projector.position(v) for v in views) if views else rt.ledger.max_position()
