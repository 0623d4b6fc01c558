"""One small SQL layer over both stores: `?` placeholders, dict rows, explicit write transactions.

Read models live in the event store's own database, reached through the library's datastore, so a
view's rows and its tracking record can share one transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore


class Tx:
    """A cursor in a transaction; SQL is written once with `?` and adapted to the dialect."""

    def __init__(self, cursor: Any, dialect: str) -> None:
        self._c = cursor
        self.dialect = dialect
        self.raw = cursor

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgres" else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Tx:
        self._c.execute(self._sql(sql), tuple(params))
        return self

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._c.executemany(self._sql(sql), [tuple(r) for r in rows])

    def fetchall(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self._c.fetchall()]

    def fetchone(self) -> dict[str, Any] | None:
        r = self._c.fetchone()
        return None if r is None else dict(r)

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.execute(sql, params)._c.fetchone()
        if row is None:
            return None
        return row[0] if self.dialect == "sqlite" else next(iter(dict(row).values()))


class Db:
    def __init__(self, datastore: Any) -> None:
        self.datastore = datastore
        if isinstance(datastore, SQLiteDatastore):
            self.dialect = "sqlite"
        elif isinstance(datastore, PostgresDatastore):
            self.dialect = "postgres"
        else:  # pragma: no cover - configuration error
            raise TypeError(f"Unsupported datastore {datastore!r}")

    @contextmanager
    def write(self) -> Iterator[Tx]:
        """A write transaction; on SQLite it takes the write lock up front (BEGIN IMMEDIATE)."""
        if self.dialect == "sqlite":
            with self.datastore.get_connection(commit=True) as conn:
                raw = conn._sqlite_conn
                cur = raw.cursor()
                cur.execute("BEGIN IMMEDIATE")
                try:
                    yield Tx(cur, "sqlite")
                except BaseException:
                    raw.rollback()
                    raise
                else:
                    raw.commit()
        else:
            with self.datastore.transaction(commit=True) as cur:
                yield Tx(cur, "postgres")

    @contextmanager
    def read(self) -> Iterator[Tx]:
        with self.datastore.transaction(commit=False) as cur:
            yield Tx(cur, self.dialect)

    @contextmanager
    def snapshot(self) -> Iterator[Tx]:
        """A read-only transaction whose statements all see one snapshot of the database (for backups)."""
        if self.dialect == "postgres":
            with self.datastore.transaction(commit=False) as cur:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                yield Tx(cur, "postgres")
            return
        with self.datastore.get_connection(commit=False) as conn:
            raw = conn._sqlite_conn
            cur = raw.cursor()
            cur.execute("BEGIN")  # deferred: the first read fixes the WAL snapshot until the end
            try:
                yield Tx(cur, "sqlite")
            finally:
                raw.rollback()

    @contextmanager
    def lone(self) -> Iterator[Tx]:
        """A cursor for one read statement. On PostgreSQL the pooled connections are in autocommit and a
        lone statement reads one snapshot anyway, so no BEGIN/ROLLBACK round trips are spent on it."""
        if self.dialect == "postgres":
            with self.datastore.get_connection() as conn, conn.cursor() as cur:
                yield Tx(cur, "postgres")
        else:
            with self.read() as tx:
                yield tx

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.lone() as tx:
            return tx.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        with self.lone() as tx:
            return tx.execute(sql, params).fetchone()

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self.lone() as tx:
            return tx.scalar(sql, params)


class MemoryDb(Db):
    """An in-memory SQLite database with the same interface, for replicas built by replay (state at a date)."""

    def __init__(self, data: bytes | None = None) -> None:
        import sqlite3
        import threading

        self.dialect = "sqlite"
        self.datastore = None
        self._conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        if data is not None:
            self._conn.deserialize(data)
        self._lock = threading.RLock()

    def serialize(self) -> bytes:
        with self._lock:
            return self._conn.serialize()

    @contextmanager
    def write(self) -> Iterator[Tx]:
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN")
            try:
                yield Tx(cur, "sqlite")
            except BaseException:
                self._conn.rollback()
                raise
            else:
                self._conn.commit()

    @contextmanager
    def read(self) -> Iterator[Tx]:
        with self._lock:
            yield Tx(self._conn.cursor(), "sqlite")

    def close(self) -> None:
        self._conn.close()


class SqliteCommits:
    """A number that changes whenever any connection commits to a SQLite file: `PRAGMA data_version` on
    a connection of its own (it never writes), which moves with every commit of another connection —
    of this process or another. A few microseconds, where reading a position costs a query."""

    def __init__(self, path: str) -> None:
        import sqlite3
        import threading

        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()

    def version(self) -> int:
        with self._lock:
            return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()
