"""State at a date: `GET /state?at=` (and `at=` on the list endpoints, which use the same replicas)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.di import NamedDependency, Provide

from api.deps import provide_principal, runtime_of
from api.params import instant_query
from application.common import Principal


@get("/state", sync_to_thread=True, tags=["audit"],
     dependencies={"principal": Provide(provide_principal, sync_to_thread=False)})
def state(request: Request[Any, Any, Any], principal: NamedDependency[Principal],
          at: Annotated[datetime, instant_query()]) -> Response[Any]:
    """What the read models said at `at` (recorded time): counts per catalog status and per grant status,
    with the ledger position the answer stands on. Lists: the list endpoints with the same `at`."""
    rt = runtime_of(request)
    position, db = rt.state_at(at)
    viewer = None if principal.sees_everything else principal.acting_for
    where, args = ("", ()) if viewer is None else (" WHERE provider = ? OR current_version IS NOT NULL", (viewer,))
    catalog = {r["status"]: r["n"] for r in db.query(
        f"SELECT status, COUNT(*) AS n FROM catalog_entries{where} GROUP BY status", args)}
    gwhere, gargs = ("", ()) if viewer is None else (" WHERE holder = ? OR provider = ?", (viewer, viewer))
    grants = {r["status"]: r["n"] for r in db.query(
        f"SELECT status, COUNT(*) AS n FROM grants{gwhere} GROUP BY status", gargs)}
    active_now = db.scalar(
        f"SELECT COUNT(*) FROM grants WHERE status = 'active' AND valid_from <= ? AND valid_to >= ?"
        f"{'' if viewer is None else ' AND (holder = ? OR provider = ?)'}",
        (at.isoformat(), at.isoformat(), *gargs),
    )
    return Response({
        "at": at, "position": position,
        "catalog": {"by_status": catalog, "published": catalog.get("published", 0) + catalog.get("revising", 0)},
        "grants": {"by_status": grants, "in_force": active_now},
        "organizations": db.scalar("SELECT COUNT(*) FROM organizations"),
        "lists": {"catalog": f"/catalog/entries?at={at.isoformat()}", "grants": f"/grants?at={at.isoformat()}"},
    })
