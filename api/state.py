"""State at a date: `GET /state?at=` (and `at=` on the list endpoints, which use the same replicas)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, Response, get
from litestar.di import NamedDependency, Provide

from api.deps import provide_principal, runtime_of
from api.params import instant_query
from application.common import Principal
from projections.state_queries import StateQueries

LISTS = {"catalog": "/catalog/entries", "grants": "/grants", "systems": "/systems", "violations": "/violations"}


@get("/state", sync_to_thread=True, tags=["audit"],
     dependencies={"principal": Provide(provide_principal, sync_to_thread=False)})
def state(request: Request[Any, Any, Any], principal: NamedDependency[Principal],
          at: Annotated[datetime, instant_query()]) -> Response[Any]:
    """What the read models said at `at` (recorded time): counts per catalog status, grant status, system state
    and violation status, with the ledger position the answer stands on. Lists: the list endpoints with the
    same `at`."""
    rt = runtime_of(request)
    position, db = rt.state_at(at)
    viewer = None if principal.sees_everything else principal.acting_for
    query = urlencode({"at": at.isoformat()})
    return Response({
        "at": at, "position": position, **StateQueries(db).summary(at, viewer),
        "lists": {name: f"{path}?{query}" for name, path in LISTS.items()},
    })
