"""Operations and audit routes: health, entity timelines."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import PathParameter

from api.deps import runtime_of
from api.params import Position, RecordedAtQuery
from application.common import Principal
from application.history import Diff, HistoryService, ObjectAt, Timeline
from projections.runner import ViewStall

Kind = Annotated[str, PathParameter(max_length=64, description="The kind of object, e.g. grant")]
Ident = Annotated[str, PathParameter(max_length=200, description="The object's id (or code)")]


class ProcessInfo(msgspec.Struct, frozen=True):
    """The process that answers: its pid and host, its role and whether it runs the background duties."""

    pid: int
    host: str
    role: str
    background: str
    """`elected` (it runs them now), `standby` (it takes over when the active one stops) or `none`."""
    listening: bool | None
    """Whether its PostgreSQL notification listener is connected; null without one (SQLite)."""


class ActiveWorker(msgspec.Struct, frozen=True):
    """The process that runs the background duties. On SQLite this process (role, host, pid); on PostgreSQL
    the session holding the election's lock as the server sees it: the process it names (left out when its
    session is not named as a civic-ledger process's), its server backend and since when."""

    role: str | msgspec.UnsetType = msgspec.UNSET
    host: str | msgspec.UnsetType = msgspec.UNSET
    pid: int | msgspec.UnsetType = msgspec.UNSET
    backend_pid: int | msgspec.UnsetType = msgspec.UNSET
    """PostgreSQL: the server process serving the session that holds the lock."""
    since: str | msgspec.UnsetType = msgspec.UNSET
    """PostgreSQL: when that session began."""


class ViewRebuild(msgspec.Struct, frozen=True):
    """A view being rebuilt beside its live tables, which keep answering."""

    view: str
    position: int
    head: int
    started_at: str | None
    progress: float
    """position / head, 0..1."""


class Health(msgspec.Struct, frozen=True):
    """`status` `ok`, `degraded` (a view is stalled: `stalled`) or `unavailable` (the store is unreachable: then
    only `store`, `detail` and `process` follow)."""

    status: str
    store: str
    """The backend (`sqlite`, `postgres`), or `unreachable`."""
    detail: str | msgspec.UnsetType = msgspec.UNSET
    """With `unavailable`: the kind of error the store raised."""
    position: int | msgspec.UnsetType = msgspec.UNSET
    """The ledger's head."""
    projection_lag: dict[str, int] | msgspec.UnsetType = msgspec.UNSET
    """Events not yet applied, per read model."""
    process: ProcessInfo | msgspec.UnsetType = msgspec.UNSET
    background_worker: ActiveWorker | None | msgspec.UnsetType = msgspec.UNSET
    """The active background worker; null when none is."""
    views: dict[str, int] | msgspec.UnsetType = msgspec.UNSET
    """The position each read model stands at."""
    rebuilding: list[ViewRebuild] | msgspec.UnsetType = msgspec.UNSET
    """Present while a view is rebuilt."""
    stalled: list[ViewStall] | msgspec.UnsetType = msgspec.UNSET
    """Present with `degraded`."""


@get("/health", sync_to_thread=True, tags=["operations"])
def health(request: Request[Any, Any, Any]) -> Response[Health]:
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
        return Response(Health(status="unavailable", store="unreachable", detail=type(e).__name__,
                               process=msgspec.convert(rt.process(), ProcessInfo)), status_code=503)
    worker = election["active_worker"]
    body = Health(status="degraded" if stalled else "ok", store=rt.ledger.backend, position=head,
                  projection_lag=lag, process=msgspec.convert(rt.process(), ProcessInfo),
                  background_worker=None if worker is None else msgspec.convert(worker, ActiveWorker),
                  views={name: head - behind for name, behind in lag.items()},
                  # the live tables keep answering meanwhile: no degradation
                  rebuilding=msgspec.convert(rebuilding, list[ViewRebuild]) if rebuilding else msgspec.UNSET,
                  stalled=[f.public() for f in stalled] if stalled else msgspec.UNSET)
    return Response(body, status_code=503 if stalled else 200)


class HistoryController(Controller):
    path = "/history"
    tags = ["audit"]

    @get("/{kind:str}/{ident:str}", sync_to_thread=True)
    def timeline(self, principal: NamedDependency[Principal], history: NamedDependency[HistoryService], kind: Kind,
                 ident: Ident, at: RecordedAtQuery = None) -> Response[Timeline | ObjectAt]:
        """Every event of one object, in order, with actor, time, ledger position, rule context and the state
        after it (a `Timeline`); with `at` (recorded time: a timeline is the order things were recorded in), the
        object as its events recorded by then left it (an `ObjectAt`). Each state is the kind's own (open)."""
        if at is not None:
            return Response(history.at(principal, kind, ident, at))
        return Response(Timeline(kind=kind, id=ident, events=history.timeline(principal, kind, ident)))

    @get("/{kind:str}/{ident:str}/diff", sync_to_thread=True)
    def diff(self, principal: NamedDependency[Principal], history: NamedDependency[HistoryService], kind: Kind,
             ident: Ident, from_version: Position, to_version: Position) -> Response[Diff]:
        """What changed in the object between two of its versions (`?from_version=1&to_version=4`)."""
        return Response(history.diff(principal, kind, ident, from_version, to_version))
