"""What the ledger learned between two recorded instants that changed its answer about one effective instant.

The answer as at T, as known at T′, rests on a cut: the events up to its position and the later
corrections it applies. Between two cuts about the same T, what was learned is the events the
second rests on and the first does not; the facts that changed are the rows of the grants, the
catalog and the systems those events touch, as each cut shows them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from eventsourcing.utils import get_topic

from domain.catalog import CatalogEntry
from domain.corrections import effective_instant, is_correction
from domain.grants import Grant
from domain.systems import InformationSystem
from infrastructure.sql import Db
from projections.timetravel import Cut, TimeTravel

#: The facts a change is shown by: each kind's table and the columns that say what was in force.
FACTS: dict[type[Any], tuple[str, str, str]] = {
    Grant: ("grant", "grants", "holder, resource_code, status, status_since, valid_from, valid_to, version"),
    CatalogEntry: ("catalog-entry", "catalog_entries",
                   "resource_code, status, current_version, published_on, share_class, name, version"),
    InformationSystem: ("system", "systems", "name, state, live_since, version"),
}

LIMIT = 1000


def _kind(event: Any) -> tuple[str, str, str] | None:
    return next((f for cls, f in FACTS.items() if isinstance(event, cls.Event)), None)


def learned(tt: TimeTravel, before: Cut, after: Cut) -> tuple[list[tuple[int, Any]], bool]:
    """The events `after` rests on and `before` does not, in ledger order (at most LIMIT; True when cut short)."""
    wanted = {p for p in after.corrections if p not in before.corrections}
    out: list[tuple[int, Any]] = []
    start = before.position
    while start < after.position and len(out) <= LIMIT:
        page = tt.ledger.recorder.select_notifications(start=start, limit=tt.page_size, stop=after.position,
                                                        inclusive_of_start=False)
        if not page:
            break
        out += [(n.id, tt.ledger.mapper.to_domain_event(n)) for n in page if n.id not in before.corrections]
        start = page[-1].id
    out = [pe for pe in out if _kind(pe[1]) is not None]
    out += [(p, e) for p, e in tt.corrections_after(after) if p in wanted]
    out.sort(key=lambda pe: pe[0])
    return out[:LIMIT], len(out) > LIMIT


def describe(position: int, e: Any) -> dict[str, Any]:
    kind = _kind(e)
    assert kind is not None
    effective = effective_instant(e) if is_correction(e) else e.timestamp
    row: dict[str, Any] = {
        "position": position, "type": get_topic(type(e)).removeprefix("civic-ledger:"), "kind": kind[0],
        "id": str(e.originator_id), "version": e.originator_version,
        "recorded_at": e.timestamp.astimezone(UTC).isoformat(), "by": e.actor.person,
        "effective_at": effective.astimezone(UTC).isoformat() if effective else None,
        "correction": is_correction(e),
    }
    for name in ("reason", "corrects", "corrects_version"):
        if hasattr(e, name):
            row[name] = getattr(e, name)
    return row


def facts(db: Db, kind: tuple[str, str, str], oid: str) -> dict[str, Any] | None:
    _, table, columns = kind
    return db.query_one(f"SELECT {columns} FROM {table} WHERE id = ?", (oid,))


def changes(tt: TimeTravel, at: datetime, known_from: datetime, known_to: datetime) -> dict[str, Any]:
    """The answer's two cuts, what was learned between them, and each touched fact before and after."""
    before, after = tt.cut(at, known_from), tt.cut(at, known_to)
    events, truncated = learned(tt, before, after)
    old, new = tt.replica_for(before), tt.replica_for(after)
    touched: dict[str, tuple[str, str, str]] = {}
    for _, e in events:
        kind = _kind(e)
        if kind is not None:
            touched.setdefault(str(e.originator_id), kind)
    changed = []
    for oid, kind in touched.items():
        was, now = facts(old, kind, oid), facts(new, kind, oid)
        if was != now:
            changed.append({"kind": kind[0], "id": oid, "before": was, "after": now})
    return {"before": before, "after": after, "learned": [describe(p, e) for p, e in events],
            "changed": changed, "truncated": truncated}
