"""Reads and writes of the event store's own table, by name, for the code that must see stored rows.

The library reads and writes events through its recorder; a few use cases need the rows themselves:
the backup copies them byte for byte and the restore puts them back at their positions, `verify`
walks them beside the hash chain, the integrity service and the feeds read single events by
position. Their SQL lives here, written once for both stores: the position is the `rowid` on
SQLite and `notification_id` on PostgreSQL, and an originator id is hex text on SQLite and a UUID
on PostgreSQL.

A row comes back as a dict of `position`, `originator_id`, `originator_version`, `topic`, `state`
unless a function says otherwise.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from operator import itemgetter
from typing import Any, NamedTuple
from uuid import UUID

from psycopg.rows import tuple_row

from infrastructure.sql import Tx, adapt

_FIELDS = "originator_id, originator_version, topic, state"
_FIRST = itemgetter(0)


def _names(ledger: Any) -> tuple[str, str]:
    return ledger.position_column, ledger.events_table


def _oid(ledger: Any, originator_id: UUID | str) -> Any:
    """An originator id as the store's column holds it."""
    uuid = originator_id if isinstance(originator_id, UUID) else UUID(originator_id)
    return uuid.hex if ledger.backend == "sqlite" else uuid


# -- single events and counts ----------------------------------------------------------------


def event_at(ledger: Any, position: int) -> dict[str, Any] | None:
    col, table = _names(ledger)
    return ledger.db.query_one(f"SELECT {col} AS position, {_FIELDS} FROM {table} WHERE {col} = ?", (position,))


def events_at(ledger: Any, positions: Sequence[int]) -> list[dict[str, Any]]:
    """The stored events at these positions, in position order."""
    if not positions:
        return []
    col, table = _names(ledger)
    return ledger.db.query(f"SELECT {col} AS position, {_FIELDS} FROM {table} "
                           f"WHERE {col} IN ({', '.join('?' for _ in positions)}) ORDER BY {col}", tuple(positions))


def state_sizes(ledger: Any, positions: Sequence[int]) -> dict[int, int]:
    """The length of each stored state at these positions (absent positions are left out)."""
    if not positions:
        return {}
    col, table = _names(ledger)
    return {int(r["position"]): int(r["size"]) for r in ledger.db.query(
        f"SELECT {col} AS position, LENGTH(state) AS size FROM {table} "
        f"WHERE {col} IN ({', '.join('?' for _ in positions)})", tuple(positions))}


def position_of(ledger: Any, originator_id: UUID | str, version: int) -> int | None:
    col, table = _names(ledger)
    v = ledger.db.scalar(f"SELECT {col} FROM {table} WHERE originator_id = ? AND originator_version = ?",
                         (_oid(ledger, originator_id), version))
    return None if v is None else int(v)


def events_of(ledger: Any, originator_ids: Sequence[UUID]) -> list[dict[str, Any]]:
    """The stored events of these aggregates (`originator_id`, `originator_version`, `topic`, `state`,
    no position), by aggregate and version."""
    marks = ", ".join("?" for _ in originator_ids)
    return ledger.db.query(
        f"SELECT {_FIELDS} FROM {ledger.events_table} "
        f"WHERE originator_id IN ({marks}) ORDER BY originator_id, originator_version",
        [_oid(ledger, g) for g in originator_ids],
    )


def page_within_bytes(ledger: Any, after: int, upto: int, limit: int, max_bytes: int, *,
                      with_chain: bool) -> list[tuple[Any, ...]]:
    """The events after `after` up to `upto`, at most `limit` of them and, in position order, those that start
    within the first `max_bytes` of their stored states (so a larger single event comes alone), in one statement,
    as plain tuples: (position, originator id as text -- a UUID's on PostgreSQL, 32 hex digits on SQLite --,
    version, topic, state, the chain's hash at the position or None, and `n`, how many the first cut (by
    `limit`) kept). The hash is None everywhere unless `with_chain`. On PostgreSQL the row comes in binary: the
    state as its bytes, not as hex text to decode."""
    col, table = _names(ledger)
    oid = "originator_id::text" if ledger.backend == "postgres" else "originator_id"
    inner = (f"SELECT {col} AS position, {oid} AS originator_id, originator_version, topic, state FROM {table} "
             f"WHERE {col} > ? AND {col} <= ? ORDER BY {col} LIMIT ?")
    sized = (f"SELECT t.*, SUM(LENGTH(t.state)) OVER (ORDER BY t.position) AS upto, COUNT(*) OVER () AS n "
             f"FROM ({inner}) t")
    chain = "c.hash" if with_chain else "NULL"
    join = " LEFT JOIN ledger_chain c ON c.position = m.position" if with_chain else ""
    sql = (f"SELECT m.position, m.originator_id, m.originator_version, m.topic, m.state, {chain}, m.n "
           f"FROM ({sized}) m{join} WHERE m.upto - LENGTH(m.state) < ? ORDER BY m.position")
    with ledger.db.lone() as tx:
        return _tuples(tx, sql, (after, upto, limit, max_bytes))


def count_events(ledger: Any, after: int | None = None) -> int:
    """How many rows the table holds (after a position, when given)."""
    col, table = _names(ledger)
    if after is None:
        return int(ledger.db.scalar(f"SELECT COUNT(*) FROM {table}") or 0)
    return int(ledger.db.scalar(f"SELECT COUNT(*) FROM {table} WHERE {col} > ?", (after,)) or 0)


def below_one(ledger: Any) -> list[tuple[int, str, int]]:
    """(position, originator id as hex, version) of every row at a position below 1, where no event of the
    ledger is ever stored (the notification log starts after 0)."""
    col, table = _names(ledger)
    out = []
    for r in ledger.db.query(f"SELECT {col} AS p, originator_id, originator_version FROM {table} "
                             f"WHERE {col} < 1 ORDER BY {col}"):
        raw = r["originator_id"]
        out.append((int(r["p"]), raw if isinstance(raw, str) else raw.hex, int(r["originator_version"])))
    return out


# -- the backup's copy and the restore -------------------------------------------------------


def page_after(tx: Tx, ledger: Any, after: int, upto: int, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` rows with positions in (after, upto], in order, inside the caller's transaction."""
    col, table = _names(ledger)
    return tx.execute(f"SELECT {col} AS position, {_FIELDS} FROM {table} WHERE {col} > ? AND {col} <= ? "
                      f"ORDER BY {col} LIMIT {int(limit)}", (after, upto)).fetchall()


def insert_at(tx: Tx, ledger: Any, rows: Sequence[tuple[int, UUID, int, str, bytes]]) -> None:
    """Stores events at the given positions, as (position, originator id, version, topic, state)."""
    col, table = _names(ledger)
    tx.executemany(f"INSERT INTO {table} ({col}, {_FIELDS}) VALUES (?, ?, ?, ?, ?)",
                   [(p, _oid(ledger, oid), v, topic, state) for p, oid, v, topic, state in rows])


def continue_after(tx: Tx, ledger: Any, position: int) -> None:
    """The next event the library stores takes a position after `position` (PostgreSQL's sequence; SQLite's
    rowid follows the table's largest on its own)."""
    if ledger.backend == "postgres":
        col, table = _names(ledger)
        tx.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{col}'), ?)", (position,))


# -- the verify walk -------------------------------------------------------------------------


def _tuples(tx: Tx, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """Plain tuples, and bytea in binary on PostgreSQL (text would double the bytes and hex-decode them)."""
    if tx.dialect == "postgres":
        cur = tx.raw
        cur.row_factory = tuple_row
        cur.execute(adapt(sql, "postgres"), params, binary=True)
        return cur.fetchall()  # type: ignore[no-any-return]
    cur = tx.raw.sqlite_cursor
    cur.row_factory = None
    cur.execute(sql, params)
    return cur.fetchall()  # type: ignore[no-any-return]


def _canonical_sql(col: str, alias: str = "") -> str:
    """PostgreSQL builds each event's canonical bytes itself (`canonical_bytes`, field for field: big-endian
    u64 position, the 16 bytes of the UUID, u64 version, u32 length and UTF-8 topic, u32 length and state),
    so a row arrives as one bytea: no UUID, text or tuple of five to decode per event, and the concatenation
    runs in the server's process, beside the hashing."""
    a = f"{alias}." if alias else ""
    topic = f"convert_to({a}topic, 'UTF8')"
    return (f"int8send({a}{col}) || uuid_send({a}originator_id) || int8send({a}originator_version) || "
            f"int4send(octet_length({topic})) || {topic} || int4send(octet_length({a}state)) || {a}state")


ChainRows = list[tuple[Any, ...]]


_CHAIN_PAGE = "SELECT position, seq, hash, prev_hash FROM ledger_chain WHERE position > ? AND position <= ?"
# the topic as its UTF-8 bytes (SQLite stores text as UTF-8 here): the bytes the canonical encoding takes, with no
# str to build and encode again per event
_SQLITE_FIELDS = "originator_id, originator_version, CAST(topic AS BLOB), state"


def store_page_sql(backend: str, col: str, table: str) -> str:
    """The statement reading the stored events in (after, upto] for the verify walk, in the form
    `chain_and_store` returns them."""
    return (f"SELECT {col}, {_canonical_sql(col) if backend == 'postgres' else _SQLITE_FIELDS} "
            f"FROM {table} WHERE {col} > ? AND {col} <= ?")


CHAIN_PAGE_SQL = _CHAIN_PAGE
"""The statement reading the chain records in (after, upto]: (position, seq, hash, prev_hash), unordered."""


def chain_and_store(ledger: Any, after: int, upto: int, reader: PageReader | None = None) -> tuple[ChainRows, ChainRows]:
    """(chain records, stored events) with positions in (after, upto], each in position order: a chain record
    is (position, seq, hash, prev_hash); a stored event is (position, canonical bytes) on PostgreSQL and
    (position, originator id as hex, version, topic as UTF-8 bytes, state) on SQLite. Read through `reader`
    when given (on SQLite its connection of its own).

    The rows are sorted here, not by the server: a page of wide rows sorted by PostgreSQL spills to disk
    when the planner, misled by the statistics of a growing table, picks a bitmap scan."""
    col, table = _names(ledger)
    store_sql = store_page_sql(ledger.backend, col, table)
    if reader is not None and reader.conn is not None:
        chain, store = reader.read_sqlite(_CHAIN_PAGE, store_sql, (after, upto))
    else:
        with ledger.db.read() as tx:
            chain = _tuples(tx, _CHAIN_PAGE, (after, upto))
            store = _tuples(tx, store_sql, (after, upto))
    chain.sort(key=_FIRST)
    store.sort(key=_FIRST)
    return chain, store


class PageReader:
    """What the verify walk reads its pages through. On a SQLite file, a read-only connection of its own, so
    the walk's long run of reads does not hold one of the library's pooled connections. The file is not
    memory-mapped: mapping saved wall-clock time but no CPU in the measurements, and a mapped file that
    another process truncates (VACUUM) ends the reading process with SIGBUS, which a verify must never do.
    Elsewhere (PostgreSQL, an in-memory SQLite) the ledger's own connections are used. One thread at a time
    uses the connection."""

    def __init__(self, ledger: Any) -> None:
        self.conn: Any = None
        self._lock = threading.Lock()
        pool = getattr(ledger.db.datastore, "pool", None)
        name = getattr(pool, "db_name", None)
        if ledger.backend == "sqlite" and name and not getattr(pool, "is_sqlite_memory_mode", True):
            conn = sqlite3.connect(name, uri=True, check_same_thread=False, isolation_level=None,
                                   timeout=float(getattr(pool, "lock_timeout", None) or 5))
            conn.execute("PRAGMA query_only = 1")
            self.conn = conn

    def read_sqlite(self, first: str, second: str, params: tuple[Any, ...]) -> tuple[ChainRows, ChainRows]:
        """Both statements' rows, in one read transaction (one snapshot)."""
        with self._lock:
            cur = self.conn.cursor()
            cur.execute("BEGIN")
            try:
                return cur.execute(first, params).fetchall(), cur.execute(second, params).fetchall()
            finally:
                cur.execute("ROLLBACK")

    def close(self) -> None:
        if self.conn is not None:
            with self._lock:
                self.conn.close()
                self.conn = None


class HashedPage(NamedTuple):
    """A range of positions as the server hashed it (`chain_hashed`): counts, then one bytes value per column, the
    records' values concatenated in position order (8 bytes per position and sequence, 32 per hash)."""

    chain: int
    """Chain records in the range."""
    store: int
    """Stored events in the range."""
    joined: int
    """Chain records with a stored event at their position, each with a hash and a previous hash of 32 bytes."""
    positions: bytes
    seqs: bytes
    hashes: bytes
    prevs: bytes
    computed: bytes
    """H(record's previous hash || canonical bytes of the event stored at its position), by the server."""


def chain_hashed(ledger: Any, algorithm: str, after: int, upto: int) -> HashedPage:
    """PostgreSQL only: the chain records in (after, upto] joined to the stored event at the same position, with
    the hash the server computes with its own `algorithm` (sha256) of each record's previous hash and the event's
    canonical bytes. One statement answers a page, and it answers with one value per column: no row, tuple or
    bytes object per event crosses to Python. The counts let a caller tell a one-to-one page from one with a
    missing or an inserted event; the order of the values is checked by the caller (the positions)."""
    if ledger.backend != "postgres" or algorithm != "sha256":
        raise ValueError("the server hashes only SHA-256 on PostgreSQL")
    col, table = _names(ledger)
    with ledger.db.read() as tx:
        tx.raw.execute(NO_NESTED_LOOPS)
        row = _tuples(tx, chain_hashed_sql(col, table), (after, upto) * 4)[0]
    return hashed_page(row)


NO_NESTED_LOOPS = "SET LOCAL enable_nestloop = off"
"""The statistics of a table that has just grown say a page holds a few rows; the planner then joins by a lookup per
event (a nested loop, several microseconds each) instead of one hash or merge join: `chain_hashed_sql` runs in a
transaction that turns nested loops off first."""


def hashed_page(row: Sequence[Any]) -> HashedPage:
    """The one row `chain_hashed_sql` answers, as a HashedPage."""
    counts, blobs = row[:3], row[3:]
    return HashedPage(*(int(v) for v in counts), *(b"" if v is None else bytes(v) for v in blobs))


def chain_hashed_sql(col: str, table: str) -> str:
    """PostgreSQL's statement behind `chain_hashed`, on the parameters (after, upto) four times over."""
    return ("SELECT (SELECT COUNT(*) FROM ledger_chain WHERE position > ? AND position <= ?), "
            f"(SELECT COUNT(*) FROM {table} WHERE {col} > ? AND {col} <= ?), "
            "COUNT(*) FILTER (WHERE octet_length(p.hash) = 32 AND octet_length(p.prev_hash) = 32), "
            "string_agg(int8send(p.position), ''), string_agg(int8send(p.seq), ''), "
            "string_agg(p.hash, ''), string_agg(p.prev_hash, ''), string_agg(p.computed, '') "
            "FROM (SELECT c.position, c.seq, c.hash, c.prev_hash, "
            f"pg_catalog.sha256(c.prev_hash || {_canonical_sql(col, 'e')}) AS computed "
            f"FROM ledger_chain c JOIN {table} e ON e.{col} = c.position "
            f"WHERE c.position > ? AND c.position <= ? AND e.{col} > ? AND e.{col} <= ? "
            "ORDER BY c.position) p")


def hashing_in_store(ledger: Any, profile: str) -> str | None:
    """The hash the store's server computes for a profile, or None when the walk hashes in Python."""
    return "sha256" if ledger.backend == "postgres" and profile == "intl" else None


__all__ = ["below_one", "CHAIN_PAGE_SQL", "chain_and_store", "chain_hashed", "chain_hashed_sql", "continue_after",
           "count_events", "event_at", "events_at", "HashedPage", "hashed_page", "hashing_in_store", "insert_at",
           "NO_NESTED_LOOPS", "PageReader", "page_after", "position_of", "state_sizes", "store_page_sql"]
