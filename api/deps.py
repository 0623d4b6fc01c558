"""Request plumbing shared by the controllers: the caller, the command envelope, answers and read-your-writes."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, Response
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotAuthorizedException
from litestar.params import HeaderParameter, QueryParameter

from api.params import position_of
from api.state import Past
from application.answer_proofs import GrantStatusParts
from application.common import ApplicationError, Command, CommandResult, Principal, fingerprint
from bootstrap import Runtime
from domain.limits import ORG_CODE_PATTERN, TOKEN_PATTERN
from projections.runner import Projector

_TOKEN = re.compile(TOKEN_PATTERN)
_ORG_CODE = re.compile(ORG_CODE_PATTERN)

POSITION_HEADER = "X-Ledger-Position"
MIN_POSITION_HEADER = "X-Min-Position"


def _runtime(request: Request[Any, Any, Any]) -> Runtime:
    """The one place the edge reaches the composition root; handlers name the parts they use instead."""
    return request.app.state.runtime  # type: ignore[no-any-return]


runtime_of = _runtime  # the console and the metrics scrape, which speak for the whole process


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthorizedException("A bearer token is required.", headers={"WWW-Authenticate": "Bearer"})
    on_behalf_of = request.headers.get("x-on-behalf-of") or None
    if on_behalf_of is not None and not _ORG_CODE.search(on_behalf_of):
        raise ApplicationError("X-On-Behalf-Of is an organization code.")
    p = _runtime(request).principal(token.strip(), on_behalf_of=on_behalf_of)
    if p is None:
        raise NotAuthorizedException("The token is unknown or revoked.", headers={"WWW-Authenticate": "Bearer"})
    return p


class Envelope:
    """What a write carries beside its body: Idempotency-Key, If-Match and X-Request-Id, checked once, and
    the method and path its fingerprint covers. A handler asks for it by name (`envelope`)."""

    __slots__ = ("_key", "_expected", "_method", "_path", "_request_id")

    def __init__(self, request: Request[Any, Any, Any]) -> None:
        key = request.headers.get("idempotency-key")
        if key is not None and not _TOKEN.search(key):
            raise ApplicationError("Idempotency-Key must be 1 to 200 printable ASCII characters without spaces.")
        request_id = request.headers.get("x-request-id")
        if request_id is not None and not _TOKEN.search(request_id):
            raise ApplicationError("X-Request-Id must be 1 to 200 printable ASCII characters without spaces.")
        self._key, self._request_id = key, request_id
        self._expected = _if_match(request)
        self._method, self._path = request.method, request.url.path

    def command(self, name: str, data: Any = None) -> Command:
        return Command(
            name=name,
            idempotency_key=self._key,
            expected_version=self._expected,
            fingerprint=fingerprint(self._method, self._path, msgspec.to_builtins(data) if data is not None else None),
            request_id=self._request_id,
        )


def command(request: Request[Any, Any, Any], name: str, data: Any = None) -> Command:
    """The envelope's command of a request (for code that holds the request rather than an `envelope`)."""
    return Envelope(request).command(name, data)


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


class Reads:
    """Read-your-writes for one request: the position the client asked to read at least (X-Min-Position or
    ?min_position=), and the waits on the views a handler reads. A handler asks for it by name (`reads`)."""

    __slots__ = ("wanted", "_projector", "_head")

    def __init__(self, wanted: int | None, projector: Projector, head: Callable[[], int]) -> None:
        self.wanted = wanted
        self._projector, self._head = projector, head

    def honour(self, *views: str) -> None:
        """Waits for the asked position when one is sent, and costs nothing when none is (the hot path)."""
        if self.wanted is not None:
            self._projector.wait_for(self.wanted, *views)

    def wait(self, *views: str) -> int:
        """Honours the asked position, then names the position the answer stands on: the least of the views'
        (the ledger's head when the answer reads no view)."""
        self.honour(*views)
        return min(self._projector.position(v) for v in views) if views else self._head()


_MIN_POSITION_DOC = ("Read at least this fresh: a ledger position from an earlier answer's X-Ledger-Position. The "
                     "read waits (bounded) until its views have applied it, and answers 503 with Retry-After if "
                     "they do not in time.")


def provide_reads(
    request: Request[Any, Any, Any],
    x_min_position: Annotated[str | None, HeaderParameter(name=MIN_POSITION_HEADER, required=False, max_length=19,
                                                    description=_MIN_POSITION_DOC)] = None,
    min_position_query: Annotated[str | None, QueryParameter(name="min_position", required=False, max_length=19,
                                                        description="The same as X-Min-Position, as a query "
                                                                    "parameter (for links and EventSource)")] = None,
) -> Reads:
    """The one parser of X-Min-Position (the header wins over the query parameter)."""
    wanted = (position_of(x_min_position, MIN_POSITION_HEADER) if x_min_position
              else position_of(min_position_query, "min_position"))
    rt = _runtime(request)
    return Reads(wanted, rt.projector, rt.ledger.max_position)


class Asking(msgspec.Struct, frozen=True):
    """A grant-status question's one dependency (`asking`): the request, the caller, read-your-writes and the
    question's parts. One, because Litestar resolves two or more of a handler's dependencies as a task each,
    which halved this hot path's rate; the write envelope of a recorded use is built from `request` only then,
    so a plain question neither pays for nor is refused by the headers of a write."""

    request: Request[Any, Any, Any]
    principal: Principal
    reads: Reads
    parts: GrantStatusParts


def provide_asking(request: Request[Any, Any, Any]) -> Asking:
    parts = _runtime(request).grant_status
    reads = Reads(min_position(request), parts.projector, parts.ledger.max_position)
    return Asking(request, provide_principal(request), reads, parts)


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
        _runtime(request).projector.wait_for(wanted, *views)


def wait_for_position(request: Request[Any, Any, Any], *views: str) -> int:
    """Honours X-Min-Position (or ?min_position=) so a client reads its own write without sleeping."""
    return provide_reads(request, request.headers.get(MIN_POSITION_HEADER),
                         request.query_params.get("min_position")).wait(*views)


# -- the app's dependencies ---------------------------------------------------------------------------------
# Handlers name what they use — `principal`, `envelope`, `reads`, `now`, `past`, `settings`, and the services and queries below by
# their names on the runtime — and Litestar hands each in; no handler reaches for the runtime itself.

SERVICES = ("organizations", "organization_queries", "catalog", "catalog_queries", "sharing", "sharing_queries",
            "grant_cache", "maintenance", "maintenance_queries", "systems", "system_queries", "compliance",
            "compliance_queries", "access_log", "access_log_queries", "receipts", "integrity", "feeds", "webhooks",
            "history", "projector")
"""The runtime's parts a handler may ask for by name."""
SERVICES += ("grant_status", "review_queries")  # the grant-status question's parts; the re-review queue


def _part(rt: Runtime, name: str) -> Callable[[], Any]:
    return _part_of(getattr(rt, name))


def _part_of(value: Any) -> Callable[[], Any]:
    return lambda: value


def app_dependencies(rt: Runtime) -> dict[str, Provide]:
    """The dependencies every route may name: the caller, the write's envelope, read-your-writes, the clock's
    now, and the runtime's services and queries (built once, so each costs a lookup per request)."""
    deps: dict[str, Provide] = {
        "principal": Provide(provide_principal, sync_to_thread=False),
        "envelope": Provide(Envelope, sync_to_thread=False),
        "reads": Provide(provide_reads, sync_to_thread=False),
        "asking": Provide(provide_asking, sync_to_thread=False),
        "now": Provide(_now(rt), sync_to_thread=False),
        "past": Provide(_part_of(Past(rt.state_as_of, rt.state_changes)), sync_to_thread=False),
        "settings": Provide(_part_of(rt.settings), sync_to_thread=False),
    }
    deps.update({name: Provide(_part(rt, name), sync_to_thread=False) for name in SERVICES})
    return deps


def _now(rt: Runtime) -> Callable[[], datetime]:
    return lambda: rt.now()


# -- the names' types, for handlers that spell them short ------------------------------------------------
Caller = NamedDependency[Principal]
EnvelopeDep = NamedDependency[Envelope]
ReadsDep = NamedDependency[Reads]
NowDep = NamedDependency[datetime]
PastDep = NamedDependency[Past]
