"""Ranges of the verify walk judged in worker processes, each on a connection of its own (docs/integrity.md).

The walk (`application.ledger_verify`) splits the positions up to the chain's head into consecutive ranges. A
worker reads one range's chain records and stored events, and judges it alone: the same positions in the store
and the chain, consecutive sequences, each record linked to the one before it, each event hashing to its record
on its record's previous hash (H(previous hash || canonical bytes) = hash; on PostgreSQL with SHA-256 the server
computes it, decision 0021). What it sends back is a `Summary`: whether the range passed, its first sequence, its
first record's previous hash and last record's hash -- the seams the walk checks against the range before --
and the range's Merkle leaves folded into the perfect subtrees that start at a multiple of their own size
(RFC 6962 builds its tree of them), cut at the size of every signed checkpoint, so that the walk grows its
frontier by a few subtrees per range and still meets every checkpoint's size. A range that does not pass is
read and classified again by the walk itself, event by event, as a page of its own walk would be.

The workers are forked (their parent's modules, no start-up imports): each opens its own connection and uses
nothing else its parent had open. Nothing here holds state between walks.
"""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import struct
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from itertools import islice
from operator import itemgetter
from typing import Any, NamedTuple

import psycopg
from psycopg.rows import tuple_row

from infrastructure import event_rows
from infrastructure.sql import adapt
from infrastructure.verifier import suite

_FIRST = itemgetter(0)
MMAP_BYTES = 1 << 30
"""How much of a SQLite file a worker maps (SQLite caps it at its compile-time limit; beyond, it reads)."""


def hashes_of(new: Callable[[bytes], Any], sqlite: bool, prevs: Sequence[bytes],
              store: Sequence[tuple[Any, ...]]) -> list[bytes]:
    """H(previous hash || canonical bytes) of each stored event on the given previous hashes (the records'). The
    state is fed to the hash as it came from the row, not copied into one buffer first. On SQLite a stored event
    is (position, originator id as hex, version, topic as UTF-8 bytes, state), elsewhere (position, canonical
    bytes)."""
    fromhex, out = bytes.fromhex, list[bytes]()
    push = out.append
    if sqlite:
        # every field before the state in one `pack` call, one packer per length of topic (a ledger has a few dozen
        # topics): the previous hash, whatever its length, and that one value make the input before the state
        packers: dict[int, Callable[..., bytes]] = {}
        for c_prev, (spos, raw_oid, s_ver, t, state) in zip(prevs, store, strict=True):
            size = len(t)
            pack = packers.get(size)
            if pack is None:
                pack = packers[size] = struct.Struct(f">Q16sQI{size}sI").pack
            h = new(c_prev + pack(spos, fromhex(raw_oid), s_ver, size, t, len(state)))
            h.update(state)
            push(h.digest())
    else:
        for c_prev, s in zip(prevs, store, strict=True):
            h = new(c_prev)
            h.update(s[1])
            push(h.digest())
    return out


class Source(NamedTuple):
    """What a worker needs to read a store: no connection, only how to open one."""

    backend: str
    target: Any
    """SQLite: (file name as a URI, busy timeout); PostgreSQL: the connection parameters."""
    col: str
    table: str
    profile: str
    server_hash: str | None
    """The hash the store's server computes for the walk (sha256), or None when the worker hashes."""


class Summary(NamedTuple):
    """One range (after, upto] as a worker judged it."""

    after: int
    upto: int
    ok: bool
    """The range holds the same positions in the store and the chain, consecutive sequences, each record linked
    to the one before it, each event hashing to its record. When False, nothing else is meaningful."""
    n: int
    first_seq: int
    first_prev: bytes
    last_hash: bytes
    blocks: tuple[tuple[int, bytes, int], ...]
    """(leaves, root, position of the last leaf's event) of each perfect subtree the range's leaves make, in order:
    each starts at a leaf index that is a multiple of its size, and no subtree spans a checkpoint's size."""


def source_of(ledger: Any) -> Source | None:
    """How workers reach this ledger's store, or None where they cannot (an in-memory SQLite, no `fork`)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return None
    pool = getattr(ledger.db.datastore, "pool", None)
    server = event_rows.hashing_in_store(ledger, ledger.profile)
    col, table = ledger.position_column, ledger.events_table
    if ledger.backend == "sqlite":
        name = getattr(pool, "db_name", None)
        if not name or getattr(pool, "is_sqlite_memory_mode", True):
            return None
        return Source("sqlite", (name, float(getattr(pool, "lock_timeout", None) or 5)), col, table, ledger.profile,
                      None)
    kwargs = {k: v for k, v in dict(getattr(pool, "kwargs", {}) or {}).items() if k != "row_factory"}
    if not kwargs:
        return None
    return Source("postgres", kwargs, col, table, ledger.profile, server)


# -- in the worker ---------------------------------------------------------------------------

_CONN: list[Any] = []


def _open(src: Source) -> None:
    """The worker's initializer: its own connection, closed when the worker ends."""
    if src.backend == "sqlite":
        name, timeout = src.target
        conn: Any = sqlite3.connect(name, uri=True, isolation_level=None, timeout=timeout)
        conn.execute("PRAGMA query_only = 1")
        # The worker reads the file through a memory map: each of its pages (two 1.9 KB events) is then a pointer
        # into the page cache instead of a read() call and a copy. A mapped file that another process truncates
        # meanwhile (VACUUM) ends the reading process with SIGBUS; here that process is a worker, and the walk
        # judges the range of a dead worker itself (`ledger_verify`, BrokenProcessPool), so the walk's own process
        # and its connection never map the file (`event_rows.PageReader`).
        conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
    else:
        conn = psycopg.connect(**src.target, autocommit=True, application_name="civic-ledger:verify")
    _CONN[:] = [conn]
    multiprocessing.util.Finalize(None, conn.close, exitpriority=10)  # type: ignore[attr-defined]


def _failed(after: int, upto: int) -> Summary:
    return Summary(after, upto, False, 0, 0, b"", b"", ())


def _read(src: Source, after: int, upto: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    conn = _CONN[0]
    store_sql = event_rows.store_page_sql(src.backend, src.col, src.table)
    if src.backend == "sqlite":
        cur = conn.cursor()
        cur.execute("BEGIN")
        try:
            chain = cur.execute(event_rows.CHAIN_PAGE_SQL, (after, upto)).fetchall()
            store = cur.execute(store_sql, (after, upto)).fetchall()
        finally:
            cur.execute("ROLLBACK")
    else:
        with conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
            chain = cur.execute(adapt(event_rows.CHAIN_PAGE_SQL, "postgres"), (after, upto), binary=True).fetchall()
            store = cur.execute(adapt(store_sql, "postgres"), (after, upto), binary=True).fetchall()
    chain.sort(key=_FIRST)
    store.sort(key=_FIRST)
    return chain, store


def _hashed(src: Source, after: int, upto: int) -> event_rows.HashedPage:
    conn = _CONN[0]
    with conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
        cur.execute(event_rows.NO_NESTED_LOOPS)
        row = cur.execute(adapt(event_rows.chain_hashed_sql(src.col, src.table), "postgres"), (after, upto) * 4,
                          binary=True).fetchone()
    return event_rows.hashed_page(row)


def judge(src: Source, after: int, upto: int, cuts: Sequence[int]) -> Summary:
    """Judges the range (after, upto] alone (see the module's text); `cuts` are the checkpoints' tree sizes."""
    new = suite(src.profile).new
    if src.server_hash is not None:
        hp = _hashed(src, after, upto)
        n = hp.joined
        if not n == hp.chain == hp.store:
            return _failed(after, upto)
        if n == 0:
            return Summary(after, upto, True, 0, 0, b"", b"", ())
        blob, width = hp.hashes, 32 * n
        if not (len(blob) == len(hp.prevs) == len(hp.computed) == width and len(hp.positions) == len(hp.seqs) == 8 * n
                and hp.computed == blob and hp.prevs[32:] == blob[:-32]):
            return _failed(after, upto)
        positions = struct.unpack(f">{n}q", hp.positions)
        first_seq = struct.unpack(">q", hp.seqs[:8])[0]
        if (hp.seqs != struct.pack(f">{n}q", *range(first_seq, first_seq + n))
                or not all(map(int.__lt__, positions, positions[1:]))):
            return _failed(after, upto)
        hashes = [blob[k:k + 32] for k in range(0, width, 32)]
        first_prev = hp.prevs[:32]
    else:
        chain, store = _read(src, after, upto)
        n = len(chain)
        if n != len(store):
            return _failed(after, upto)
        if n == 0:
            return Summary(after, upto, True, 0, 0, b"", b"", ())
        # whole-tuple comparisons (no loop of the interpreter's per event): both stores give each hash as bytes, and
        # a value of another type (a tampered column) is unequal to every digest, so the range fails
        positions, seqs, hashes_t, prevs = zip(*chain, strict=True)
        first_seq = seqs[0]
        if (positions != tuple(map(_FIRST, store)) or seqs != tuple(range(first_seq, first_seq + n))
                or prevs[1:] != hashes_t[:-1]):
            return _failed(after, upto)
        hashes = list(hashes_t)
        if type(prevs[0]) is not bytes or hashes_of(new, src.backend == "sqlite", prevs, store) != hashes:
            return _failed(after, upto)
        first_prev = prevs[0]
    leaves = [new(b"\x00" + h).digest() for h in hashes]
    return Summary(after, upto, True, n, first_seq, first_prev, hashes[-1],
                   tuple(subtrees(new, leaves, first_seq, positions, cuts)))


def subtrees(new: Callable[[bytes], Any], leaves: Sequence[bytes], first: int, positions: Sequence[int],
             cuts: Sequence[int]) -> Iterator[tuple[int, bytes, int]]:
    """The leaves at tree indexes first, first + 1, … folded into the largest perfect subtrees that start at a
    multiple of their size and end at or before the next cut: (size, root, position of the last leaf)."""
    end = first + len(leaves)
    stops = sorted({c for c in cuts if first < c < end} | {end})
    a = first
    for b in stops:
        while a < b:
            size = a & -a if a else 1 << (b - a).bit_length()
            while size > b - a:
                size >>= 1
            level = list(leaves[a - first:a - first + size])
            while len(level) > 1:
                pairs = iter(level)
                level = [new(b"\x01" + left + right).digest() for left, right in zip(pairs, pairs, strict=False)]
            yield size, level[0], positions[a - first + size - 1]
            a += size


# -- in the walk -----------------------------------------------------------------------------


def default_workers() -> int:
    """One worker per core, at most four."""
    return max(1, min(4, os.cpu_count() or 1))


def judged(src: Source, ranges: Sequence[tuple[int, int]], cuts: Sequence[int],
           workers: int) -> Generator[Summary, None, None]:
    """Each range's Summary, in order, judged by `workers` forked processes a few ranges ahead of the caller. The
    workers end when the caller stops iterating."""
    todo = iter(ranges)
    cut_list = list(cuts)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"),
                               initializer=_open, initargs=(src,))
    done = False
    try:
        window: deque[Future[Summary]] = deque(pool.submit(judge, src, a, b, cut_list)
                                               for a, b in islice(todo, 2 * workers + 2))
        while window:
            got = window.popleft().result()
            nxt = next(todo, None)
            if nxt is not None:
                window.append(pool.submit(judge, src, *nxt, cut_list))
            yield got
        done = True
    finally:
        # once every range is in, the workers are idle: they end on their own while the walk goes on
        pool.shutdown(wait=not done, cancel_futures=True)


__all__ = ["default_workers", "hashes_of", "judge", "judged", "Source", "source_of", "subtrees", "Summary"]
