"""Operations and audit routes: health, entity timelines."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency, Provide
from litestar.params import PathParameter

from api.deps import provide_principal, runtime_of
from api.params import AtQuery, Position
from application.common import Principal

Kind = Annotated[str, PathParameter(max_length=64, description="The kind of object, e.g. grant")]
Ident = Annotated[str, PathParameter(max_length=200, description="The object's id (or code)")]


@get("/health", sync_to_thread=True, tags=["operations"])
def health(request: Request[Any, Any, Any]) -> Response[Any]:
    """Store reachable and projection lag (events not yet applied per read model); no token needed."""
    rt = runtime_of(request)
    try:
        head = rt.ledger.max_position()
        lag = rt.projector.lag()
    except Exception as e:  # the store is down: say so, do not crash
        return Response({"status": "unavailable", "store": "unreachable", "detail": type(e).__name__},
                        status_code=503)
    return Response({"status": "ok", "store": rt.ledger.backend, "position": head, "projection_lag": lag})


class HistoryController(Controller):
    path = "/history"
    tags = ["audit"]
    dependencies = {"principal": Provide(provide_principal, sync_to_thread=False)}

    @get("/{kind:str}/{ident:str}", sync_to_thread=True)
    def timeline(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], kind: Kind,
                 ident: Ident, at: AtQuery = None) -> Response[Any]:
        """Every event of one object, in order, with actor, time, ledger position, rule context and the state
        after it; with `at`, the object as it stood at that instant."""
        rt = runtime_of(request)
        if at is not None:
            return Response(rt.history.at(principal, kind, ident, at))
        events = rt.history.timeline(principal, kind, ident)
        return Response({"kind": kind, "id": ident, "events": events})

    @get("/{kind:str}/{ident:str}/diff", sync_to_thread=True)
    def diff(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], kind: Kind,
             ident: Ident, from_version: Position, to_version: Position) -> Response[Any]:
        """What changed in the object between two of its versions (`?from_version=1&to_version=4`)."""
        rt = runtime_of(request)
        return Response(rt.history.diff(principal, kind, ident, from_version, to_version))
