"""The access log as rows (one per record) and daily counts per organization and entry, for the LOG-2 views."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import msgspec

from domain.access_log import AccessLogBatch, AccessRecord, Outcome
from domain.base import BEIJING
from infrastructure.sql import Tx
from projections.base import View, on

_enc = msgspec.json.Encoder()

COLUMNS = (
    "request_id", "accessed_at", "holder", "provider", "entry_id", "grant_id", "fields", "purpose", "method",
    "record_count", "outcome", "reasons", "consumed_grant", "batch_id", "recorded_at", "position",
)

ARCHIVES_DDL = (
    "CREATE TABLE IF NOT EXISTS access_log_archives (id TEXT PRIMARY KEY, before_at TEXT NOT NULL, "
    "file TEXT NOT NULL, rows_moved BIGINT NOT NULL, sha256 TEXT NOT NULL, archived_at TEXT NOT NULL, "
    "archived_by TEXT NOT NULL)"
)


def instant(value: datetime) -> str:
    """A fixed-width UTC text (always microseconds), so text order is time order on both stores."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def beijing_day(value: datetime) -> str:
    return value.astimezone(BEIJING).date().isoformat()


def row_of(r: AccessRecord, batch_id: str, recorded_at: str, position: int) -> tuple[Any, ...]:
    return (
        r.request_id, instant(r.accessed_at), r.holder, r.provider, str(r.entry_id),
        str(r.grant_id) if r.grant_id else None, _enc.encode(r.fields).decode(), r.purpose, r.method,
        r.record_count, str(r.outcome), _enc.encode(r.reasons).decode(),
        str(r.consumed_grant) if r.consumed_grant else None, batch_id, recorded_at, position,
    )


INSERT = f"INSERT INTO access_log ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"
# The sum of record counts of a day can pass any 64-bit integer (each record may hold up to 2^63-1):
# PostgreSQL keeps it as NUMERIC, whose + is exact and unbounded; SQLite, whose integers stop at 2^63-1
# (and whose + past that turns into an inexact REAL), keeps it as decimal text summed in Python.
UPSERT_DAILY = (
    "INSERT INTO access_log_daily (day, org, side, entry_id, allowed, denied, records) VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (day, org, side, entry_id) DO UPDATE SET allowed = access_log_daily.allowed + excluded.allowed, "
    "denied = access_log_daily.denied + excluded.denied, records = access_log_daily.records + excluded.records"
)
# PostgreSQL: a page's records go to the server as one flat JSON array (every event's records encoded by
# msgspec in one call, as the events hold them) beside a small one of the events (batch id, time recorded,
# position and the slice of the records each holds), and one statement reads both with json_to_recordset and
# writes both tables, so no record becomes a view row in Python and there is no temporary table to fill and
# empty. The records are read once: nested in their events, the server parsed each event's records twice
# (the event, then its records) and a 1,000-record page cost it about 3 ms more. The records are matched to
# their event by their ordinal in the array (one event per ordinal of its slice: a hash join, linear in the
# page whatever the events' sizes). The server spells each time of access as `instant` does (fixed-width UTC
# text) and its Beijing day as `beijing_day` does; `fields` and `reasons` are kept as the JSON text the
# encoder wrote (the `json` type keeps its input as it is), which is the text `row_of` gives; it keeps the
# rows from the latest archive's cut-off on, as the SQLite path does. The daily counts of every record of the
# page come counted by the client, one small row per day, organization, side and entry (a page of 1,000 records
# names a few hundred): grouping the page's rows on the server cost it about 8 ms a page, more than the client
# spends counting them as it folds the page; the keys are distinct, so the upsert touches no row twice, and the
# sums of record counts travel as decimal text, as no 64-bit integer holds them all.
_RECORD_TYPES = (
    "request_id text, grant_id text, holder text, provider text, entry_id text, fields json, purpose text, "
    "method text, record_count bigint, accessed_at timestamptz, outcome text, reasons json, consumed_grant text"
)
_RECORD_NAMES = ", ".join(t.split()[0] for t in _RECORD_TYPES.split(", "))
_FROM_PAGE = (
    "WITH e AS (SELECT e.batch_id, e.recorded_at, e.position, generate_series(e.lo + 1, e.hi) AS n "
    "FROM json_to_recordset(?::json) AS e(batch_id text, recorded_at text, position bigint, lo bigint, hi bigint)), "
    "src AS (SELECT r.request_id, r.holder, r.provider, r.entry_id, r.grant_id, r.fields::text AS fields, "
    "r.purpose, r.method, r.record_count, r.outcome, coalesce(r.reasons::text, '[]') AS reasons, r.consumed_grant, "
    "e.batch_id, e.recorded_at, e.position, "
    "to_char(r.accessed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"') AS at_text "
    f"FROM ROWS FROM (json_to_recordset(?::json) AS ({_RECORD_TYPES})) WITH ORDINALITY AS r({_RECORD_NAMES}, n) "
    "JOIN e USING (n)), "
    f"kept AS (INSERT INTO access_log ({', '.join(COLUMNS)}) "
    "SELECT request_id, at_text, holder, provider, entry_id, grant_id, fields, purpose, method, record_count, "
    "outcome, reasons, consumed_grant, batch_id, recorded_at, position FROM src WHERE at_text COLLATE \"C\" >= ?) "
    "INSERT INTO access_log_daily (day, org, side, entry_id, allowed, denied, records) "
    "SELECT d.day, d.org, d.side, d.entry_id, d.allowed, d.denied, d.records::numeric "
    "FROM json_to_recordset(?::json) AS d(day text, org text, side text, entry_id text, allowed bigint, "
    "denied bigint, records text) ORDER BY 1, 2, 3, 4 "
    "ON CONFLICT (day, org, side, entry_id) DO UPDATE SET allowed = access_log_daily.allowed + excluded.allowed, "
    "denied = access_log_daily.denied + excluded.denied, records = access_log_daily.records + excluded.records"
)


class _PageEvent(msgspec.Struct, frozen=True):
    """One event of a page as `_FROM_PAGE` reads it: its records are the page's records `lo` to `hi`
    (0-based, `hi` excluded)."""

    batch_id: str
    recorded_at: str
    position: int
    lo: int
    hi: int


class _DailyRow(msgspec.Struct):
    """The counts of one day, organization, side and entry in a page, as `_FROM_PAGE` reads them."""

    day: str
    org: str
    side: str
    entry_id: str
    allowed: int
    denied: int
    records: str


_FLUSH_AT = 50_000  # records: a page of large batches is written in parts of about this many
PUT_DAILY = (
    "INSERT INTO access_log_daily (day, org, side, entry_id, allowed, denied, records) VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (day, org, side, entry_id) DO UPDATE SET allowed = excluded.allowed, denied = excluded.denied, "
    "records = excluded.records"
)


class AccessLogView(View):
    """Rows older than the latest archive's cut-off are not restored on a rebuild: the ledger keeps them."""

    name = "access_log"
    version = 2  # 2: access_log_daily.records cannot overflow (NUMERIC / decimal text)
    tables = ("access_log", "access_log_daily")
    time_travel = False  # state at a date covers catalog, grants and systems; the log is already dated
    max_page = 500  # an event holds up to 10,000 records: a rebuild's larger pages would hold millions in memory

    def __init__(self) -> None:
        super().__init__()
        self._rows: list[tuple[Any, ...]] = []
        self._page: list[_PageEvent] = []  # PostgreSQL
        self._page_parts: list[Sequence[AccessRecord]] = []  # the records of each event of `_page`
        self._page_records = 0
        # PostgreSQL: the page's counts by Beijing day, provider, holder and entry (allowed, denied, records)
        self._groups: dict[tuple[str, str, str, int], list[int]] = {}
        self._days: dict[tuple[date, bool], str] = {}  # the Beijing day of a UTC date's either side of 16:00
        self._daily: dict[tuple[str, str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
        self._archived_before = ""

    def create(self, tx: Tx) -> None:
        tx.execute(
            "CREATE TABLE IF NOT EXISTS access_log (request_id TEXT PRIMARY KEY, accessed_at TEXT NOT NULL, "
            "holder TEXT NOT NULL, provider TEXT NOT NULL, entry_id TEXT NOT NULL, grant_id TEXT, "
            "fields TEXT NOT NULL, purpose TEXT NOT NULL, method TEXT NOT NULL, record_count BIGINT NOT NULL, "
            "outcome TEXT NOT NULL, reasons TEXT NOT NULL, consumed_grant TEXT, batch_id TEXT NOT NULL, "
            "recorded_at TEXT NOT NULL, position BIGINT NOT NULL)"
        )
        for name, cols in (("provider", "provider, accessed_at, request_id"),
                           ("holder", "holder, accessed_at, request_id"),
                           ("entry", "entry_id, accessed_at, request_id"),
                           ("grant", "grant_id, accessed_at"),
                           ("time", "accessed_at, request_id")):
            tx.execute(f"CREATE INDEX IF NOT EXISTS access_log_{name} ON access_log ({cols})")
        records = "NUMERIC" if tx.dialect == "postgres" else "TEXT"
        # PostgreSQL: every page adds to a few hundred rows of the day; half of each page left free lets those
        # updates stay on their page (HOT: no index entry per update, as the counts are in no index)
        room = " WITH (fillfactor = 50)" if tx.dialect == "postgres" else ""
        tx.execute(
            "CREATE TABLE IF NOT EXISTS access_log_daily (day TEXT NOT NULL, org TEXT NOT NULL, side TEXT NOT NULL, "
            f"entry_id TEXT NOT NULL, allowed BIGINT NOT NULL, denied BIGINT NOT NULL, records {records} NOT NULL, "
            f"PRIMARY KEY (day, org, side, entry_id)){room}"
        )
        tx.execute("CREATE INDEX IF NOT EXISTS access_log_daily_org ON access_log_daily (org, day)")
        tx.execute(ARCHIVES_DDL)

    def begin_page(self, tx: Tx) -> None:
        self._rows.clear()
        self._page.clear()
        self._page_parts.clear()
        self._page_records = 0
        self._groups.clear()
        self._days.clear()
        self._daily.clear()
        self._archived_before = str(tx.scalar("SELECT MAX(before_at) FROM access_log_archives") or "")

    @on(AccessLogBatch.Recorded)
    def _recorded(self, tx: Tx, event: Any, position: int) -> None:
        batch, recorded = str(event.originator_id), instant(event.timestamp)
        if tx.dialect == "postgres":
            lo = self._page_records
            self._page_records += len(event.records)
            self._page.append(_PageEvent(batch, recorded, position, lo, self._page_records))
            self._page_parts.append(event.records)
            groups, days, allowed = self._groups, self._days, Outcome.ALLOWED
            for r in event.records:  # one key per record; the sides are counted apart when the page is written
                at = r.accessed_at
                if at.tzinfo is UTC:  # as decoded from "Z": its Beijing day is the next from 16:00 on
                    half = (at.date(), at.hour >= 16)
                    day = days.get(half)
                    if day is None:
                        day = days[half] = beijing_day(at)
                else:
                    day = beijing_day(at)
                key = (day, r.provider, r.holder, r.entry_id.int)  # an int hashes in C, a UUID in Python
                counts = groups.get(key)
                if counts is None:
                    counts = groups[key] = [0, 0, 0]
                counts[0 if r.outcome is allowed else 1] += 1
                counts[2] += r.record_count
            if self._page_records >= _FLUSH_AT:
                self._flush(tx)
            return
        for r in event.records:
            day, allowed = beijing_day(r.accessed_at), r.outcome == Outcome.ALLOWED
            for org, side in ((r.provider, "provider"), (r.holder, "holder")):
                counts = self._daily[(day, org, side, str(r.entry_id))]
                counts[0 if allowed else 1] += 1
                counts[2] += r.record_count
            row = row_of(r, batch, recorded, position)
            if row[1] >= self._archived_before:
                self._rows.append(row)

    def _flush(self, tx: Tx) -> None:
        if self._page:
            records = [r for part in self._page_parts for r in part]
            daily: dict[tuple[str, str, str, int], list[int]] = {}
            for (day, provider, holder, entry), (allowed, denied, count) in self._groups.items():
                for key in ((day, provider, "provider", entry), (day, holder, "holder", entry)):
                    sums = daily.get(key)
                    if sums is None:
                        daily[key] = [allowed, denied, count]
                    else:
                        sums[0] += allowed
                        sums[1] += denied
                        sums[2] += count
            rows = [_DailyRow(day, org, side, str(UUID(int=entry)), c[0], c[1], str(c[2]))
                    for (day, org, side, entry), c in daily.items()]
            tx.execute(_FROM_PAGE, (_enc.encode(self._page).decode(), _enc.encode(records).decode(),
                                    self._archived_before, _enc.encode(rows).decode()))
        self._page.clear()
        self._page_parts.clear()
        self._page_records = 0
        self._groups.clear()

    def end_page(self, tx: Tx) -> None:
        if tx.dialect == "postgres":
            self._flush(tx)
            return
        tx.executemany(INSERT, self._rows)
        daily = sorted(self._daily.items())
        tx.executemany(PUT_DAILY, [(*k, *_add(_stored(tx, k), v)) for k, v in daily])
        self._rows.clear()
        self._daily.clear()


def _stored(tx: Tx, key: tuple[str, str, str, str]) -> tuple[int, int, int]:
    row = tx.execute("SELECT allowed, denied, records FROM access_log_daily WHERE day = ? AND org = ? AND side = ? "
                     "AND entry_id = ?", key).fetchone()
    return (0, 0, 0) if row is None else (int(row["allowed"]), int(row["denied"]), int(row["records"]))


def _add(stored: tuple[int, int, int], page: list[int]) -> tuple[int, int, str]:
    return stored[0] + page[0], stored[1] + page[1], str(stored[2] + page[2])
