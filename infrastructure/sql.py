"""One small SQL layer over both stores: `?` placeholders, dict rows, explicit write transactions.

Read models live in the event store's own database, reached through the library's datastore, so a
view's rows and its tracking record can share one transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

_COPY_FROM = 20  # rows; below this an executemany is as fast as COPY's set-up
_PLAIN_INSERT = re.compile(r"\s*INSERT\s+INTO\s+(\w+)\s*(?:\(([\w\s,]+)\))?\s*VALUES\s*\(\s*\?(?:\s*,\s*\?)*\s*\)\s*$",
                           re.IGNORECASE)


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
        """One statement over many rows. On PostgreSQL a plain INSERT of many rows (placeholders only, no
        ON CONFLICT) goes as one COPY instead: the same rows, the same failure on a duplicate key, but one
        stream instead of a statement per row."""
        if not rows:
            return
        if self.dialect == "postgres" and len(rows) >= _COPY_FROM:
            plain = _PLAIN_INSERT.match(sql)
            if plain is not None:
                table, columns = plain.group(1), plain.group(2)
                target = f"{table} ({columns})" if columns else table
                with self.copy(f"COPY {target} FROM STDIN") as copy:
                    for r in rows:
                        copy.write_row(r)
                return
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

    def copy(self, sql: str) -> Any:
        """PostgreSQL's COPY on this transaction's cursor (a context manager yielding the copy)."""
        return self._c.copy(self._sql(sql))

    def renamed(self, tables: Mapping[str, str], index_suffix: str = "") -> Tx:
        """The same transaction with some table names replaced in every statement, and `index_suffix` added
        to the name of every index it creates: a view's code builds its tables under other names this way."""
        return RenamedTx(self._c, self.dialect, tables, index_suffix) if tables or index_suffix else self


_CREATE_INDEX = re.compile(r"(CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?)(\w+)", re.IGNORECASE)


class RenamedTx(Tx):
    """A `Tx` that rewrites table names (whole identifiers only) and the names of the indexes it creates."""

    def __init__(self, cursor: Any, dialect: str, tables: Mapping[str, str], index_suffix: str) -> None:
        super().__init__(cursor, dialect)
        self._tables = dict(tables)
        self._index_suffix = index_suffix
        self._names = (re.compile(r"\b(" + "|".join(re.escape(t) for t in sorted(tables, key=len, reverse=True))
                                  + r")\b") if tables else None)
        self._cache: dict[str, str] = {}

    def _sql(self, sql: str) -> str:
        out = self._cache.get(sql)
        if out is None:
            out = sql
            if self._index_suffix:
                out = _CREATE_INDEX.sub(lambda m: m.group(1) + m.group(2) + self._index_suffix, out)
            if self._names is not None:
                out = self._names.sub(lambda m: self._tables[m.group(1)], out)
            out = super()._sql(out)
            if len(self._cache) < 4096:
                self._cache[sql] = out
        return out


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
