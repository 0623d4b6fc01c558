"""One small SQL layer over both stores: `?` placeholders, dict rows, explicit write transactions.

Read models live in the event store's own database, reached through the library's datastore, so a
view's rows and its tracking record can share one transaction.

A statement is written once, with `?` for each parameter, and adapted to the dialect by `adapt`:
on PostgreSQL each placeholder becomes `%s` and each `%` becomes `%%` (psycopg reads both), while
a `?` inside a string literal, a quoted identifier, a dollar-quoted body or a comment stays as it
is, and so do the jsonb operators `?|` and `?&`. The jsonb key-exists operator `?` itself is
written `??`. Column types that differ by dialect are named in DDL as `{blob}` or `{rowid}` and
filled in by `ddl` (`TYPES`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from infrastructure.sqlite_images import ImageBuffer, image_view, serialize

DIALECTS = ("sqlite", "postgres")
TYPES: dict[str, dict[str, str]] = {
    "sqlite": {"blob": "BLOB", "rowid": "INTEGER PRIMARY KEY"},
    "postgres": {"blob": "BYTEA", "rowid": "BIGINT PRIMARY KEY"},
}
"""The column types whose names differ by dialect, as `ddl` fills them in: `{blob}` for bytes, `{rowid}`
for a 64-bit integer key (on SQLite, INTEGER PRIMARY KEY makes the column the table's rowid, so a walk
in key order reads one b-tree)."""


def ddl(statement: str, dialect: str) -> str:
    """A DDL statement with its `{blob}` and `{rowid}` types named for the dialect (other braces, as in a default of
    '{}', are left alone)."""
    for name, sql_type in TYPES[dialect].items():
        statement = statement.replace("{" + name + "}", sql_type)
    return statement


def adapt(sql: str, dialect: str) -> str:
    """The statement as the dialect's driver reads it (see the module's docstring)."""
    if dialect == "sqlite":
        return sql
    if dialect != "postgres":  # pragma: no cover - configuration error
        raise ValueError(f"unknown dialect {dialect!r}")
    return _to_pyformat(sql)


_QUOTES = {"'": "'", '"': '"'}


@lru_cache(maxsize=4096)
def _to_pyformat(sql: str) -> str:
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in _QUOTES:  # 'literal' (E'..\'..' too) or "identifier"; a doubled quote stays inside
            escapes = ch == "'" and i > 0 and sql[i - 1] in ("e", "E") and (i < 2 or not (sql[i - 2].isalnum()
                                                                               or sql[i - 2] == "_"))
            j = i + 1
            while j < n:
                if escapes and sql[j] == "\\":
                    j += 2
                    continue
                if sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:
                        j += 2
                        continue
                    break
                j += 1
            out.append(sql[i:j + 1].replace("%", "%%"))
            i = j + 1
        elif ch == "-" and sql.startswith("--", i):
            j = sql.find("\n", i)
            j = n if j < 0 else j
            out.append(sql[i:j].replace("%", "%%"))
            i = j
        elif ch == "/" and sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(sql[i:j].replace("%", "%%"))
            i = j
        elif ch == "$" and (tag := _dollar_tag(sql, i)) is not None:
            j = sql.find(tag, i + len(tag))
            j = n if j < 0 else j + len(tag)
            out.append(sql[i:j].replace("%", "%%"))
            i = j
        elif ch == "?":
            nxt = sql[i + 1] if i + 1 < n else ""
            if nxt == "?":  # the jsonb key-exists operator, written ?? because ? alone is a parameter
                out.append("?")
                i += 2
            elif nxt and nxt in "|&":  # the jsonb operators ?| and ?&
                out.append("?" + nxt)
                i += 2
            else:
                out.append("%s")
                i += 1
        elif ch == "%":
            out.append("%%")
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _dollar_tag(sql: str, i: int) -> str | None:
    """The opening tag of a dollar-quoted string at `i` ($$ or $name$), or None ($1 is a parameter)."""
    if i > 0 and (sql[i - 1].isalnum() or sql[i - 1] in "_$"):
        return None  # part of an identifier such as a$b
    j = i + 1
    while j < len(sql) and (sql[j].isalnum() or sql[j] == "_"):
        j += 1
    if j < len(sql) and sql[j] == "$" and not sql[i + 1:j][:1].isdigit():
        return sql[i:j + 1]
    return None
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
        return adapt(sql, self.dialect)

    def ddl(self, statement: str) -> Tx:
        """Runs a DDL statement with its dialect's types filled in (`TYPES`)."""
        return self.execute(ddl(statement, self.dialect))

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Tx:
        self._c.execute(self._sql(sql), tuple(params))
        return self

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]], *, binary: bool = False) -> None:
        """One statement over many rows. On PostgreSQL a plain INSERT of many rows (placeholders only, no
        ON CONFLICT) goes as one COPY instead: the same rows, the same failure on a duplicate key, but one
        stream instead of a statement per row.

        With `binary` that COPY sends each value in the server's binary form of its column's type (read from
        the table as it stands), which the server stores without parsing text: for a caller whose values
        are already of their columns' types (a `str` for text, an `int` for an integer column, None), as
        the binary form has no conversions. Ignored on SQLite."""
        if not rows:
            return
        if self.dialect == "postgres" and len(rows) >= _COPY_FROM:
            plain = _PLAIN_INSERT.match(sql)
            if plain is not None:
                table, columns = plain.group(1), plain.group(2)
                target = f"{table} ({columns})" if columns else table
                types = None
                if binary:
                    self.execute(f"SELECT {columns or '*'} FROM {table} WHERE false")
                    types = [d.type_code for d in self._c.description]
                with self.copy(f"COPY {target} FROM STDIN" + (" (FORMAT BINARY)" if binary else "")) as copy:
                    if types is not None:
                        copy.set_types(types)
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
    def write(self, cache_kib: int | None = None) -> Iterator[Tx]:
        """A write transaction; on SQLite it takes the write lock up front (BEGIN IMMEDIATE). With `cache_kib`,
        SQLite's connection has a page cache of that size for this transaction (a large write that would
        otherwise spill dirty pages to the log and write them again), and its own again once it has ended."""
        if self.dialect == "sqlite":
            with self.datastore.get_connection(commit=True) as conn:
                raw = conn._sqlite_conn
                cur = raw.cursor()
                before = None
                if cache_kib is not None:
                    before = int(cur.execute("PRAGMA cache_size").fetchone()[0])
                    cur.execute(f"PRAGMA cache_size = -{int(cache_kib)}")
                try:
                    cur.execute("BEGIN IMMEDIATE")
                    try:
                        yield Tx(cur, "sqlite")
                    except BaseException:
                        raw.rollback()
                        raise
                    else:
                        raw.commit()
                finally:
                    if before is not None:
                        cur.execute(f"PRAGMA cache_size = {before}")  # frees the pages cached beyond it
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

    def __init__(self, data: bytes | bytearray | None = None) -> None:
        import sqlite3
        import threading

        self.dialect = "sqlite"
        self.datastore = None
        self._conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        if data is not None:
            self._conn.deserialize(data)
        self._lock = threading.RLock()

    @classmethod
    def of_image(cls, image: ImageBuffer, size: int) -> MemoryDb:
        """A replica whose database is the first `size` bytes of `image`, taken over without a copy."""
        db = cls()
        try:
            image.open(db._conn, size)
        except BaseException:
            db.close()
            raise
        return db

    def serialize(self) -> bytes:
        with self._lock:
            return serialize(self._conn)

    @contextmanager
    def image(self) -> Iterator[memoryview | bytes]:
        """The database's bytes, without a copy where SQLite holds them in one buffer; only inside the block,
        which holds this replica (nothing else reads or writes it meanwhile)."""
        with self._lock, image_view(self._conn) as view:
            yield view

    @contextmanager
    def write(self, cache_kib: int | None = None) -> Iterator[Tx]:  # in memory already: no cache to size
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
