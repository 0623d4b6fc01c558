"""Application recorders that also write the idempotency record in the transaction of the events.

A retried command must record nothing twice: the key, the request's fingerprint and the first
answer are committed with the events they caused, or not at all.

On PostgreSQL the events are inserted without psycopg's pipeline mode (see `LedgerPostgresRecorder`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import msgspec
import psycopg.errors
from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor
from psycopg.sql import SQL


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
_UNIQUE_PG = "INSERT INTO ledger_unique_keys (scope, key) SELECT %s, unnest(%s::text[])"


def _params(record: IdempotencyRecord, stored_events: Sequence[StoredEvent]) -> tuple[Any, ...]:
    last = stored_events[-1] if stored_events else None
    last_event = f"{last.originator_id}:{last.originator_version}" if last else None
    return (
        record.scope, record.key, record.fingerprint, record.status,
        record.body.decode("utf-8"), last_event, record.created_at,
    )


class LedgerSQLiteRecorder(SQLiteApplicationRecorder):
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
        return ids


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

    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.sql_create_statements.append(SQL(IDEMPOTENCY_DDL))  # type: ignore[arg-type]
        self.sql_create_statements.append(SQL(UNIQUE_KEYS_DDL))  # type: ignore[arg-type]

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
            return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)

    def _insert_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        record: IdempotencyRecord | None = kwargs.get("idempotency")
        if record is not None:
            curs.execute(_INSERT_PG, _params(record, stored_events))
        unique: tuple[str, Sequence[str]] | None = kwargs.get("unique_keys")
        if unique is not None:
            curs.execute(_UNIQUE_PG, (unique[0], list(unique[1])))
