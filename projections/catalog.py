"""The current catalog and the open-data catalog (OPEN-1), as plain tables."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from datetime import UTC, date
from typing import Any

import msgspec

from domain.base import day_start
from domain.catalog import CatalogEntry
from domain.catalog_values import EntryContent, OpenClass, ReviewDecision
from infrastructure.sql import Tx
from projections.base import View, on

E = CatalogEntry
_enc = msgspec.json.Encoder()


def search_text(content: EntryContent, resource_code: str) -> str:
    parts = [resource_code, content.name, content.summary, content.category]
    parts += [f"{i.code} {i.name}" for i in content.data_items]
    return " ".join(parts).lower()


#: The events of a published entry every organization may see (as the feed's PUBLIC_CATALOG): the public
#: version and time of an entry move with these only, so a pending revision shows nowhere outside its provider.
PUBLIC_EVENTS = (E.Published, E.DataRefreshed, E.Retired)


class CatalogView(View):
    name = "catalog"
    version = 2  # 2: public_version / public_modified_at; last_updated from 00:00 Beijing of published_on
    tables = ("catalog_entries", "catalog_items", "open_catalog")

    def __init__(self) -> None:
        super().__init__()
        self._page: _Page | None = None

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
            "created_at TEXT NOT NULL, modified_at TEXT NOT NULL, position BIGINT NOT NULL, "
            # what other organizations see of a published entry: the version and time of its last public event
            "public_version INTEGER, public_modified_at TEXT)"
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

    # -- paging ------------------------------------------------------------------------------
    #
    # Within a page the view only records the events; `end_page` loads the rows of the entries it
    # has not seen in one query, applies the events to those rows in memory, and writes each table
    # with a handful of batched statements. The rows written are the ones the event-at-a-time
    # statements would leave behind.

    def begin_page(self, tx: Tx) -> None:
        self._page = _Page()

    @on(E.Drafted, E.DraftRevised, E.Submitted, E.Reviewed, E.DuplicateSourceAccepted,
        E.Published, E.RevisionStarted, E.DataRefreshed, E.Retired, E.EffectiveDateCorrected)
    def _record(self, tx: Tx, event: Any, position: int) -> None:
        """Every event joins the page; `_Page.apply` folds each into the rows it touches at the page's end."""
        if self._page is None:  # called outside a page: a page of one event
            self.begin_page(tx)
            assert self._page is not None
            self._page.events.append((event, position))
            self.end_page(tx)
        else:
            self._page.events.append((event, position))

    def end_page(self, tx: Tx) -> None:
        page, self._page = self._page, None
        if page is None or not page.events:
            return
        page.load(tx)
        for event, position in page.events:
            page.apply(event, position)
        page.write(tx)


class _Page:
    """The rows a page of events touches, kept in memory until they are written at its end."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, int]] = []
        self.drafted: set[str] = set()
        self.rows: dict[str, dict[str, Any]] = {}
        # (entry, published) -> what its catalog_items rows afterwards come from: (provider, content), or None
        # for no rows
        self.items: dict[str, dict[int, tuple[str, EntryContent] | None]] = {}
        # entry -> its open_catalog row afterwards (None: no row)
        self.open: dict[str, tuple[Any, ...] | None] = {}
        # entry -> the corrected effective date of its current version (open-catalog rows kept)
        self.open_dates: dict[str, str] = {}

    def load(self, tx: Tx) -> None:
        """Fetches, in one query per chunk, the rows of the entries this page does not draft."""
        self.drafted = drafted = {str(e.originator_id) for e, _ in self.events if isinstance(e, E.Drafted)}
        missing = list(dict.fromkeys(
            str(e.originator_id) for e, _ in self.events if str(e.originator_id) not in drafted
        ))
        for chunk in _chunks(missing):
            for row in tx.execute(f"SELECT * FROM catalog_entries WHERE id IN ({_marks(chunk)})", chunk).fetchall():
                self.rows[row["id"]] = row

    def apply(self, event: Any, position: int) -> None:
        eid = str(event.originator_id)
        ts = event.timestamp.astimezone(UTC).isoformat()
        if isinstance(event, E.Drafted):
            c = event.content
            self.rows[eid] = {
                "id": eid, "resource_code": event.resource_code, "provider": event.provider,
                "provider_level": str(event.provider_level), "status": "drafted", "name": c.name,
                "share_class": str(c.share_class), "open_class": str(c.open_class),
                "update_cycle": str(c.update_cycle), "current_version": None, "current_content": None,
                "published_on": None, "pending_version": 1, "pending_state": "drafted",
                "pending_content": c, "pending_compiler": event.actor.person, "pending_review": None,
                "accepted_duplicates": "{}", "last_updated": None,
                "search_text": None, _SUMMARY_OF: c, "version": event.originator_version,
                "created_at": ts, "modified_at": ts, "position": position,
                "public_version": None, "public_modified_at": None,
            }
            self._items(eid, event.provider, c, published=0)
            return
        row = self.rows.get(eid)
        assert row is not None, f"catalog view has no entry {eid}"
        changes: dict[str, Any] = {}
        if isinstance(event, E.DraftRevised):
            changes = {"pending_content": event.content, "pending_state": "drafted", "accepted_duplicates": "{}",
                       "pending_review": None}
            if row["current_version"] is None:
                changes[_SUMMARY_OF] = event.content
            self._items(eid, row["provider"], event.content, published=0)
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
            encoded = _json(c)
            changes = {
                "current_version": event.version, "current_content": encoded,
                "published_on": event.published_on.isoformat(), "pending_version": None, "pending_state": None,
                "pending_content": None, "pending_compiler": None, "pending_review": None,
                "accepted_duplicates": "{}", _SUMMARY_OF: c,
                # the effective publication date counts as an update (CAT-7); refreshes only move it forward
                "last_updated": max(filter(None, (row["last_updated"], _day_start(event.published_on)))),
            }
            self._items(eid, row["provider"], c, published=1)
            self.items[eid][0] = None
            self.open[eid] = None
            if c.open_class != OpenClass.CLOSED:
                self.open[eid] = (eid, row["resource_code"], c.name, row["provider"], str(c.open_class),
                                  c.open_conditions, str(c.update_cycle), event.published_on.isoformat(), encoded)
        elif isinstance(event, E.RevisionStarted):
            changes = {"pending_version": event.version, "pending_state": "drafted",
                       "pending_content": event.content, "pending_compiler": event.actor.person,
                       "pending_review": None, "accepted_duplicates": "{}"}
            self._items(eid, row["provider"], event.content, published=0)
        elif isinstance(event, E.DataRefreshed):
            last, as_of = row["last_updated"], event.as_of.astimezone(UTC).isoformat()
            changes = {"last_updated": max(last, as_of) if last else as_of}
        elif isinstance(event, E.EffectiveDateCorrected):
            if row["current_version"] == event.version:  # a superseded version's date shows in history only
                changes = {"published_on": event.effective_on.isoformat()}
                self.open_dates[eid] = event.effective_on.isoformat()
        elif isinstance(event, E.Retired):
            changes = {"pending_version": None, "pending_state": None, "pending_content": None,
                       "pending_review": None, "pending_compiler": None}
            self.items[eid] = {0: None, 1: None}
            self.open[eid] = None
        # the row is this page's own (drafted here or loaded by it): changed in place
        retired = isinstance(event, E.Retired) or row["status"] == "retired"
        row.update(changes)
        row["status"] = _status(row, retired=retired)
        row["version"], row["modified_at"], row["position"] = event.originator_version, ts, position
        if isinstance(event, PUBLIC_EVENTS) and row["current_version"] is not None:
            row["public_version"], row["public_modified_at"] = event.originator_version, ts

    def _items(self, eid: str, provider: str, content: EntryContent, *, published: int) -> None:
        # the rows are made at the write: a page that drafts, revises and publishes an entry makes them once
        self.items.setdefault(eid, {})[published] = (provider, content)

    def write(self, tx: Tx) -> None:
        """Upserts the touched entries and replaces their items and open-catalog rows."""
        # every row held was drafted or loaded for an event of this page, so every one has changed
        # a pending content is kept as the value until here: a page encodes only the last one of an entry;
        # an entry drafted in this page has no row yet: a plain INSERT (one COPY on PostgreSQL)
        # the summary columns of the content that last set them, worked out once here
        drafted = self.drafted
        new, old = [], []
        for eid, r in self.rows.items():
            c = r.pop(_SUMMARY_OF, None)
            if c is not None:
                r.update(_summary(c, r["resource_code"]))
            if isinstance(r["pending_content"], EntryContent):
                r["pending_content"] = _json(r["pending_content"])
            (new if eid in drafted else old).append(_row(r))
        tx.executemany(_INSERT, new)
        tx.executemany(_UPSERT, old)
        # an entry drafted in this page has no rows to replace yet
        whole = [eid for eid, sets in self.items.items() if len(sets) == 2 and eid not in drafted]
        for chunk in _chunks(whole):
            tx.execute(f"DELETE FROM catalog_items WHERE entry_id IN ({_marks(chunk)})", chunk)
        tx.executemany(
            "DELETE FROM catalog_items WHERE entry_id = ? AND published = ?",
            [(eid, p) for eid, sets in self.items.items() if len(sets) == 1 and eid not in drafted for p in sets],
        )
        tx.executemany(
            "INSERT INTO catalog_items (entry_id, code, name, provider, published) VALUES (?, ?, ?, ?, ?)",
            [(eid, i.code, i.name, provider, published) for eid, sets in self.items.items()
             for published, held in sets.items() if held for provider, content in (held,)
             for i in content.data_items],
        )
        for chunk in _chunks([eid for eid in self.open if eid not in drafted]):
            tx.execute(f"DELETE FROM open_catalog WHERE id IN ({_marks(chunk)})", chunk)
        tx.executemany(
            "INSERT INTO open_catalog (id, resource_code, name, provider, open_class, open_conditions, "
            "update_cycle, published_on, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [r for r in self.open.values() if r is not None],
        )
        tx.executemany("UPDATE open_catalog SET published_on = ? WHERE id = ?",
                       [(day, eid) for eid, day in self.open_dates.items()])


def _marks(values: Sequence[Any]) -> str:
    return ", ".join(["?"] * len(values))


_COLUMNS = (
    "id", "resource_code", "provider", "provider_level", "status", "name", "share_class", "open_class",
    "update_cycle", "current_version", "current_content", "published_on", "pending_version", "pending_state",
    "pending_content", "pending_compiler", "pending_review", "accepted_duplicates", "last_updated",
    "search_text", "version", "created_at", "modified_at", "position", "public_version", "public_modified_at",
)
_row = operator.itemgetter(*_COLUMNS)
_SUMMARY_OF = "_summary_of"  # a row's key (never a column): the content its summary columns come from
_INSERT = f"INSERT INTO catalog_entries ({', '.join(_COLUMNS)}) VALUES ({_marks(_COLUMNS)})"
_UPSERT = (
    f"INSERT INTO catalog_entries ({', '.join(_COLUMNS)}) VALUES ({_marks(_COLUMNS)}) "
    f"ON CONFLICT (id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in _COLUMNS[1:])}"
)
_CHUNK = 500


def _chunks(values: list[str]) -> list[list[str]]:
    return [values[i:i + _CHUNK] for i in range(0, len(values), _CHUNK)]


def _day_start(day: date) -> str:
    """00:00 of a publication date in the ledger's calendar (Beijing), as the UTC instant stored."""
    return day_start(day).astimezone(UTC).isoformat()


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
