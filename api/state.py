"""State at a date: `GET /state?at=` (and `at=` on the list endpoints, which use the same replicas)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar
from urllib.parse import urlencode

import msgspec
from litestar import Response, get
from litestar.di import NamedDependency

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


class Axes(msgspec.Struct, frozen=True):
    """Where an answer about the past stands: as at `at` (effective time), as known at `as_known_at` (recorded
    time); `position` is the prefix of the ledger it is cut at, `known_position` the last event recorded by
    `as_known_at`, and `corrections` the positions of the later corrections applied on top."""

    at: datetime
    as_known_at: datetime
    position: int
    known_position: int
    corrections: list[int]


class CatalogCounts(msgspec.Struct, frozen=True):
    by_status: dict[str, int]
    published: int
    """Published entries, those under revision included."""


class GrantCounts(msgspec.Struct, frozen=True):
    by_status: dict[str, int]
    in_force: int
    """Active grants whose validity covers `at`."""


class SystemCounts(msgspec.Struct, frozen=True):
    by_state: dict[str, int]
    live: int
    """Systems in the `live` state."""


class ViolationCounts(msgspec.Struct, frozen=True):
    by_status: dict[str, int]
    open: int
    """Violations still open: `candidate`, `confirmed`, `notice_issued` or `rectification_reported`."""


class StateLists(msgspec.Struct, frozen=True):
    """The list endpoints at the same cut."""

    catalog: str
    grants: str
    systems: str
    violations: str


class StateAt(Axes, frozen=True):
    """The state at a cut, counted as the reader may see it, and where its lists are."""

    catalog: CatalogCounts
    grants: GrantCounts
    systems: SystemCounts
    violations: ViolationCounts
    organizations: int
    lists: StateLists


class Learned(msgspec.Struct, frozen=True):
    """An event the later answer rests on and the earlier does not; a correction names what it corrects."""

    position: int
    type: str
    kind: str
    id: str
    version: int
    recorded_at: str
    by: str
    """The person who recorded it."""
    effective_at: str | None
    """When it takes effect: a correction's effective instant, else when it was recorded."""
    correction: bool
    reason: str | msgspec.UnsetType = msgspec.UNSET
    """Where the event has one: why."""
    corrects: str | msgspec.UnsetType = msgspec.UNSET
    """A correction: the field it corrects, and the version of the event that set it."""
    corrects_version: int | msgspec.UnsetType = msgspec.UNSET


class FactChange(msgspec.Struct, frozen=True):
    """A grant, catalog entry or system as each answer shows it (its columns are the kind's own: open)."""

    kind: str
    id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class StateChanges(msgspec.Struct, frozen=True):
    """What the ledger learned between `known_from` and `known_to` that changed its answer about `at`: the two
    answers' cuts, the events learned (at most 1,000, `truncated` when there were more) and each fact changed."""

    at: datetime
    known_from: datetime
    known_to: datetime
    from_: Axes = msgspec.field(name="from")
    to: Axes
    learned: list[Learned]
    changed: list[FactChange]
    truncated: bool


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
          at: AtQuery = None, as_known_at: AsKnownAtQuery = None) -> Response[StateAt]:
    """The state as at `at` (effective time: what was in force), as known at `as_known_at` (recorded time: what
    the ledger knew); each left out is now. Counts per catalog status, grant status, system state and violation
    status, the grants in force at `at`, both instants and the ledger positions the answer stands on. Lists:
    the list endpoints with the same two parameters."""
    _, db, cut = past.as_of(at, as_known_at)
    viewer = None if principal.sees_everything else principal.acting_for
    query = urlencode({"at": cut["at"].isoformat(), "as_known_at": cut["as_known_at"].isoformat()})
    return Response(msgspec.convert({
        **cut, **StateQueries(db).summary(cut["at"], viewer),
        "lists": {name: f"{path}?{query}" for name, path in LISTS.items()},
    }, StateAt, builtin_types=(datetime,)))


@get("/state/changes", sync_to_thread=True, tags=["audit"])
def state_changes(principal: NamedDependency[Principal], past: NamedDependency[Past],
                  known_from: Annotated[datetime, instant_query()], at: AtQuery = None,
                  known_to: AsKnownAtQuery = None) -> Response[StateChanges]:
    """What the ledger learned between `known_from` and `known_to` (recorded time; now when left out) that changed
    its answer about `at` (effective time; now when left out): the events learned — corrections with what they
    correct and why — and each grant, catalog entry or system they touch, before and after. The Office and
    auditors."""
    if not principal.sees_everything:
        raise Forbidden("What the ledger learned about the past is shown to the Office and auditors.")
    found = past.changes(at, known_from, known_to)
    before, after = found.pop("before"), found.pop("after")
    return Response(msgspec.convert({"at": before.at, "known_from": before.as_known_at, "known_to": after.as_known_at,
                                     "from": axes(before), "to": axes(after), **found},
                                    StateChanges, builtin_types=(datetime,)))

