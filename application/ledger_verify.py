"""The full walk behind `civic-ledger verify`: every stored event against the chain and the checkpoints.

The store and the chain are read page by page in position order and merged. The event hashes are
recomputed from the store alone (each on the one before); each must equal the chain record at its
position (after an earlier break, the record's own previous hash is used, so one tamper is one
break); each record must link to the one before it; and the Merkle root over the recomputed hashes
must equal every signed checkpoint at its size. A break is classified as altered, missing,
inserted or reordered (found by the event's identity elsewhere), or as a break of the chain's own
records or of a checkpoint. Rows at positions below 1 (which the notification log never returns) are
read apart and reported as inserted, as is any row the chain skipped, before its first record too.
"""

from __future__ import annotations

import gc
import struct
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from itertools import islice
from typing import Any, NamedTuple
from uuid import UUID

import msgspec

from infrastructure import chain_rows, event_rows, verify_ranges
from infrastructure.merkle import Frontier
from infrastructure.store import Ledger
from infrastructure.verifier import (
    GENESIS,
    VerificationError,
    verify_checkpoint,
)
from infrastructure.verify_ranges import hashes_of

__all__ = ["Break", "hashes_of", "Page", "read_page", "VerifyReport", "walk"]

MAX_LISTED = 100
# the canonical encoding of infrastructure.verifier.canonical_bytes, inlined here for speed
_HEAD = struct.Struct(">Q16sQI")
_LEN = struct.Struct(">I")


class Break(msgspec.Struct, frozen=True):
    """One place where the store and its chain disagree."""

    kind: str
    """altered | missing | inserted | reordered | chain | checkpoint"""
    position: int
    originator_id: str | None
    originator_version: int | None
    detail: str


class VerifyReport(msgspec.Struct):
    ok: bool
    events: int
    """Stored events checked (those up to the chain's head)."""
    chained: int
    unchained: int
    """Stored events after the chain's head, not chained yet (the projector's lag)."""
    checkpoints: int
    signatures: str
    first_break: Break | None
    breaks: list[Break]
    more_breaks: int
    seconds: float
    events_per_second: float


class _Walk:
    def __init__(self, ledger: Ledger, checkpoints: list[dict[str, Any]]) -> None:
        self.ledger = ledger
        self.col, self.table = ledger.position_column, ledger.events_table
        self.breaks: list[Break] = []
        self.count = 0
        self.pending = sorted(checkpoints, key=lambda c: int(c["tree_size"]))
        self.frontier = Frontier(hashes=ledger.suite)

    def add(self, kind: str, position: int, oid: str | None, version: int | None, detail: str) -> None:
        self.count += 1
        if len(self.breaks) < MAX_LISTED:
            self.breaks.append(Break(kind, position, None if oid is None else str(UUID(oid)), version, detail))

    def chained_at(self, oid_hex: str, version: int) -> int | None:
        return chain_rows.chained_position(self.ledger.db, oid_hex, version)

    def stored_at(self, oid_hex: str, version: int) -> int | None:
        return event_rows.position_of(self.ledger, oid_hex, version)

    def check(self, cp: dict[str, Any], position: int) -> None:
        size = int(cp["tree_size"])
        if self.frontier.root().hex() != cp["root_hash"]:
            self.add("checkpoint", position, None, None,
                     f"the store no longer matches the signed checkpoint of size {size} (its root differs)")
        elif int(cp["last_position"]) != position:
            self.add("checkpoint", position, None, None,
                     f"the checkpoint of size {size} ends at position {cp['last_position']}, the store at {position}")

    # -- classification ------------------------------------------------------------------

    def identity(self, position: int) -> tuple[str, int]:
        """The aggregate and version chained at a position (read only when there is a break)."""
        row = chain_rows.identity_at(self.ledger.db, position)
        assert row is not None
        return row["originator_id"], int(row["originator_version"])

    def add_chain(self, position: int, detail: str) -> None:
        self.add("chain", position, *self.identity(position), detail)

    def differs(self, p: int, s_oid: str, s_ver: int) -> None:
        c_oid, c_ver = self.identity(p)
        if (s_oid, s_ver) == (c_oid, c_ver):
            self.add("altered", p, c_oid, c_ver, "the stored bytes of this event differ from the bytes chained here")
            return
        q = self.chained_at(s_oid, s_ver)
        if q is not None:
            self.add("reordered", p, s_oid, s_ver, f"the event chained at position {q} is stored here")
        else:
            self.add("altered", p, c_oid, c_ver, f"an unknown event ({UUID(s_oid)} v{s_ver}) replaces the one "
                     "chained here")

    def missing(self, p: int) -> None:
        c_oid, c_ver = self.identity(p)
        r = self.stored_at(c_oid, c_ver)
        if r is not None:
            self.add("reordered", p, c_oid, c_ver, f"the event chained here is stored at position {r}")
        else:
            self.add("missing", p, c_oid, c_ver, "the event chained here is not in the store")

    def inserted(self, p: int, s_oid: str, s_ver: int, head: int) -> None:
        q = self.chained_at(s_oid, s_ver)
        if q is not None:
            self.add("reordered", p, s_oid, s_ver, f"the event chained at position {q} is stored here")
        else:
            self.add("inserted", p, s_oid, s_ver, f"an event stored here was never chained, inside the chain "
                     f"(head {head})")


class Page(NamedTuple):
    """One range of positions as `event_rows.chain_and_store` reads it, and the events' hashes when it is a page
    the walk may judge at once (`hashes_of`)."""

    chain: list[tuple[Any, ...]]
    store: list[tuple[Any, ...]]
    computed: list[bytes] | None
    """H(record's previous hash || canonical bytes) of each stored event, when the page holds the same positions in
    the store and the chain; None otherwise (then the merge reads it event by event)."""


class _Hashed(NamedTuple):
    """A range whose events the store's server hashed on its chain records (`event_rows.chain_hashed`)."""

    page: event_rows.HashedPage
    after: int
    upto: int


def _identity(data: bytes) -> tuple[str, int]:
    """The originator id (hex) and version inside canonical bytes (read only when there is a break)."""
    return data[8:24].hex(), int.from_bytes(data[24:32], "big")


def read_page(ledger: Ledger, after: int, upto: int, reader: event_rows.PageReader | None = None) -> Page:
    """The chain records and stored events in (after, upto], and, when both hold the same positions, each event's
    hash on its record's previous hash. The hashes are computed here, by the thread that read the page: hashing
    an input of 2 KiB or more releases the interpreter, so the readers hash pages at once on the cores while
    the walk judges the page before (each event's hash depends on its own record alone, decision 0021)."""
    chain, store = event_rows.chain_and_store(ledger, after, upto, reader)
    computed = None
    if chain and len(chain) == len(store) and [c[0] for c in chain] == [s[0] for s in store]:
        computed = hashes_of(ledger.suite.new, ledger.backend == "sqlite", [c[3] for c in chain], store)
    return Page(chain, store, computed)


def _pages(ledger: Ledger, reader: event_rows.PageReader, head: int, span: int, hashed: list[str | None],
           workers: int = 2, ahead: int = 4, start: int = 0) -> Iterator[Page | _Hashed]:
    """Consecutive ranges of positions up to the chain's head, in order, read (and hashed, `read_page`) by a few
    threads ahead of the walk (the database wait and the hashing of large inputs release the GIL, and ranges are
    independent of each other). While `hashed[0]` names a hash the server computes, a range is read hashed; the
    walk clears it after a break."""

    def read(after: int, upto: int) -> Page | _Hashed:
        algorithm = hashed[0]
        if algorithm is None:
            return read_page(ledger, after, upto, reader)
        return _Hashed(event_rows.chain_hashed(ledger, algorithm, after, upto), after, upto)

    ranges = iter([(a, min(a + span, head)) for a in range(start, head, span)])
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="verify-reader")
    try:
        window: deque[Future[Page | _Hashed]] = deque(pool.submit(read, a, b) for a, b in islice(ranges, ahead))
        while window:
            page = window.popleft().result()
            nxt = next(ranges, None)
            if nxt is not None:
                window.append(pool.submit(read, *nxt))
            yield page
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


PARALLEL_FROM = 4096
"""Below this many chained events the walk judges every page in its own process: starting workers would cost more
than they save."""


def walk(ledger: Ledger, checkpoints: list[dict[str, Any]], public_key: Any | None,
         progress: Callable[[int], None] | None = None, page: int = 5000, workers: int | None = None,
         span: int | None = None) -> VerifyReport:
    """Checks the whole store; `checkpoints` are signed tree heads as dicts (any order). `workers` processes judge
    ranges of `span` positions in parallel (`infrastructure.verify_ranges`; by default one worker per core from
    `PARALLEL_FROM` chained events on a SQLite file, 0: none; by default a range
    is a quarter of a worker's share, at most `page`); the walk reads `page` positions at a time itself."""
    reader = event_rows.PageReader(ledger)
    # Every page is thousands of rows and hashes that live until the next page, and none is part of a cycle:
    # the cyclic collector would only walk them again and again. Reference counts free each page.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _walk(ledger, reader, checkpoints, public_key, progress, page, workers, span)
    finally:
        if collecting:
            gc.enable()
        reader.close()


def _walk(ledger: Ledger, reader: event_rows.PageReader, checkpoints: list[dict[str, Any]], public_key: Any | None,
          progress: Callable[[int], None] | None, page: int, workers: int | None, span: int | None) -> VerifyReport:
    t0 = time.perf_counter()
    w = _Walk(ledger, checkpoints)
    if public_key is not None:
        for cp in w.pending:
            try:
                verify_checkpoint(cp, public_key)
            except VerificationError as e:
                w.add("checkpoint", int(cp["last_position"]), None, None, str(e))
    while w.pending and int(w.pending[0]["tree_size"]) == 0:
        if w.pending.pop(0)["root_hash"] != ledger.suite.empty_root.hex():
            w.add("checkpoint", 0, None, None, "the empty checkpoint has a wrong root")
    sqlite = ledger.backend == "sqlite"
    sha, head_pack, len_pack = ledger.suite.new, _HEAD.pack, _LEN.pack  # the profile's hash (SHA-256 or SM3)
    frontier = w.frontier
    subtrees = frontier.hashes
    next_cp = int(w.pending[0]["tree_size"]) if w.pending else -1
    prev, running, seq, events, chained = GENESIS, GENESIS, 0, 0, 0
    end = 1 << 63  # past any position
    head = chain_rows.last_chained_position(ledger.db)
    # rows below position 1 are never read by the projector (the log starts after 0), so never chained
    for p, oid_hex, version in event_rows.below_one(ledger):
        w.add("inserted", p, oid_hex, version,
              "an event stored at a position no event of the ledger takes (they start at 1): never chained, and "
              "outside the log the read models follow")

    def grow(hashes: Sequence[bytes], positions: Sequence[int]) -> None:
        """Frontier.extend over the leaves of these chain hashes, inlined, checking each checkpoint it reaches."""
        nonlocal next_cp
        pop, push, size = subtrees.pop, subtrees.append, frontier.size
        for k, leaf in enumerate([sha(b"\x00" + h).digest() for h in hashes]):
            n = size
            while n & 1:  # merge the perfect subtrees the new leaf completes
                leaf = sha(b"\x01" + pop() + leaf).digest()
                n >>= 1
            push(leaf)
            size += 1
            if size == next_cp:
                frontier.size = size
                while w.pending and int(w.pending[0]["tree_size"]) == size:
                    w.check(w.pending.pop(0), positions[k])
                next_cp = int(w.pending[0]["tree_size"]) if w.pending else -1
        frontier.size = size

    def merge(blocks: Sequence[tuple[int, bytes, int]]) -> None:
        """A worker's perfect subtrees added to the frontier (each starts at a multiple of its size, so it merges
        with the frontier's smaller subtrees as a leaf does), checking each checkpoint a subtree ends at."""
        nonlocal next_cp
        pop, push = subtrees.pop, subtrees.append
        for size, node, last in blocks:
            n = frontier.size // size
            while n & 1:
                node = sha(b"\x01" + pop() + node).digest()
                n >>= 1
            push(node)
            frontier.size += size
            if frontier.size == next_cp:
                while w.pending and int(w.pending[0]["tree_size"]) == frontier.size:
                    w.check(w.pending.pop(0), last)
                next_cp = int(w.pending[0]["tree_size"]) if w.pending else -1

    hashed = [event_rows.hashing_in_store(ledger, ledger.profile)]
    # Ranges judged by worker processes (docs/integrity.md, "Verify in parallel"): a range that passed alone, whose
    # first record follows the walk's (sequence, previous hash = the last record's hash = the store's running hash),
    # is the pages the walk would have judged at once, and its subtrees are the leaves it would have added. From
    # the first range that does not pass, or does not follow, the walk reads on itself, below.
    start = 0
    src = verify_ranges.source_of(ledger) if workers != 0 else None
    # By default on a SQLite file only: on PostgreSQL the walk's readers (one per core and one more) already keep the
    # server processes reading (and with SHA-256 hashing), and workers on fresh connections were slower or no faster
    # (decision 0032; the readers: decision 0034).
    by_default = head >= PARALLEL_FROM and ledger.backend == "sqlite"
    count = workers if workers is not None else verify_ranges.default_workers() if by_default else 0
    if src is not None and count > 0 and head > 0:
        width = span or max(1, min(page, -(-head // (4 * count))))
        ranges = [(a, min(a + width, head)) for a in range(0, head, width)]
        summaries = verify_ranges.judged(src, ranges, [int(c["tree_size"]) for c in w.pending], count)
        start = head
        try:
            for after, _ in ranges:
                try:
                    got_range = next(summaries)
                except BrokenProcessPool:  # a worker died: the walk reads on itself from this range
                    start = after
                    break
                if not got_range.ok or got_range.n and not (
                        got_range.first_seq == seq == frontier.size and got_range.first_prev == prev == running):
                    start, hashed[0] = after, None
                    break
                if got_range.n:
                    merge(got_range.blocks)
                    prev = running = got_range.last_hash
                    seq, events, chained = seq + got_range.n, events + got_range.n, chained + got_range.n
                    if progress is not None:
                        progress(got_range.n)
        finally:
            summaries.close()

    # The common page holds the same positions in the store and the chain, every record linked to the one
    # before, every event hashing to its record: then the store's own chain is the recorded one, and the
    # page is judged with whole-list comparisons and its Merkle leaves taken from the records. Only a page
    # that is not so (a break, or the pages after one) goes through the merge below, event by event. Each
    # event's check is H(record's previous hash || its bytes) = record's hash, so on PostgreSQL with SHA-256
    # the server computes it beside the bytes and sends 32 bytes instead of the event (decision 0021).
    # Readers: on PostgreSQL one more than the cores, so that a server process per core is always working on a
    # page while one reader waits for the interpreter to hand its answer over (the walk's own Merkle work holds
    # it meanwhile; with one reader per core a server process idled for each such wait). On a SQLite file two:
    # one hashes its page while the other reads (the walk's connection of its own takes one page at a time); an
    # in-memory SQLite, read through the ledger's own connection, keeps one.
    if ledger.backend == "postgres":
        readers = verify_ranges.default_workers() + 1
    else:
        readers = 2 if reader.conn is not None else 1
    for got in _pages(ledger, reader, head, page, hashed, workers=readers, ahead=max(4, readers + 2), start=start):
        if isinstance(got, _Hashed):
            hp = got.page
            n = hp.joined
            if n == hp.chain == hp.store:
                if n == 0:
                    continue
                # each column arrives as one value: the checks are comparisons of whole byte strings
                blob, width = hp.hashes, 32 * n
                if (len(blob) == len(hp.prevs) == len(hp.computed) == width
                        and hp.prevs[:32] == prev == running and hp.computed == blob
                        and hp.prevs[32:] == blob[:-32]
                        and hp.seqs == struct.pack(f">{n}q", *range(seq, seq + n)) and len(hp.positions) == 8 * n):
                    positions = struct.unpack(f">{n}q", hp.positions)
                    if all(map(int.__lt__, positions, positions[1:])):  # the values came in position order
                        grow([blob[k:k + 32] for k in range(0, width, 32)], positions)
                        prev = running = blob[-32:]
                        seq, events, chained = seq + n, events + n, chained + n
                        if progress is not None:
                            progress(n)
                        continue
            hashed[0] = None  # something to classify: from here on the walk reads the bytes and hashes them
            got = read_page(ledger, got.after, got.upto, reader)
        chain, store, computed = got
        if computed is not None:
            positions, seqs, hashes, prevs = zip(*chain, strict=True)
            if (prevs[0] == prev == running and positions == tuple(s[0] for s in store)
                    and seqs == tuple(range(seq, seq + len(chain))) and prevs[1:] == hashes[:-1]
                    and computed == list(hashes)):
                grow(hashes, positions)
                prev = running = hashes[-1]
                n = len(chain)
                seq, events, chained = seq + n, events + n, chained + n
                if progress is not None:
                    progress(n)
                continue
        i = j = 0
        nc, ns = len(chain), len(store)
        while i < nc or j < ns:
            c = chain[i] if i < nc else None
            s = store[j] if j < ns else None
            cpos = c[0] if c is not None else end
            spos = s[0] if s is not None else end
            if s is not None and spos <= cpos:
                if sqlite:
                    _, raw_oid, s_ver, t, state = s
                    data = head_pack(spos, bytes.fromhex(raw_oid), s_ver, len(t)) + t + len_pack(len(state)) + state
                else:
                    data = s[1]
                before = running
                running = sha(before + data).digest()
                # Frontier.append, inlined: merge the perfect subtrees the new leaf completes
                node, n = sha(b"\x00" + running).digest(), frontier.size
                while n & 1:
                    node = sha(b"\x01" + subtrees.pop() + node).digest()
                    n >>= 1
                subtrees.append(node)
                frontier.size += 1
                if frontier.size == next_cp:
                    while w.pending and int(w.pending[0]["tree_size"]) == frontier.size:
                        w.check(w.pending.pop(0), spos)
                    next_cp = int(w.pending[0]["tree_size"]) if w.pending else -1
                events += 1
                j += 1
            if c is not None and cpos <= spos:
                _, c_seq, c_hash, c_prev = c
                if c_seq != seq:
                    w.add_chain(cpos, f"chain record has sequence {c_seq}, expected {seq}")
                    seq = c_seq
                if c_prev != prev:
                    w.add_chain(cpos, "chain record does not link to the record before it")
                if s is None or spos != cpos:
                    w.missing(cpos)
                elif c_prev == before:  # the usual case: the store's own chain is the recorded one
                    if running != c_hash:
                        w.differs(cpos, *_identity(data))
                elif sha(c_prev + data).digest() != c_hash:  # after an earlier break: judge this event alone
                    w.differs(cpos, *_identity(data))
                prev = c_hash
                seq += 1
                chained += 1
                i += 1
            elif s is not None and spos < cpos:
                w.inserted(spos, *_identity(data), head)
        if progress is not None:
            progress(ns)
    for cp in w.pending:
        w.add("checkpoint", int(cp["last_position"]), None, None,
              f"the checkpoint of size {cp['tree_size']} covers more events than the store holds ({w.frontier.size})")
    unchained = event_rows.count_events(ledger, after=head)
    if progress is not None and unchained:
        progress(unchained)
    w.breaks.sort(key=lambda b: (b.position, b.kind in ("checkpoint", "chain")))
    seconds = time.perf_counter() - t0
    return VerifyReport(
        ok=w.count == 0, events=events, chained=chained, unchained=unchained, checkpoints=len(checkpoints),
        signatures="checked" if public_key is not None else "not checked: no signing key configured",
        first_break=w.breaks[0] if w.breaks else None, breaks=w.breaks, more_breaks=max(0, w.count - MAX_LISTED),
        seconds=round(seconds, 3), events_per_second=round(events / seconds, 1) if seconds > 0 else 0.0,
    )
