"""Ledger events as CloudEvents 1.0 (structured JSON mode): type names, the envelope, and per-type schemas.

A type name is `cn.gov.shaanxi.mz.<aggregate kind, dots for dashes>.<event in snake_case>`, e.g.
`cn.gov.shaanxi.mz.catalog.entry.published`. The schema version of a type is the event class's
`class_version`; stored events of an older version are upcast by the mapper before they get here,
so `data` always has the shape of the current version named by `dataschema`.

`source` is an absolute URI: the service's public base URL (CIVIC_LEDGER_PUBLIC_BASE_URL), given to
the envelope by the feed. `dataschema` is a URN in the project's own namespace (`urn:civic-ledger:`,
the namespace of its problem types too), so it names the schema the same way on every deployment;
`GET /events/types/{type}` serves the schema whose `$id` it is.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from functools import cache
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

from domain.base import Actor

PREFIX = "cn.gov.shaanxi.mz"
DEFAULT_SOURCE = "http://localhost:8000"
"""The source of a feed that is given none (the local server's base URL); deployments configure theirs."""
SPEC_VERSION = "1.0"
SCHEMA_URN = "urn:civic-ledger:schema"
BATCH_MEDIA_TYPE = "application/cloudevents-batch+json"
EVENT_MEDIA_TYPE = "application/cloudevents+json"
# Fields every event has that are carried by the envelope (or withheld) rather than in `data`.
ENVELOPE_FIELDS = frozenset({"originator_id", "originator_version", "timestamp", "actor", "cause", "originator_topic"})

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


class EventActor(msgspec.Struct, frozen=True):
    """Who acted, as integrators see it: the organization and role, not the person."""

    organization: str
    role: str
    on_behalf_of: str | None = None


@dataclasses.dataclass(frozen=True)
class EventType:
    """One published event type: its CloudEvents name, the aggregate kind and the event class."""

    name: str
    kind: str
    cls: type
    topic: str
    version: int

    @property
    def dataschema(self) -> str:
        return f"{SCHEMA_URN}:{self.name}:{self.version}"


def type_name(kind: str, event_name: str) -> str:
    return f"{PREFIX}.{kind.replace('-', '.')}.{_CAMEL.sub('_', event_name).lower()}"


def event_classes(aggregate: type) -> list[type]:
    """The concrete events an aggregate records (its nested event classes but the generic bases)."""
    return [v for n, v in vars(aggregate).items()
            if isinstance(v, type) and issubclass(v, Aggregate.Event) and n not in ("Event", "Created")]


class Catalogue:
    """Every event type of the ledger, by topic and by CloudEvents type name."""

    def __init__(self, kinds: dict[str, type]) -> None:
        self.by_topic: dict[str, EventType] = {}
        self.by_name: dict[str, EventType] = {}
        for kind, aggregate in sorted(kinds.items()):
            for cls in event_classes(aggregate):
                t = EventType(name=type_name(kind, cls.__name__), kind=kind, cls=cls, topic=get_topic(cls),
                              version=int(getattr(cls, "class_version", 1)))
                self.by_topic[t.topic] = t
                self.by_name[t.name] = t

    def of(self, event: object) -> EventType:
        return self.by_topic[get_topic(type(event))]

    def names(self) -> list[str]:
        return sorted(self.by_name)


@cache
def catalogue() -> Catalogue:
    from domain.timeline import KINDS  # every context registers its aggregates there

    return Catalogue(dict(KINDS))


def subject_of(kind: str, originator_id: UUID) -> str:
    return f"{kind}/{originator_id}"


@cache
def _data_fields(cls: type) -> tuple[str, ...]:
    """The names of a class's fields that go in `data`, in declaration order (looked up once per class)."""
    return tuple(f.name for f in dataclasses.fields(cls) if f.name not in ENVELOPE_FIELDS)


def public_data(event: Any) -> dict[str, Any]:
    """The event's own fields as plain JSON values, with the acting organization and role."""
    fields = {name: getattr(event, name) for name in _data_fields(type(event))}
    actor: Actor = event.actor
    fields["actor"] = EventActor(actor.organization, str(actor.role), actor.on_behalf_of)
    out: dict[str, Any] = msgspec.to_builtins(fields, str_keys=True, order="deterministic")
    return out


def envelope(event: Any, position: int, ledger_hash: str | None = None,
             data: dict[str, Any] | None = None, source: str = DEFAULT_SOURCE) -> dict[str, Any]:
    """The structured-mode CloudEvent of one ledger event (`data` may be given to redact it for a reader)."""
    t = catalogue().of(event)
    ce: dict[str, Any] = {
        "specversion": SPEC_VERSION,
        "id": f"{event.originator_id}:{event.originator_version}",
        "source": source,
        "type": t.name,
        "subject": subject_of(t.kind, event.originator_id),
        "time": event.timestamp.isoformat(),
        "datacontenttype": "application/json",
        "dataschema": t.dataschema,
        "ledgerposition": position,
        "data": public_data(event) if data is None else data,
    }
    if ledger_hash is not None:
        ce["ledgerhash"] = ledger_hash
    return ce


def data_schema(t: EventType) -> dict[str, Any]:
    """JSON Schema of one type's `data`, derived from the event class itself."""
    schema: dict[str, Any] = copy.deepcopy(msgspec.json.schema(t.cls))
    defs: dict[str, Any] = schema.setdefault("$defs", {})
    ref = schema.pop("$ref").rsplit("/", 1)[-1]
    root = defs.pop(ref)
    root["title"] = t.name
    root["description"] = f"{t.cls.__qualname__} of a {t.kind}, schema version {t.version}."
    props = {k: v for k, v in root.get("properties", {}).items() if k not in ENVELOPE_FIELDS}
    actor = msgspec.json.schema(EventActor)
    props["actor"] = actor["$defs"]["EventActor"]
    root["properties"] = props
    root["required"] = [k for k in root.get("required", []) if k not in ENVELOPE_FIELDS] + ["actor"]
    used = _refs(root)
    while True:
        more = set().union(*(_refs(defs[d]) for d in used if d in defs)) - used
        if not more:
            break
        used |= more
    kept = {k: v for k, v in defs.items() if k in used and k not in ("Actor", "Cause")}
    out = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": t.dataschema, **root}
    if kept:
        out["$defs"] = kept
    return out


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                found.add(v.rsplit("/", 1)[-1])
            else:
                found |= _refs(v)
    elif isinstance(node, list):
        for v in node:
            found |= _refs(v)
    return found
