"""Operations and audit routes: health, entity timelines."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import PathParameter

from api.contract import Row
from api.deps import runtime_of
from api.params import Position, RecordedAtQuery
from application.common import Principal
from application.history import Diff, HistoryService

Kind = Annotated[str, PathParameter(max_length=64, description="The kind of object, e.g. grant")]
Ident = Annotated[str, PathParameter(max_length=200, description="The object's id (or code)")]


@get("/health", sync_to_thread=True, tags=["operations"])
def health(request: Request[Any, Any, Any]) -> Response[Row]:
    """Store reachable and projection lag (events not yet applied per read model), which process answers
    (pid, host, role), whether a background worker is active (on PostgreSQL: who holds the election's
    lock) and where each view stands; no token needed.

    503 `"status": "degraded"` while a read model is stopped at an event it cannot apply: `stalled`
    names each such view, the position, the event's type and the error. `rebuilding` lists the views being
    rebuilt beside their live tables, with the position reached, the head and the progress (0..1)."""
    rt = runtime_of(request)  # like the metrics scrape, health speaks for the whole process (its role, election)
    try:
        head = rt.ledger.max_position()
        lag = rt.projector.lag()
        stalled = rt.projector.failures()
        election = rt.election_state()
        rebuilding = rt.projector.rebuilds()
    except Exception as e:  # the store is down: say so, do not crash
        return Response({"status": "unavailable", "store": "unreachable", "detail": type(e).__name__,
                         "process": rt.process()}, status_code=503)
    body: dict[str, Any] = {"status": "ok", "store": rt.ledger.backend, "position": head, "projection_lag": lag,
                            "process": rt.process(), "background_worker": election["active_worker"],
                            "views": {name: head - behind for name, behind in lag.items()}}
    if rebuilding:  # the live tables keep answering meanwhile: no degradation
        body["rebuilding"] = rebuilding
    if stalled:
        body.update(status="degraded", stalled=[f.public() for f in stalled])
        return Response(body, status_code=503)
    return Response(body)


class HistoryController(Controller):
    path = "/history"
    tags = ["audit"]

    @get("/{kind:str}/{ident:str}", sync_to_thread=True)
    def timeline(self, principal: NamedDependency[Principal], history: NamedDependency[HistoryService], kind: Kind,
                 ident: Ident, at: RecordedAtQuery = None) -> Response[Row]:
        """Every event of one object, in order, with actor, time, ledger position, rule context and the state
        after it; with `at` (recorded time: a timeline is the order things were recorded in), the object as its
        events recorded by then left it. (Open: the state is each kind's own, and `at` answers one state.)"""
        if at is not None:
            return Response(history.at(principal, kind, ident, at))
        events = history.timeline(principal, kind, ident)
        return Response({"kind": kind, "id": ident, "events": events})

    @get("/{kind:str}/{ident:str}/diff", sync_to_thread=True)
    def diff(self, principal: NamedDependency[Principal], history: NamedDependency[HistoryService], kind: Kind,
             ident: Ident, from_version: Position, to_version: Position) -> Response[Diff]:
        """What changed in the object between two of its versions (`?from_version=1&to_version=4`)."""
        return Response(history.diff(principal, kind, ident, from_version, to_version))
