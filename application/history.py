"""Entity timelines: every event of one object with actor, time, position and rule context (AUD-1)."""

from __future__ import annotations

import dataclasses
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.utils import get_topic

from application.common import NotFound, Principal
from domain.catalog import CatalogEntry
from domain.organizations import organization_id
from domain.timeline import KINDS, rules_of
from infrastructure.store import Ledger

_HIDDEN = {"originator_id", "originator_version", "timestamp", "actor", "cause", "originator_topic"}


class TimelineEvent(msgspec.Struct, frozen=True):
    position: int
    version: int
    type: str
    topic: str
    time: str
    actor: dict[str, Any]
    cause: dict[str, Any]
    rules: list[str]
    data: dict[str, Any]


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
        events = [(pos, self.ledger.mapper.to_domain_event(s)) for pos, s in stored]
        if not self._may_see(p, kind, events):
            raise NotFound(f"No {kind} {ident} visible to the caller.")
        return [self._item(pos, e) for pos, e in events]

    @staticmethod
    def _may_see(p: Principal, kind: str, events: list[tuple[int, Any]]) -> bool:
        if p.sees_everything:
            return True
        first = events[0][1]
        if kind == "catalog-entry":
            return bool(first.provider == p.acting_for or any(isinstance(e, CatalogEntry.Published) for _, e in events))
        if kind == "organization":
            return bool(first.code == p.acting_for)
        return False

    @staticmethod
    def _item(position: int, event: Any) -> TimelineEvent:
        data = {f.name: getattr(event, f.name) for f in dataclasses.fields(event) if f.name not in _HIDDEN}
        return TimelineEvent(
            position=position, version=event.originator_version, type=type(event).__name__,
            topic=get_topic(type(event)), time=event.timestamp.isoformat(),
            actor=msgspec.to_builtins(event.actor), cause=msgspec.to_builtins(event.cause),
            rules=list(rules_of(event)), data=msgspec.to_builtins(data),
        )
