"""Entity timelines: every event of one object with actor, time, position and rule context (AUD-1)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.utils import get_topic

from application.common import NotFound, Principal
from domain.base import check_calendar
from domain.catalog import CatalogEntry
from domain.compliance import Violation
from domain.organizations import organization_id
from domain.timeline import KINDS, rules_of
from infrastructure.store import Ledger

_HIDDEN = {"originator_id", "originator_version", "timestamp", "actor", "cause", "originator_topic"}


class TimelineEvent(msgspec.Struct, frozen=True):
    """One event of an object: its ledger position, the object's version after it, its type and topic, when it
    was recorded, who acted and why, the rules it applied, its data and the object's state after it."""

    position: int
    version: int
    type: str
    topic: str
    time: str
    actor: dict[str, Any]
    """The actor as recorded (person, organization, role, on_behalf_of); without the person for another
    organization's reader of a public catalog event."""
    cause: dict[str, Any]
    rules: list[str]
    data: dict[str, Any]
    """The event's own fields: each event type's (open)."""
    state: dict[str, Any] | None
    """The object after the event (each kind's own state: open)."""


class Timeline(msgspec.Struct, frozen=True):
    """Every event of one object that the reader may see, in ledger order."""

    kind: str
    id: str
    events: list[TimelineEvent]


class ObjectAt(msgspec.Struct, frozen=True):
    """One object as its events recorded by `at` left it: the version and ledger position of the last of them."""

    kind: str
    id: str
    at: str
    version: int
    position: int
    state: dict[str, Any] | None
    """The kind's own state (open)."""


#: The events of a published entry every organization may read (the feed's PUBLIC_CATALOG).
PUBLIC_EVENTS = (CatalogEntry.Published, CatalogEntry.DataRefreshed, CatalogEntry.Retired)
_PERSONAL = ("compiler", "compilers", "reviewer", "review")


def _public_item(item: TimelineEvent, entry: CatalogEntry) -> TimelineEvent:
    """A public event of an entry as another organization reads it: no person, no pending version, no review."""
    state = state_of(entry)
    state.pop("pending", None)
    state.pop("history", None)
    state["status"] = "retired" if entry.retired else "published"
    if isinstance(state.get("current"), dict):
        state["current"] = {k: v for k, v in state["current"].items() if k not in _PERSONAL}
    actor = {k: v for k, v in item.actor.items() if k != "person"}
    return msgspec.structs.replace(item, actor=actor, cause={"command": item.cause.get("command")}, state=state)


class Change(msgspec.Struct, frozen=True):
    field: str
    before: Any
    after: Any


class Diff(msgspec.Struct, frozen=True):
    kind: str
    id: str
    from_version: int
    to_version: int
    changes: list[Change]


def state_of(aggregate: Any) -> dict[str, Any]:
    """An aggregate's public state as plain data (what the object looked like after an event)."""
    raw = {k: v for k, v in vars(aggregate).items() if not k.startswith("_")}
    raw["version"] = aggregate.version
    out: dict[str, Any] = msgspec.to_builtins(raw, str_keys=True, enc_hook=_plain, order="sorted")
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return str(value)


class HistoryService:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def resolve(self, kind: str, ident: str) -> UUID:
        if kind not in KINDS:
            raise NotFound(f"No kind {kind!r}; kinds are {', '.join(sorted(KINDS))}.")
        try:
            return UUID(ident)
        except ValueError:
            if kind == "organization":
                return organization_id(ident)
            raise NotFound(f"{ident!r} is not an id of a {kind}.") from None

    def timeline(self, p: Principal, kind: str, ident: str) -> list[TimelineEvent]:
        aggregate_id = self.resolve(kind, ident)
        stored = self.ledger.stored_events_of(aggregate_id)
        cls = KINDS[kind]
        if not stored or not stored[0][1].topic.startswith(get_topic(cls) + "."):
            raise NotFound(f"No {kind} {ident}.")
        events: list[tuple[int, Any]] = [(pos, self.ledger.mapper.to_domain_event(s)) for pos, s in stored]
        if not self._may_see(p, kind, events):
            raise NotFound(f"No {kind} {ident} visible to the caller.")
        outside = kind == "catalog-entry" and not p.sees_everything and events[0][1].provider != p.acting_for
        items: list[TimelineEvent] = []
        aggregate: Any = None
        for pos, e in events:
            aggregate = e.mutate(aggregate)
            if outside:  # another organization reads the published entry only, as in the feed
                if isinstance(e, PUBLIC_EVENTS) and aggregate.current is not None:
                    items.append(_public_item(self._item(pos, e), aggregate))
                continue
            items.append(msgspec.structs.replace(self._item(pos, e), state=state_of(aggregate)))
        return items

    def at(self, p: Principal, kind: str, ident: str, when: datetime) -> ObjectAt:
        """The object as it stood at an instant (recorded time): its state after the last event by then."""
        check_calendar(at=when)
        before = [e for e in self.timeline(p, kind, ident) if datetime.fromisoformat(e.time) <= when]
        if not before:
            raise NotFound(f"The {kind} {ident} did not exist yet at {when.isoformat()}.")
        last = before[-1]
        return ObjectAt(kind=kind, id=ident, at=when.isoformat(), version=last.version, position=last.position,
                        state=last.state)

    def diff(self, p: Principal, kind: str, ident: str, from_version: int, to_version: int) -> Diff:
        """What changed in the object's state between two of its versions."""
        states = {e.version: e.state or {} for e in self.timeline(p, kind, ident)}
        for v in (from_version, to_version):
            if v not in states:
                raise NotFound(f"The {kind} {ident} has no version {v}.")
        a, b = states[from_version], states[to_version]
        changes = [Change(field=k, before=a.get(k), after=b.get(k))
                   for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        return Diff(kind=kind, id=ident, from_version=from_version, to_version=to_version, changes=changes)

    @staticmethod
    def _may_see(p: Principal, kind: str, events: list[tuple[int, Any]]) -> bool:
        if p.sees_everything:
            return True
        first = events[0][1]
        if kind == "catalog-entry":
            return bool(first.provider == p.acting_for or any(isinstance(e, CatalogEntry.Published) for _, e in events))
        if kind == "organization":
            return bool(first.code == p.acting_for)
        if kind == "share-request":
            return bool(first.requester == p.acting_for)
        if kind == "grant":
            return p.acting_for in (first.spec.holder, first.spec.provider)
        if kind == "implementation-order":
            return bool(first.holder == p.acting_for)
        if kind == "system":
            return bool(first.owner == p.acting_for)
        if kind == "maintenance-ticket":
            return bool(first.organization == p.acting_for)
        if kind == "batch-modification":
            operators = {getattr(e, "operator_org", None) for _, e in events}
            return bool(first.division == p.acting_for or p.acting_for in operators)
        if kind == "objection":
            return p.acting_for in (first.objector, first.provider)
        if kind == "violation":  # the subject's own case, once the Office confirmed it (as GET /violations/{id})
            return bool(first.subject == p.acting_for and (
                isinstance(first, Violation.Raised) or any(isinstance(e, Violation.Confirmed) for _, e in events)))
        # an access-log batch holds records of many organizations: each reads its own through /access-logs
        return False

    @staticmethod
    def _item(position: int, event: Any) -> TimelineEvent:
        data = {f.name: getattr(event, f.name) for f in dataclasses.fields(event) if f.name not in _HIDDEN}
        return TimelineEvent(
            position=position, version=event.originator_version, type=type(event).__name__,
            topic=get_topic(type(event)), time=event.timestamp.isoformat(),
            actor=msgspec.to_builtins(event.actor), cause=msgspec.to_builtins(event.cause),
            rules=list(rules_of(event)), data=msgspec.to_builtins(data), state=None,
        )
