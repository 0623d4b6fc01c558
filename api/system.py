"""Operations and audit routes: health, entity timelines."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath

from api.deps import provide_principal, runtime_of
from api.params import AtQuery, Position
from application.common import Principal


@get("/health", sync_to_thread=True, tags=["operations"])
def health(request: Request[Any, Any, Any]) -> Response[Any]:
    """Store reachable and projection lag (events not yet applied per read model); no token needed.

    503 `"status": "degraded"` while a read model is stopped at an event it cannot apply: `stalled`
    names each such view, the position, the event's type and the error."""
    rt = runtime_of(request)
    try:
        head = rt.ledger.max_position()
        lag = rt.projector.lag()
        stalled = rt.projector.failures()
    except Exception as e:  # the store is down: say so, do not crash
        return Response({"status": "unavailable", "store": "unreachable", "detail": type(e).__name__},
                        status_code=503)
    body: dict[str, Any] = {"status": "ok", "store": rt.ledger.backend, "position": head, "projection_lag": lag}
    if stalled:
        body.update(status="degraded", stalled=[f.public() for f in stalled])
        return Response(body, status_code=503)
    return Response(body)


class HistoryController(Controller):
    path = "/history"
    tags = ["audit"]
    dependencies = {"principal": Provide(provide_principal, sync_to_thread=False)}

    @get("/{kind:str}/{ident:str}", sync_to_thread=True)
    def timeline(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], kind: FromPath[str],
                 ident: FromPath[str], at: AtQuery = None) -> Response[Any]:
        """Every event of one object, in order, with actor, time, ledger position, rule context and the state
        after it; with `at`, the object as it stood at that instant."""
        rt = runtime_of(request)
        if at is not None:
            return Response(rt.history.at(principal, kind, ident, at))
        events = rt.history.timeline(principal, kind, ident)
        return Response({"kind": kind, "id": ident, "events": events})

    @get("/{kind:str}/{ident:str}/diff", sync_to_thread=True)
    def diff(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], kind: FromPath[str],
             ident: FromPath[str], from_version: Position, to_version: Position) -> Response[Any]:
        """What changed in the object between two of its versions (`?from_version=1&to_version=4`)."""
        rt = runtime_of(request)
        return Response(rt.history.diff(principal, kind, ident, from_version, to_version))
