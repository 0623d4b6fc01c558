"""The access log as rows (one per record) and daily counts per organization and entry, for the LOG-2 views."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

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
# PostgreSQL: the page's daily counts in one statement, as arrays (the page's keys are distinct, so no row is
# touched twice); the record sums go as decimal text, exact at any size.
UPSERT_DAILY_ARRAYS = (
    "INSERT INTO access_log_daily (day, org, side, entry_id, allowed, denied, records) "
    "SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::bigint[], ?::numeric[]) "
    "ON CONFLICT (day, org, side, entry_id) DO UPDATE SET allowed = access_log_daily.allowed + excluded.allowed, "
    "denied = access_log_daily.denied + excluded.denied, records = access_log_daily.records + excluded.records"
)
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
        tx.execute(
            "CREATE TABLE IF NOT EXISTS access_log_daily (day TEXT NOT NULL, org TEXT NOT NULL, side TEXT NOT NULL, "
            f"entry_id TEXT NOT NULL, allowed BIGINT NOT NULL, denied BIGINT NOT NULL, records {records} NOT NULL, "
            "PRIMARY KEY (day, org, side, entry_id))"
        )
        tx.execute("CREATE INDEX IF NOT EXISTS access_log_daily_org ON access_log_daily (org, day)")
        tx.execute(ARCHIVES_DDL)

    def begin_page(self, tx: Tx) -> None:
        self._rows.clear()
        self._daily.clear()
        self._archived_before = str(tx.scalar("SELECT MAX(before_at) FROM access_log_archives") or "")

    @on(AccessLogBatch.Recorded)
    def _recorded(self, tx: Tx, event: Any, position: int) -> None:
        batch, recorded = str(event.originator_id), instant(event.timestamp)
        for r in event.records:
            day, allowed = beijing_day(r.accessed_at), r.outcome == Outcome.ALLOWED
            for org, side in ((r.provider, "provider"), (r.holder, "holder")):
                counts = self._daily[(day, org, side, str(r.entry_id))]
                counts[0 if allowed else 1] += 1
                counts[2] += r.record_count
            row = row_of(r, batch, recorded, position)
            if row[1] >= self._archived_before:
                self._rows.append(row)

    def end_page(self, tx: Tx) -> None:
        if tx.dialect == "postgres" and self._rows:
            # COPY in the page's transaction: several times faster than an executemany of INSERTs.
            with tx.copy(f"COPY access_log ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in self._rows:
                    copy.write_row(row)
        else:
            tx.executemany(INSERT, self._rows)
        daily = sorted(self._daily.items())
        if tx.dialect == "postgres":
            if daily:
                columns = list(zip(*((*k, *v) for k, v in daily), strict=True))
                tx.execute(UPSERT_DAILY_ARRAYS, (*(list(c) for c in columns[:6]), [str(v) for v in columns[6]]))
        else:
            tx.executemany(PUT_DAILY, [(*k, *_add(_stored(tx, k), v)) for k, v in daily])
        self._rows.clear()
        self._daily.clear()


def _stored(tx: Tx, key: tuple[str, str, str, str]) -> tuple[int, int, int]:
    row = tx.execute("SELECT allowed, denied, records FROM access_log_daily WHERE day = ? AND org = ? AND side = ? "
                     "AND entry_id = ?", key).fetchone()
    return (0, 0, 0) if row is None else (int(row["allowed"]), int(row["denied"]), int(row["records"]))


def _add(stored: tuple[int, int, int], page: list[int]) -> tuple[int, int, str]:
    return stored[0] + page[0], stored[1] + page[1], str(stored[2] + page[2])
