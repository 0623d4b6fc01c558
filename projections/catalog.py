"""The current catalog and the open-data catalog (OPEN-1), as plain tables."""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import msgspec
from eventsourcing.persistence import MapperDeserialisationError, Notification
from eventsourcing.utils import resolve_topic

from domain.base import day_start
from domain.catalog import CatalogEntry
from domain.catalog_values import EntryContent, OpenClass, ReviewDecision
from infrastructure.sql import Tx
from infrastructure.transcoding import MsgspecMapper, encode_state
from projections.base import View, on

E = CatalogEntry
_enc = msgspec.json.Encoder()


def search_text(content: EntryContent, resource_code: str) -> str:
    parts = [resource_code, content.name, content.summary, content.category]
    parts += [f"{i.code} {i.name}" for i in content.data_items]
    return " ".join(parts).lower()


def item_codes(content: Any) -> str:
    """The data item codes of a content as `catalog_items.codes` holds them: each between spaces."""
    return " " + " ".join([i.code for i in content.data_items]) + " "


def item_code_match(dialect: str, column: str = "codes") -> str:
    """A condition true when the item codes in `column` hold the code given as its parameter (`item_code_param`):
    a case-sensitive search for the code between spaces."""
    return f"instr({column}, ?) > 0" if dialect == "sqlite" else f"strpos({column}, ?) > 0"


def item_code_param(code: str) -> str:
    return f" {code} "


#: The events of a published entry every organization may see (as the feed's PUBLIC_CATALOG): the public
#: version and time of an entry move with these only, so a pending revision shows nowhere outside its provider.
PUBLIC_EVENTS = (E.Published, E.DataRefreshed, E.Retired)
_PUBLIC = frozenset(PUBLIC_EVENTS)


class CatalogView(View):
    name = "catalog"
    # 2: public_version / public_modified_at; last_updated from 00:00 Beijing of published_on
    # 3: catalog_items holds one row per entry and version (published or pending), its item codes in one column
    version = 3
    tables = ("catalog_entries", "catalog_items", "open_catalog")
    text_ids = True  # `decode` reads the entry's id as text only (str of a UUID is its text)

    def __init__(self) -> None:
        super().__init__()
        self._page: _Page | None = None
        self._classes: dict[str, tuple[type, int] | tuple[()]] = {}  # topic -> (class, its class_version)

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
        # The data item codes of an entry's published (1) and pending (0) version, one row each: `codes` holds
        # them as " A B C " (a code never holds a space), found with `item_code_match` (decision 0029).
        tx.execute(
            "CREATE TABLE IF NOT EXISTS catalog_items ("
            "entry_id TEXT NOT NULL, published INTEGER NOT NULL, provider TEXT NOT NULL, codes TEXT NOT NULL, "
            "PRIMARY KEY (entry_id, published))" + (" WITHOUT ROWID" if tx.dialect == "sqlite" else "")
        )
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
    #
    # The projector hands the view what `decode` makes of each stored event: only the fields the
    # view reads (`_Facts`), with each content kept as its stored JSON (the columns that hold a
    # content hold exactly that JSON, so it is never decoded into the domain's types and encoded
    # again), and parsed, leanly, only where the view needs its fields. A domain event given to
    # `apply` (a replica replayed for a date, a test) is brought to the same facts through its
    # stored form, so both take one path.

    def decode(self, notification: Notification, mapper: Any) -> Any:
        topic = notification.topic
        known = self._classes.get(topic)
        if known is None:
            cls = resolve_topic(topic)
            known = self._classes[topic] = (cls, getattr(cls, "class_version", 1)) if cls in self.handlers else ()
        if not known or not isinstance(mapper, MsgspecMapper):
            return mapper.to_domain_event(notification)
        try:
            facts = _FACTS.decode(mapper.plain_state(notification))
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as e:
            raise MapperDeserialisationError(
                f"Failed to decode stored event {topic} {notification.originator_id} "
                f"v{notification.originator_version}: {e}") from e
        if facts.class_version != known[1]:
            return mapper.to_domain_event(notification)  # an older shape: the domain's upcasts first
        return _Event(known[0], str(notification.originator_id), notification.originator_version, facts)

    def apply(self, tx: Tx, event: Any, position: int) -> None:
        if type(event) is _Event and self._page is not None:  # the projector's page: the usual case
            self._page.events.append((event, position))
        elif type(event) is _Event:
            self._record(tx, event, position)
        else:
            super().apply(tx, event, position)

    def begin_page(self, tx: Tx) -> None:
        self._page = _Page()

    @on(E.Drafted, E.DraftRevised, E.Submitted, E.Reviewed, E.DuplicateSourceAccepted,
        E.Published, E.RevisionStarted, E.DataRefreshed, E.Retired, E.EffectiveDateCorrected)
    def _record(self, tx: Tx, event: Any, position: int) -> None:
        """Every event joins the page; `_Page.apply` folds each into the rows it touches at the page's end."""
        if type(event) is not _Event:  # a domain event: its facts, from its stored form
            event = _Event(type(event), str(event.originator_id), event.originator_version,
                           _FACTS.decode(encode_state(event)))
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
        apply = page.apply
        for event, position in page.events:
            apply(event, position)
        page.write(tx)


class _Who(msgspec.Struct):
    person: str


class _Item(msgspec.Struct):
    code: str
    name: str


class _Content(msgspec.Struct):
    """The fields of an `EntryContent` the view's columns come from (the rest is skipped when parsing)."""

    name: str
    summary: str
    category: str
    data_items: tuple[_Item, ...]
    share_class: str
    open_class: str
    update_cycle: str
    open_conditions: str | None = None


class _Facts(msgspec.Struct):
    """The fields of any catalog event the view reads; an event's others are skipped when decoding."""

    timestamp: datetime
    actor: _Who
    class_version: int = 1
    resource_code: str = ""
    provider: str = ""
    provider_level: str = ""
    version: int = 0
    content: msgspec.Raw = msgspec.Raw()
    published_on: date | None = None
    review: msgspec.Raw = msgspec.Raw()
    decision: str = ""
    item_code: str = ""
    existing_source: str = ""
    as_of: datetime | None = None
    effective_on: date | None = None


_FACTS = msgspec.json.Decoder(_Facts)
_CONTENT = msgspec.json.Decoder(_Content)


class _Event:
    """One catalog event as the view folds it: its class, entry, version and facts."""

    __slots__ = ("cls", "eid", "seq", "facts")

    def __init__(self, cls: type, eid: str, seq: int, facts: _Facts) -> None:
        self.cls, self.eid, self.seq, self.facts = cls, eid, seq, facts

    @property
    def event_class(self) -> type:
        return self.cls


class _Text:
    """A content as stored (its JSON), parsed into `_Content` only when its fields are needed."""

    __slots__ = ("raw", "_parsed")

    def __init__(self, raw: msgspec.Raw) -> None:
        self.raw = raw
        self._parsed: _Content | None = None

    @property
    def parsed(self) -> _Content:
        if self._parsed is None:
            self._parsed = _CONTENT.decode(self.raw)
        return self._parsed

    def json(self) -> str:
        return bytes(self.raw).decode("utf-8")


class _Page:
    """The rows a page of events touches, kept in memory until they are written at its end."""

    def __init__(self) -> None:
        self.events: list[tuple[_Event, int]] = []
        self.drafted: set[str] = set()
        self.rows: dict[str, dict[str, Any]] = {}
        # (entry, published) -> what its catalog_items rows afterwards come from: (provider, content), or None
        # for no rows
        self.items: dict[str, dict[int, tuple[str, _Text] | None]] = {}
        # entry -> its open_catalog row afterwards (None: no row)
        self.open: dict[str, tuple[Any, ...] | None] = {}
        # entry -> the corrected effective date of its current version (open-catalog rows kept)
        self.open_dates: dict[str, str] = {}

    def load(self, tx: Tx) -> None:
        """Fetches, in one query per chunk, the rows of the entries this page does not draft."""
        drafted_cls = E.Drafted
        self.drafted = drafted = {e.eid for e, _ in self.events if e.cls is drafted_cls}
        missing = list(dict.fromkeys(e.eid for e, _ in self.events if e.eid not in drafted))
        for chunk in _chunks(missing):
            for row in tx.execute(f"SELECT * FROM catalog_entries WHERE id IN ({_marks(chunk)})", chunk).fetchall():
                self.rows[row["id"]] = row

    def apply(self, event: _Event, position: int) -> None:
        cls, eid, f = event.cls, event.eid, event.facts
        ts = f.timestamp  # an instant until the write, which prints only the last one of each column (`_INSTANTS`)
        if cls is E.Drafted:
            c = _Text(f.content)
            self.rows[eid] = {
                "id": eid, "resource_code": f.resource_code, "provider": f.provider,
                "provider_level": f.provider_level, "status": "drafted", "name": None,
                "share_class": None, "open_class": None,
                "update_cycle": None, "current_version": None, "current_content": None,
                "published_on": None, "pending_version": 1, "pending_state": "drafted",
                "pending_content": c, "pending_compiler": f.actor.person, "pending_review": None,
                "accepted_duplicates": "{}", "last_updated": None,
                "search_text": None, _SUMMARY_OF: c, "version": event.seq,
                "created_at": ts, "modified_at": ts, "position": position,
                "public_version": None, "public_modified_at": None,
            }
            self._items(eid, f.provider, c, published=0)
            return
        row = self.rows.get(eid)
        assert row is not None, f"catalog view has no entry {eid}"
        if cls is E.DraftRevised:
            c = _Text(f.content)
            row["pending_content"], row["pending_state"], row["accepted_duplicates"] = c, "drafted", "{}"
            row["pending_review"] = None
            if row["current_version"] is None:
                row[_SUMMARY_OF] = c
            self._items(eid, row["provider"], c, published=0)
        elif cls is E.Submitted:
            row["pending_state"] = "submitted"
        elif cls is E.Reviewed:
            row["pending_state"] = "approved" if f.decision == ReviewDecision.APPROVE else "returned"
            row["pending_review"] = _json({"review": f.review, "reviewer": f.actor.person, "decision": f.decision})
        elif cls is E.Published:
            c = _Text(f.content)
            published_on = f.published_on
            assert published_on is not None
            encoded, content = c.json(), c.parsed
            row.update({
                "current_version": f.version, "current_content": encoded,
                "published_on": published_on.isoformat(), "pending_version": None, "pending_state": None,
                "pending_content": None, "pending_compiler": None, "pending_review": None,
                "accepted_duplicates": "{}", _SUMMARY_OF: c,
                # the effective publication date counts as an update (CAT-7); refreshes only move it forward
                "last_updated": max(filter(None, (row["last_updated"], _day_start(published_on)))),
            })
            self._items(eid, row["provider"], c, published=1)
            self.items[eid][0] = None
            self.open[eid] = None
            if content.open_class != OpenClass.CLOSED:
                self.open[eid] = (eid, row["resource_code"], content.name, row["provider"], content.open_class,
                                  content.open_conditions, content.update_cycle, published_on.isoformat(), encoded)
        elif cls is E.DuplicateSourceAccepted:
            accepted = msgspec.json.decode(row["accepted_duplicates"] or "{}")
            accepted[f.item_code] = f.existing_source
            row["accepted_duplicates"] = _json(accepted)
        elif cls is E.RevisionStarted:
            c = _Text(f.content)
            row.update({"pending_version": f.version, "pending_state": "drafted", "pending_content": c,
                        "pending_compiler": f.actor.person, "pending_review": None, "accepted_duplicates": "{}"})
            self._items(eid, row["provider"], c, published=0)
        elif cls is E.DataRefreshed:
            assert f.as_of is not None
            last, as_of = row["last_updated"], f.as_of.astimezone(UTC).isoformat()
            row["last_updated"] = max(last, as_of) if last else as_of
        elif cls is E.EffectiveDateCorrected:
            assert f.effective_on is not None
            if row["current_version"] == f.version:  # a superseded version's date shows in history only
                row["published_on"] = self.open_dates[eid] = f.effective_on.isoformat()
        elif cls is E.Retired:
            row.update({"pending_version": None, "pending_state": None, "pending_content": None,
                        "pending_review": None, "pending_compiler": None})
            self.items[eid] = {0: None, 1: None}
            self.open[eid] = None
        # the row is this page's own (drafted here or loaded by it): changed in place
        retired = cls is E.Retired or row["status"] == "retired"
        row["status"] = _status(row, retired=retired)
        row["version"], row["modified_at"], row["position"] = event.seq, ts, position
        if cls in _PUBLIC and row["current_version"] is not None:
            row["public_version"], row["public_modified_at"] = event.seq, ts

    def _items(self, eid: str, provider: str, content: _Text, *, published: int) -> None:
        # the rows are made at the write: a page that drafts, revises and publishes an entry makes them once
        self.items.setdefault(eid, {})[published] = (provider, content)

    def write(self, tx: Tx) -> None:
        """Upserts the touched entries and replaces their items and open-catalog rows."""
        # every row held was drafted or loaded for an event of this page, so every one has changed
        # a pending content is kept as its stored JSON until here: a page writes only the last one of an entry;
        # an entry drafted in this page has no row yet: a plain INSERT (one COPY on PostgreSQL)
        # the summary columns of the content that last set them, worked out once here
        drafted = self.drafted
        new, old = [], []
        for eid, r in self.rows.items():
            for column in _INSTANTS:
                value = r[column]
                if type(value) is datetime:
                    r[column] = value.astimezone(UTC).isoformat()
            c = r.pop(_SUMMARY_OF, None)
            if c is not None:
                r.update(_summary(c.parsed, r["resource_code"]))
            pending = r["pending_content"]
            if type(pending) is _Text:
                r["pending_content"] = pending.json()
            (new if eid in drafted else old).append(_row(r))
        # every value written is already of its column's type (text as `str`, integers as `int`, or None):
        # on PostgreSQL the rows go as binary COPY, which the server stores without parsing them
        tx.executemany(_INSERT, new, binary=True)
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
            "INSERT INTO catalog_items (entry_id, published, provider, codes) VALUES (?, ?, ?, ?)",
            [(eid, published, held[0], item_codes(held[1].parsed)) for eid, sets in self.items.items()
             for published, held in sets.items() if held], binary=True,
        )
        for chunk in _chunks([eid for eid in self.open if eid not in drafted]):
            tx.execute(f"DELETE FROM open_catalog WHERE id IN ({_marks(chunk)})", chunk)
        tx.executemany(
            "INSERT INTO open_catalog (id, resource_code, name, provider, open_class, open_conditions, "
            "update_cycle, published_on, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [r for r in self.open.values() if r is not None], binary=True,
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
#: the columns a page's fold sets to an event's instant (a `datetime`), printed as UTC text when the row is written
_INSTANTS = ("created_at", "modified_at", "public_modified_at")
_SUMMARY_OF = "_summary_of"  # a row's key (never a column): the content its summary columns come from
_INSERT = f"INSERT INTO catalog_entries ({', '.join(_COLUMNS)}) VALUES ({_marks(_COLUMNS)})"
_UPSERT = (
    f"INSERT INTO catalog_entries ({', '.join(_COLUMNS)}) VALUES ({_marks(_COLUMNS)}) "
    f"ON CONFLICT (id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in _COLUMNS[1:])}"
)
_CHUNK = 500


def _chunks(values: list[str]) -> list[list[str]]:
    return [values[i:i + _CHUNK] for i in range(0, len(values), _CHUNK)]


@functools.lru_cache(maxsize=1024)  # a page publishes many entries on few days
def _day_start(day: date) -> str:
    """00:00 of a publication date in the ledger's calendar (Beijing), as the UTC instant stored."""
    return day_start(day).astimezone(UTC).isoformat()


def _json(value: Any) -> str:
    return _enc.encode(value).decode("utf-8")


def _summary(c: Any, resource_code: str) -> dict[str, Any]:
    return {"name": c.name, "share_class": str(c.share_class), "open_class": str(c.open_class),
            "update_cycle": str(c.update_cycle), "search_text": search_text(c, resource_code)}


def _status(row: dict[str, Any], *, retired: bool) -> str:
    if retired:
        return "retired"
    if row["current_version"] is not None:
        return "published" if row["pending_version"] is None else "revising"
    return str(row["pending_state"])
