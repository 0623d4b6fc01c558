"""Request plumbing shared by the controllers: the caller, the command envelope, answers and read-your-writes."""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import NotAuthorizedException

from api.params import position_of
from application.common import ApplicationError, Command, CommandResult, Principal, fingerprint
from bootstrap import Runtime
from domain.limits import ORG_CODE_PATTERN, TOKEN_PATTERN

_TOKEN = re.compile(TOKEN_PATTERN)
_ORG_CODE = re.compile(ORG_CODE_PATTERN)

POSITION_HEADER = "X-Ledger-Position"
MIN_POSITION_HEADER = "X-Min-Position"


def runtime_of(request: Request[Any, Any, Any]) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthorizedException("A bearer token is required.", headers={"WWW-Authenticate": "Bearer"})
    on_behalf_of = request.headers.get("x-on-behalf-of") or None
    if on_behalf_of is not None and not _ORG_CODE.search(on_behalf_of):
        raise ApplicationError("X-On-Behalf-Of is an organization code.")
    p = runtime_of(request).principal(token.strip(), on_behalf_of=on_behalf_of)
    if p is None:
        raise NotAuthorizedException("The token is unknown or revoked.", headers={"WWW-Authenticate": "Bearer"})
    return p


def command(request: Request[Any, Any, Any], name: str, data: Any = None) -> Command:
    key = request.headers.get("idempotency-key")
    if key is not None and not _TOKEN.search(key):
        raise ApplicationError("Idempotency-Key must be 1 to 200 printable ASCII characters without spaces.")
    request_id = request.headers.get("x-request-id")
    if request_id is not None and not _TOKEN.search(request_id):
        raise ApplicationError("X-Request-Id must be 1 to 200 printable ASCII characters without spaces.")
    return Command(
        name=name,
        idempotency_key=key,
        expected_version=_if_match(request),
        fingerprint=fingerprint(request.method, request.url.path, msgspec.to_builtins(data) if data is not None else None),
        request_id=request_id,
    )


def _if_match(request: Request[Any, Any, Any]) -> int | None:
    value = request.headers.get("if-match")
    if value is None or value.strip() == "*":
        return None
    raw = value.strip().removeprefix("W/").strip('"')
    if not (raw.isascii() and raw.isdigit()):
        raise ApplicationError("If-Match carries the aggregate version from the ETag, e.g. \"3\".")
    return position_of(raw, "If-Match")


def answer(result: CommandResult, *, location: str | None = None) -> Response[Any]:
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


def min_position(request: Request[Any, Any, Any]) -> int | None:
    """X-Min-Position (or ?min_position=), range-checked by the one position parser."""
    header = request.headers.get(MIN_POSITION_HEADER)
    if header:
        return position_of(header, MIN_POSITION_HEADER)
    return position_of(request.query_params.get("min_position"), "min_position")


def honour_min_position(request: Request[Any, Any, Any], *views: str) -> None:
    """Waits for X-Min-Position when one is sent, and costs nothing when none is (the hot path)."""
    wanted = min_position(request)
    if wanted is not None:
        runtime_of(request).projector.wait_for(wanted, *views)


def wait_for_position(request: Request[Any, Any, Any], *views: str) -> int:
    """Honours X-Min-Position (or ?min_position=) so a client reads its own write without sleeping."""
    wanted = min_position(request)
    rt = runtime_of(request)
    if wanted is not None:
        rt.projector.wait_for(wanted, *views)
    return min(rt.projector.position(v) for v in views) if views else rt.ledger.max_position()
