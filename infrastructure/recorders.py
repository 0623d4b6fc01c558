"""Application recorders that write the idempotency record in the transaction of the events, and that
load an aggregate only from events the hash chain covers.

A retried command must record nothing twice: the key, the request's fingerprint and the first
answer are committed with the events they caused, or not at all.

Loading an aggregate (`select_events`, behind `repository.get`) also reads the aggregate's records of
the hash chain (`ledger_chain`, kept by the projector) and refuses, with `LedgerTampered`, any stored
event that `civic-ledger verify` would report: one at a position below 1, one at or before the chain's
head that was never chained, one whose bytes, position or identity differ from its chain record, or a
chained event that is no longer stored. Events after the chain's head (the projector's lag, normally
well under a second) are not chained yet and are loaded. The check costs one indexed query and one
hash per event loaded (SHA-256 or SM3, by the ledger's crypto profile).

On PostgreSQL the events are inserted without psycopg's pipeline mode (see `LedgerPostgresRecorder`).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

import msgspec
import psycopg
import psycopg.errors
from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor
from eventsourcing.utils import retry
from psycopg.sql import SQL, Identifier

from infrastructure.sql import Tx
from infrastructure.verifier import INTL, Suite, canonical_bytes

log = logging.getLogger(__name__)


class IdempotencyRecord(msgspec.Struct, frozen=True):
    scope: str
    key: str
    fingerprint: str
    status: int
    body: bytes
    created_at: str


IDEMPOTENCY_DDL = (
    "CREATE TABLE IF NOT EXISTS idempotency_keys ("
    "scope TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL, status INTEGER NOT NULL, "
    "body TEXT NOT NULL, last_event TEXT, created_at TEXT NOT NULL, PRIMARY KEY (scope, key))"
)
_INSERT_SQLITE = "INSERT INTO idempotency_keys VALUES (?, ?, ?, ?, ?, ?, ?)"
_INSERT_PG = "INSERT INTO idempotency_keys VALUES (%s, %s, %s, %s, %s, %s, %s)"

# Keys that may be stored once ever within a scope (e.g. the platform's request ids of access logs),
# written with the events so a duplicate rolls the whole save back.
UNIQUE_KEYS_DDL = (
    "CREATE TABLE IF NOT EXISTS ledger_unique_keys (scope TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (scope, key))"
)
_UNIQUE_SQLITE = "INSERT INTO ledger_unique_keys (scope, key) VALUES (?, ?)"
# The keys go as a binary array: psycopg quotes every element of a text array with a regular expression,
# a large share of saving a batch of 1,000 access records.
_UNIQUE_PG = "INSERT INTO ledger_unique_keys (scope, key) SELECT %s, unnest(%b::text[])"


def _params(record: IdempotencyRecord, stored_events: Sequence[StoredEvent]) -> tuple[Any, ...]:
    last = stored_events[-1] if stored_events else None
    last_event = f"{last.originator_id}:{last.originator_version}" if last else None
    return (
        record.scope, record.key, record.fingerprint, record.status,
        record.body.decode("utf-8"), last_event, record.created_at,
    )


class LedgerTampered(Exception):
    """An aggregate's stored events include a row the hash chain does not cover: it is not loaded."""

    def __init__(self, kind: str, position: int, originator_id: UUID | str, originator_version: int,
                 detail: str) -> None:
        self.kind, self.position, self.detail = kind, position, detail
        self.originator_id, self.originator_version = str(originator_id), originator_version
        super().__init__(f"the stored events of {originator_id} include a row the ledger's hash chain does not "
                         f"cover ({kind} at position {position}, version {originator_version}: {detail}); the "
                         "object is not loaded — run `civic-ledger verify`")


# The aggregate's chain records, with the chain's head read in the same statement (one snapshot). The
# head is read before the events are, so an event at or before it is chained already, or never was.
_CHAIN_SQL = ("SELECT h.head, c.position, c.originator_version, c.hash, c.prev_hash "
              "FROM (SELECT MAX(position) AS head FROM ledger_chain) AS h "
              "LEFT JOIN ledger_chain AS c ON c.originator_id = {p}")


def chain_records(cursor: Any, dialect: str, originator_id: UUID, gt: int | None = None,
                  lte: int | None = None) -> list[tuple[Any, ...]] | None:
    """The aggregate's chain records (versions in (gt, lte]) with the chain's head, or None when there is no
    chain table yet. `cursor` runs one statement outside any explicit transaction on PostgreSQL."""
    ph = "?" if dialect == "sqlite" else "%s"
    sql, params = _CHAIN_SQL.format(p=ph), [originator_id.hex]
    if gt is not None:
        sql += f" AND c.originator_version > {ph}"
        params.append(gt)  # type: ignore[arg-type]
    if lte is not None:
        sql += f" AND c.originator_version <= {ph}"
        params.append(lte)  # type: ignore[arg-type]
    try:
        if dialect == "sqlite":
            cursor.execute(sql, params)
        else:
            cursor.execute(SQL(sql), params, prepare=True)  # type: ignore[arg-type]
        rows = cursor.fetchall()
    except psycopg.errors.UndefinedTable:  # the projector never set the chain up
        return None
    except sqlite3.OperationalError as e:
        if "no such table" not in str(e):
            raise
        return None
    return [(r["head"], r["position"], r["originator_version"], r["hash"], r["prev_hash"]) for r in rows]


def check_chained(originator_id: UUID, rows: Sequence[tuple[int, StoredEvent]],
                  chain: Sequence[Sequence[Any]] | None, *, complete: bool, hashes: Suite = INTL) -> None:
    """Raises `LedgerTampered` unless every stored row is one the chain covers (or is after its head), and, when
    `rows` are all the events asked for (`complete`), every chained event of the range is among them.
    `chain` is the rows of `_CHAIN_SQL` (None: no chain table yet, so only positions are checked); `hashes` is
    the ledger's crypto profile's suite."""
    head = 0
    chained: dict[int, tuple[int, bytes, bytes]] = {}
    for head_, position, version, h, prev in chain or ():
        head = int(head_ or 0)
        if position is not None:
            chained[int(version)] = (int(position), bytes(h), bytes(prev))
    for position, s in rows:
        v = s.originator_version
        if position < 1:
            raise LedgerTampered("inserted", position, originator_id, v,
                                 "stored at a position no event of the ledger ever takes (they start at 1)")
        record = chained.pop(v, None)
        if record is None:
            if position <= head:
                raise LedgerTampered("inserted", position, originator_id, v,
                                     f"stored inside the chain (head {head}) but never chained")
            continue  # recorded after the chain's head: not chained yet
        at, h, prev = record
        if at != position:
            raise LedgerTampered("reordered", position, originator_id, v, f"chained at position {at}")
        if hashes.chain_hash(prev, canonical_bytes(position, originator_id, v, s.topic, bytes(s.state))) != h:
            raise LedgerTampered("altered", position, originator_id, v,
                                 "its stored bytes differ from the bytes chained here")
    if complete and chained:
        v, (at, _, _) = min(chained.items())
        raise LedgerTampered("missing", at, originator_id, v, "chained, but no longer in the store")


def _events_sql(base: str, placeholder: str, gt: int | None, lte: int | None, desc: bool,
                limit: int | None) -> tuple[str, list[int]]:
    params: list[int] = []
    if gt is not None:
        base += f" AND originator_version > {placeholder}"
        params.append(gt)
    if lte is not None:
        base += f" AND originator_version <= {placeholder}"
        params.append(lte)
    base += " ORDER BY originator_version" + (" DESC" if desc else " ASC")
    if limit is not None:
        base += f" LIMIT {placeholder}"
        params.append(limit)
    return base, params


AfterInsert = Callable[[Tx, Sequence[int]], None]
"""`then=` of a save: called inside the save's transaction, after its events are inserted, with the
transaction and their positions (in the order of the events); whatever it writes commits or rolls back
with the events."""


def _then(kwargs: dict[str, Any], tx: Tx, ids: Sequence[int] | None) -> None:
    then: AfterInsert | None = kwargs.get("then")
    if then is not None and ids:
        then(tx, ids)


class LedgerSQLiteRecorder(SQLiteApplicationRecorder):
    hashes: Suite = INTL
    """The hash of the ledger's crypto profile, set by the ledger when it settles its profile."""

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), IDEMPOTENCY_DDL, UNIQUE_KEYS_DDL]

    def _insert_events(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        record: IdempotencyRecord | None = kwargs.get("idempotency")
        if record is not None:
            c.execute(_INSERT_SQLITE, _params(record, stored_events))
        unique: tuple[str, Sequence[str]] | None = kwargs.get("unique_keys")
        if unique is not None:
            c.executemany(_UNIQUE_SQLITE, [(unique[0], k) for k in unique[1]])
        _then(kwargs, Tx(c, "sqlite"), ids)
        return ids

    def select_events(self, originator_id: UUID | str, *, gt: int | None = None, lte: int | None = None,
                      desc: bool = False, limit: int | None = None) -> Sequence[StoredEvent]:
        oid = originator_id if isinstance(originator_id, UUID) else UUID(str(originator_id))
        events_sql, params = _events_sql(
            f"SELECT rowid, originator_id, originator_version, topic, state FROM {self.events_table_name} "
            "WHERE originator_id = ?", "?", gt, lte, desc, limit)
        with self.datastore.transaction(commit=False) as c:
            chain = chain_records(c, "sqlite", oid, gt, lte)
            c.execute(events_sql, [oid.hex, *params])
            rows = [(int(r["rowid"]), StoredEvent(originator_id=oid, originator_version=r["originator_version"],
                                                  topic=r["topic"], state=r["state"])) for r in c.fetchall()]
        check_chained(oid, rows, chain, complete=limit is None, hashes=self.hashes)
        return [s for _, s in rows]


class StoreBusy(OperationalError):
    """The store did not let a write through in bounded time (a lock or statement timeout): retry later."""


# Errors after which the same insert may simply be tried again: the connection broke before the
# transaction committed. A timeout is not one of them (waiting again would only double the wait).
_RETRIES, _RETRY_WAIT = 3, 0.2


def _timed_out(error: BaseException) -> bool:
    cause = error.__cause__
    return isinstance(cause, (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled))


class LedgerPostgresRecorder(PostgresApplicationRecorder):
    """Inserts events with one statement at a time instead of the library's pipeline.

    psycopg 3.3's pipeline stops flushing once its command queue is empty, then waits for results:
    a parameter bigger than the socket's send buffer (an event of a few MiB) is left half sent,
    the server waits for the rest while holding the events table's EXCLUSIVE lock, and every other
    writer queues behind it for ever. Sent outside a pipeline, psycopg flushes until libpq's buffer
    is empty, whatever its size. The statements are the library's own, in its order.
    """

    hashes: Suite = INTL
    """The hash of the ledger's crypto profile, set by the ledger when it settles its profile."""

    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.sql_create_statements.append(SQL(IDEMPOTENCY_DDL))  # type: ignore[arg-type]
        self.sql_create_statements.append(SQL(UNIQUE_KEYS_DDL))  # type: ignore[arg-type]
        # The library's statement, with the events as a binary array of its composite type: as text, psycopg
        # quotes every event's state (hex, then escaped again inside the composite): for one batch of
        # 1,000 access records, about a quarter of the save.
        self.insert_events_statement = SQL(
            "    INSERT INTO {schema}.{table} AS t ("
            "    originator_id, originator_version, topic, state)"
            "    SELECT originator_id, originator_version, topic, state"
            "    FROM unnest(%b::{schema}.{stored_event_type}[])"
            " RETURNING notification_id"
        ).format(schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name),
                 stored_event_type=Identifier(self.stored_event_type_name))

    def _create_table(self, curs: Any) -> None:
        """The library's tables, and on a new events table the states compressed with LZ4 where the server has it
        (decision 0027): PostgreSQL compresses a row's state above about 2 KB, by default with pglz, whose
        decompression was most of the server's work per event in `verify`. A table that exists is left as it is
        (its rows keep their compression, and a change would lock the table against every other process)."""
        curs.execute("SELECT to_regclass(%s) IS NULL AS new, EXISTS (SELECT FROM pg_settings WHERE name = "
                     "'default_toast_compression' AND 'lz4' = ANY(enumvals)) AS lz4",
                     [f'"{self.datastore.schema}"."{self.events_table_name}"'])
        created = curs.fetchone()
        super()._create_table(curs)
        if created is not None and created["new"] and created["lz4"]:
            curs.execute(SQL("ALTER TABLE {}.{} ALTER COLUMN state SET COMPRESSION lz4").format(
                Identifier(self.datastore.schema), Identifier(self.events_table_name)))

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        attempt = 0
        while True:
            try:
                return self._insert_once(stored_events, **kwargs)
            except (InterfaceError, OperationalError) as e:
                if _timed_out(e):
                    raise StoreBusy(str(e)) from e
                attempt += 1
                if attempt >= _RETRIES:
                    raise
                time.sleep(_RETRY_WAIT * attempt)

    def _insert_once(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            self._insert_events(curs, stored_events, **kwargs)
            if not stored_events:
                return None
            self._insert_stored_events(curs, stored_events, **kwargs)
            ids = self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
            _then(kwargs, Tx(curs, "postgres"), ids)
            return ids

    def _insert_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        record: IdempotencyRecord | None = kwargs.get("idempotency")
        if record is not None:
            curs.execute(_INSERT_PG, _params(record, stored_events))
        unique: tuple[str, Sequence[str]] | None = kwargs.get("unique_keys")
        if unique is not None:
            curs.execute(_UNIQUE_PG, (unique[0], list(unique[1])))

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)  # as the library's own select_events
    def select_events(self, originator_id: UUID | str, *, gt: int | None = None, lte: int | None = None,
                      desc: bool = False, limit: int | None = None) -> Sequence[StoredEvent]:
        oid = originator_id if isinstance(originator_id, UUID) else UUID(str(originator_id))
        table = SQL("{}.{}").format(Identifier(self.datastore.schema), Identifier(self.events_table_name))
        events_sql, params = _events_sql(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {table} "
            "WHERE originator_id = %s", "%s", gt, lte, desc, limit)
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            chain = chain_records(curs, "postgres", oid, gt, lte)
            curs.execute(SQL(events_sql).format(table=table), [oid, *params], prepare=True)  # type: ignore[arg-type]
            rows = [(int(r["notification_id"]), StoredEvent(
                originator_id=r["originator_id"], originator_version=r["originator_version"], topic=r["topic"],
                state=bytes(r["state"]))) for r in curs.fetchall()]
        check_chained(oid, rows, chain, complete=limit is None, hashes=self.hashes)
        return [s for _, s in rows]


# -- reads of the idempotency and unique-key tables, by the question they answer -------------------


def idempotent_answer(db: Any, scope: str, key: str | None) -> dict[str, Any] | None:
    """The first answer kept under this idempotency key in this scope (`fingerprint`, `status`, `body`,
    `last_event`), or None when the key was never used there."""
    return db.query_one(
        "SELECT fingerprint, status, body, last_event FROM idempotency_keys WHERE scope = ? AND key = ?",
        (scope, key),
    )


def stored_unique_keys(db: Any, scope: str, keys: Sequence[str]) -> set[str]:
    """Which of these keys are already stored once-ever in this scope (one binary array on PostgreSQL,
    lists of 500 on SQLite)."""
    if db.dialect == "postgres":
        with db.datastore.get_connection() as conn:
            rows = conn.execute("SELECT key FROM ledger_unique_keys WHERE scope = %s AND key = ANY(%b::text[])",
                                (scope, list(keys))).fetchall()
        return {str(r["key"]) for r in rows}
    out: set[str] = set()
    for i in range(0, len(keys), 500):
        part = keys[i:i + 500]
        marks = ", ".join("?" for _ in part)
        found = db.query(f"SELECT key FROM ledger_unique_keys WHERE scope = ? AND key IN ({marks})", (scope, *part))
        out.update(str(r["key"]) for r in found)
    return out
