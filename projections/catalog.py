"""The current catalog and the open-data catalog (OPEN-1), as plain tables."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import msgspec

from domain.catalog import CatalogEntry
from domain.catalog_values import EntryContent, OpenClass, ReviewDecision
from infrastructure.sql import Tx
from projections.base import View

E = CatalogEntry
_enc = msgspec.json.Encoder()


def search_text(content: EntryContent, resource_code: str) -> str:
    parts = [resource_code, content.name, content.summary, content.category]
    parts += [f"{i.code} {i.name}" for i in content.data_items]
    return " ".join(parts).lower()


class CatalogView(View):
    name = "catalog"
    version = 1
    tables = ("catalog_entries", "catalog_items", "open_catalog")
    handles = (
        E.Drafted, E.DraftRevised, E.Submitted, E.Reviewed, E.DuplicateSourceAccepted,
        E.Published, E.RevisionStarted, E.DataRefreshed, E.Retired,
    )

    def create(self, tx: Tx) -> None:
        tx.execute(
            "CREATE TABLE IF NOT EXISTS catalog_entries ("
            "id TEXT PRIMARY KEY, resource_code TEXT NOT NULL UNIQUE, provider TEXT NOT NULL, "
            "provider_level TEXT NOT NULL, status TEXT NOT NULL, name TEXT NOT NULL, "
            "share_class TEXT NOT NULL, open_class TEXT NOT NULL, update_cycle TEXT NOT NULL, "
            "current_version INTEGER, current_content TEXT, published_on TEXT, "
            "pending_version INTEGER, pending_state TEXT, pending_content TEXT, pending_compiler TEXT, "
            "pending_review TEXT, accepted_duplicates TEXT, "
            "last_updated TEXT, search_text TEXT NOT NULL, version INTEGER NOT NULL, "
            "created_at TEXT NOT NULL, modified_at TEXT NOT NULL, position BIGINT NOT NULL)"
        )
        tx.execute("CREATE INDEX IF NOT EXISTS catalog_entries_provider ON catalog_entries (provider, status)")
        tx.execute("CREATE INDEX IF NOT EXISTS catalog_entries_status ON catalog_entries (status, share_class)")
        tx.execute(
            "CREATE TABLE IF NOT EXISTS catalog_items ("
            "entry_id TEXT NOT NULL, code TEXT NOT NULL, name TEXT NOT NULL, provider TEXT NOT NULL, "
            "published INTEGER NOT NULL, PRIMARY KEY (entry_id, code, published))"
        )
        tx.execute("CREATE INDEX IF NOT EXISTS catalog_items_code ON catalog_items (code, published)")
        tx.execute(
            "CREATE TABLE IF NOT EXISTS open_catalog ("
            "id TEXT PRIMARY KEY, resource_code TEXT NOT NULL, name TEXT NOT NULL, provider TEXT NOT NULL, "
            "open_class TEXT NOT NULL, open_conditions TEXT, update_cycle TEXT NOT NULL, "
            "published_on TEXT NOT NULL, content TEXT NOT NULL)"
        )

    # -- event handlers ----------------------------------------------------------------------

    def apply(self, tx: Tx, event: Any, position: int) -> None:
        eid = str(event.originator_id)
        ts = event.timestamp.astimezone(UTC).isoformat()
        if isinstance(event, E.Drafted):
            c = event.content
            tx.execute(
                "INSERT INTO catalog_entries (id, resource_code, provider, provider_level, status, name, "
                "share_class, open_class, update_cycle, pending_version, pending_state, pending_content, "
                "pending_compiler, accepted_duplicates, search_text, version, created_at, modified_at, position) "
                "VALUES (?, ?, ?, ?, 'drafted', ?, ?, ?, ?, 1, 'drafted', ?, ?, '{}', ?, ?, ?, ?, ?)",
                (eid, event.resource_code, event.provider, str(event.provider_level), c.name,
                 str(c.share_class), str(c.open_class), str(c.update_cycle), _json(c),
                 event.actor.person, search_text(c, event.resource_code), event.originator_version, ts, ts, position),
            )
            self._items(tx, eid, event.provider, c, published=0)
            return
        row = tx.execute("SELECT * FROM catalog_entries WHERE id = ?", (eid,)).fetchone()
        assert row is not None, f"catalog view has no entry {eid}"
        changes: dict[str, Any] = {}
        if isinstance(event, E.DraftRevised):
            changes = {"pending_content": _json(event.content), "pending_state": "drafted", "accepted_duplicates": "{}",
                       "pending_review": None}
            if row["current_version"] is None:
                changes.update(_summary(event.content, row["resource_code"]))
            self._items(tx, eid, row["provider"], event.content, published=0)
        elif isinstance(event, E.Submitted):
            changes = {"pending_state": "submitted"}
        elif isinstance(event, E.Reviewed):
            state = "approved" if event.decision == ReviewDecision.APPROVE else "returned"
            changes = {"pending_state": state, "pending_review": _json({
                "review": event.review, "reviewer": event.actor.person, "decision": event.decision})}
        elif isinstance(event, E.DuplicateSourceAccepted):
            accepted = msgspec.json.decode(row["accepted_duplicates"] or "{}")
            accepted[event.item_code] = event.existing_source
            changes = {"accepted_duplicates": _json(accepted)}
        elif isinstance(event, E.Published):
            c = event.content
            changes = {
                "current_version": event.version, "current_content": _json(c),
                "published_on": event.published_on.isoformat(), "pending_version": None, "pending_state": None,
                "pending_content": None, "pending_compiler": None, "pending_review": None,
                "accepted_duplicates": "{}", **_summary(c, row["resource_code"]),
                # the effective publication date counts as an update (CAT-7); refreshes only move it forward
                "last_updated": max(filter(None, (row["last_updated"], _day_start(event.published_on)))),
            }
            self._items(tx, eid, row["provider"], c, published=1)
            tx.execute("DELETE FROM catalog_items WHERE entry_id = ? AND published = 0", (eid,))
            tx.execute("DELETE FROM open_catalog WHERE id = ?", (eid,))
            if c.open_class != OpenClass.CLOSED:
                tx.execute(
                    "INSERT INTO open_catalog VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (eid, row["resource_code"], c.name, row["provider"], str(c.open_class), c.open_conditions,
                     str(c.update_cycle), event.published_on.isoformat(), _json(c)),
                )
        elif isinstance(event, E.RevisionStarted):
            changes = {"pending_version": event.version, "pending_state": "drafted",
                       "pending_content": _json(event.content), "pending_compiler": event.actor.person,
                       "pending_review": None, "accepted_duplicates": "{}"}
            self._items(tx, eid, row["provider"], event.content, published=0)
        elif isinstance(event, E.DataRefreshed):
            last, as_of = row["last_updated"], event.as_of.astimezone(UTC).isoformat()
            changes = {"last_updated": max(last, as_of) if last else as_of}
        elif isinstance(event, E.Retired):
            changes = {"pending_version": None, "pending_state": None, "pending_content": None,
                       "pending_review": None, "pending_compiler": None}
            tx.execute("DELETE FROM catalog_items WHERE entry_id = ?", (eid,))
            tx.execute("DELETE FROM open_catalog WHERE id = ?", (eid,))
        merged = {**row, **changes}
        changes["status"] = _status(merged, retired=isinstance(event, E.Retired) or row["status"] == "retired")
        changes.update(version=event.originator_version, modified_at=ts, position=position)
        cols = ", ".join(f"{k} = ?" for k in changes)
        tx.execute(f"UPDATE catalog_entries SET {cols} WHERE id = ?", (*changes.values(), eid))

    def _items(self, tx: Tx, eid: str, provider: str, content: EntryContent, *, published: int) -> None:
        tx.execute("DELETE FROM catalog_items WHERE entry_id = ? AND published = ?", (eid, published))
        tx.executemany(
            "INSERT INTO catalog_items (entry_id, code, name, provider, published) VALUES (?, ?, ?, ?, ?)",
            [(eid, i.code, i.name, provider, published) for i in content.data_items],
        )


def _day_start(day: date) -> str:
    return datetime.combine(day, time(), tzinfo=UTC).isoformat()


def _json(value: Any) -> str:
    return _enc.encode(value).decode("utf-8")


def _summary(c: EntryContent, resource_code: str) -> dict[str, Any]:
    return {"name": c.name, "share_class": str(c.share_class), "open_class": str(c.open_class),
            "update_cycle": str(c.update_cycle), "search_text": search_text(c, resource_code)}


def _status(row: dict[str, Any], *, retired: bool) -> str:
    if retired:
        return "retired"
    if row["current_version"] is not None:
        return "published" if row["pending_version"] is None else "revising"
    return str(row["pending_state"])
