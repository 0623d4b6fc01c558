"""State at a date: `GET /state?at=` (and `at=` on the list endpoints, which use the same replicas)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar
from urllib.parse import urlencode

from litestar import Response, get
from litestar.di import NamedDependency

from api.contract import Row
from api.params import AsKnownAtQuery, AtQuery, instant_query
from application.common import Forbidden, Principal
from infrastructure.sql import MemoryDb
from projections.state_queries import StateQueries
from projections.timetravel import Cut

if TYPE_CHECKING:
    from api.deps import Reads

Q = TypeVar("Q")

LISTS = {"catalog": "/catalog/entries", "grants": "/grants", "systems": "/systems", "violations": "/violations"}


def axes(cut: Cut) -> dict[str, Any]:
    """What an answer about the past stands on: both instants, both positions, the corrections applied."""
    return {"at": cut.at, "as_known_at": cut.as_known_at, "position": cut.position,
            "known_position": cut.known_position, "corrections": list(cut.corrections)}


class Past:
    """The read models as they stood at another instant: what handlers ask for by name (`past`)."""

    __slots__ = ("_as_of", "_changes")

    def __init__(self, state_as_of: Callable[[datetime | None, datetime | None], tuple[Cut, MemoryDb]],
                 state_changes: Callable[[datetime | None, datetime, datetime | None], dict[str, Any]]) -> None:
        self._as_of, self._changes = state_as_of, state_changes

    def as_of(self, at: datetime | None, as_known_at: datetime | None) -> tuple[int, MemoryDb, dict[str, Any]]:
        """The replica of the read models as at `at`, as known at `as_known_at`, and the fields naming that cut."""
        cut, db = self._as_of(at, as_known_at)
        return cut.position, db, axes(cut)

    def or_live(self, at: datetime | None, as_known_at: datetime | None, reads: Reads, live: Q,
                on_replica: Callable[[MemoryDb], Q], *views: str) -> tuple[Q, int, dict[str, Any]]:
        """The queries a list reads: on the replica of the cut when `at` or `as_known_at` is given (with the
        fields naming the cut), else the live ones once their views stand at the position the client asked."""
        if at is None and as_known_at is None:
            return live, reads.wait(*views), {}
        position, replica, cut = self.as_of(at, as_known_at)
        return on_replica(replica), position, cut

    def changes(self, at: datetime | None, known_from: datetime, known_to: datetime | None) -> dict[str, Any]:
        return self._changes(at, known_from, known_to)


@get("/state", sync_to_thread=True, tags=["audit"])
def state(principal: NamedDependency[Principal], past: NamedDependency[Past],
          at: AtQuery = None, as_known_at: AsKnownAtQuery = None) -> Response[Row]:
    """The state as at `at` (effective time: what was in force), as known at `as_known_at` (recorded time: what
    the ledger knew); each left out is now. Counts per catalog status, grant status, system state and violation
    status, the grants in force at `at`, both instants and the ledger positions the answer stands on. Lists:
    the list endpoints with the same two parameters."""
    _, db, cut = past.as_of(at, as_known_at)
    viewer = None if principal.sees_everything else principal.acting_for
    query = urlencode({"at": cut["at"].isoformat(), "as_known_at": cut["as_known_at"].isoformat()})
    return Response({
        **cut, **StateQueries(db).summary(cut["at"], viewer),
        "lists": {name: f"{path}?{query}" for name, path in LISTS.items()},
    })


@get("/state/changes", sync_to_thread=True, tags=["audit"])
def state_changes(principal: NamedDependency[Principal], past: NamedDependency[Past],
                  known_from: Annotated[datetime, instant_query()], at: AtQuery = None,
                  known_to: AsKnownAtQuery = None) -> Response[Row]:
    """What the ledger learned between `known_from` and `known_to` (recorded time; now when left out) that changed
    its answer about `at` (effective time; now when left out): the events learned — corrections with what they
    correct and why — and each grant, catalog entry or system they touch, before and after. The Office and
    auditors."""
    if not principal.sees_everything:
        raise Forbidden("What the ledger learned about the past is shown to the Office and auditors.")
    found = past.changes(at, known_from, known_to)
    before, after = found.pop("before"), found.pop("after")
    return Response({"at": before.at, "known_from": before.as_known_at, "known_to": after.as_known_at,
                     "from": axes(before), "to": axes(after), **found})

