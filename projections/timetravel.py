"""State at a date: the read models as they stood at a past instant, without a full replay.

The ledger prefix up to the last event recorded at or before the instant is replayed into an
in-memory SQLite replica of the read models, starting from the nearest checkpoint, stored every
`checkpoint_every` events. The same view code builds the live tables and the replicas, so a
replica holds exactly the rows the live read models held at that position.

A checkpoint is either a base, the whole serialized replica (a Zstandard frame), or a delta: the
database pages that differ from the checkpoint before it, which it names (decision 0022). A
replica is opened from a base and the deltas chained on it, page for page the image the
checkpointing process serialized; a new base is stored once the deltas since the last one add up
to the replica's size, which bounds both the pages applied on load and the chain's length.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import msgspec
from eventsourcing.utils import get_topic, resolve_topic

from domain.catalog import CatalogEntry
from domain.corrections import CORRECTIONS, effective_instant, moved_version
from infrastructure.sql import MemoryDb, Tx, adapt
from infrastructure.sqlite_images import ImageBuffer
from infrastructure.store import Ledger
from infrastructure.transcoding import MsgspecMapper
from projections.base import View, on
from projections.state_images import (
    HEAD_BYTES,
    REBASE_SHARE,
    advance_image,
    changed_pages,
    delta_head,
    fill_base,
    fill_image,
    image_capacity,
    is_delta,
    pack_checkpoint,
    pack_delta,
    page_size_of,
    replica_image,
    unpack_delta,
    write_pages,
)

CHECKPOINTS_DDL = (
    "CREATE TABLE IF NOT EXISTS state_checkpoints (signature TEXT NOT NULL, position BIGINT NOT NULL, "
    "created_at TEXT NOT NULL, size INTEGER NOT NULL, payload {blob} NOT NULL, PRIMARY KEY (signature, position))"
)


class LedgerTimesView(View):
    """When each position was recorded: maps an instant to a prefix of the ledger.

    Positions follow commit order and timestamps are taken before the commit, so a few events carry
    an earlier timestamp than one recorded before them. `lag_us` is by how much (0 for the rest):
    the largest lag bounds how far before the latest timestamp at or before an instant a later
    position can still fall at or before it, which is what lets `position_at` read a few index
    entries instead of every row after the answer.
    """

    name = "ledger_times"
    version = 2
    tables = ("ledger_times",)
    all_topics = True
    text_ids = True  # `decode` reads the originator id as text only
    time_travel: ClassVar[bool] = False

    def __init__(self) -> None:
        super().__init__()
        self._rows: list[tuple[Any, ...]] = []
        self._latest: datetime | None = None
        self._topics_of: dict[str, tuple[str, int]] = {}  # stored topic -> (the class's topic, its class_version)

    def create(self, tx: Tx) -> None:
        tx.execute(
            "CREATE TABLE IF NOT EXISTS ledger_times (position BIGINT PRIMARY KEY, recorded_at TEXT NOT NULL, "
            "topic TEXT NOT NULL, originator_id TEXT NOT NULL, originator_version INTEGER NOT NULL, "
            "lag_us BIGINT NOT NULL)"
        )
        tx.execute("CREATE INDEX IF NOT EXISTS ledger_times_at ON ledger_times (recorded_at, position)")
        tx.execute("CREATE INDEX IF NOT EXISTS ledger_times_lag ON ledger_times (lag_us) WHERE lag_us > 0")

    def begin_page(self, tx: Tx) -> None:
        self._rows = []
        latest = tx.scalar("SELECT MAX(recorded_at) FROM ledger_times")
        self._latest = datetime.fromisoformat(str(latest)) if latest is not None else None

    def decode(self, notification: Any, mapper: Any) -> Any:
        """Only the event's timestamp is read (the rest of its fields are skipped, never made into the domain's
        types): the row's other columns come from the stored event itself."""
        topic = notification.topic
        known = self._topics_of.get(topic)
        if known is None:
            cls = resolve_topic(topic)
            known = self._topics_of[topic] = (get_topic(cls), getattr(cls, "class_version", 1))
        if not isinstance(mapper, MsgspecMapper):
            return mapper.to_domain_event(notification)
        try:
            stamp = _STAMP.decode(mapper.plain_state(notification))
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError):
            return mapper.to_domain_event(notification)  # raises the mapper's own error
        if stamp.class_version != known[1]:
            return mapper.to_domain_event(notification)
        return _Time(known[0], str(notification.originator_id), notification.originator_version, stamp.timestamp)

    def apply(self, tx: Tx, event: Any, position: int) -> None:
        at = event.timestamp.astimezone(UTC)
        lag = 0
        if self._latest is not None and at < self._latest:
            lag = -((at - self._latest) // timedelta(microseconds=1))
        else:
            self._latest = at
        if type(event) is _Time:
            self._rows.append((position, at.isoformat(), event.topic, event.originator_id,
                               event.originator_version, lag))
            return
        self._rows.append((position, at.isoformat(), get_topic(type(event)), str(event.originator_id),
                           event.originator_version, lag))

    def end_page(self, tx: Tx) -> None:
        tx.executemany("INSERT INTO ledger_times VALUES (?, ?, ?, ?, ?, ?)", self._rows)
        self._rows = []


class _Stamp(msgspec.Struct):
    timestamp: datetime
    class_version: int = 1


_STAMP = msgspec.json.Decoder(_Stamp)


class _Time(msgspec.Struct, array_like=True):
    """A stored event as `ledger_times` reads it: topic, originator, version and timestamp."""

    topic: str
    originator_id: str
    originator_version: int
    timestamp: datetime


class Cut(msgspec.Struct, frozen=True):
    """Where an answer "as at `at`, as known at `as_known_at`" stands.

    `position` is the last event recorded by the earlier of the two instants: the prefix the
    state is cut at. `known_position` is the last event recorded by `as_known_at`: corrections
    recorded after the cut but by then, taking effect by `at`, are applied on top (`corrections`).
    """

    at: datetime
    as_known_at: datetime
    position: int
    known_position: int
    corrections: tuple[int, ...] = ()


class CorrectionsView(View):
    """Where the corrections are, and when each takes effect: a cut finds the few it needs by index."""

    name = "ledger_corrections"
    version = 1
    tables = ("ledger_corrections",)
    time_travel: ClassVar[bool] = False

    def create(self, tx: Tx) -> None:
        tx.execute(
            "CREATE TABLE IF NOT EXISTS ledger_corrections (position BIGINT PRIMARY KEY, originator_id TEXT NOT NULL, "
            "effective_at TEXT, moved_version INTEGER)"
        )

    @on(*CORRECTIONS)
    def _correction(self, tx: Tx, event: Any, position: int) -> None:
        effective = effective_instant(event)
        tx.execute("INSERT INTO ledger_corrections VALUES (?, ?, ?, ?)",
                   (position, str(event.originator_id), effective.astimezone(UTC).isoformat() if effective else None,
                    moved_version(event)))


class _Rolling(msgspec.Struct):
    """The checkpointing process's own replica, advanced in place from one checkpoint to the next."""

    position: int
    db: MemoryDb
    image: bytearray | None  # the image stored at `position` (None: nothing stored yet), advanced in place
    base: int
    since_base: int


def open_chain(chain: list[bytes | memoryview]) -> MemoryDb:
    """The replica a chain of checkpoints stands for: its image built in a buffer SQLite then takes over (no copy
    of the image on the way; `infrastructure.sqlite_images`)."""
    capacity = image_capacity(chain)
    if capacity is None:  # a zlib base (stored before decision 0019) does not say its size
        return MemoryDb(replica_image(chain))
    image = ImageBuffer(capacity)
    return MemoryDb.of_image(image, fill_image(image.view, chain))


def _as_image(db: MemoryDb) -> MemoryDb:
    out = MemoryDb(db.serialize())
    db.close()
    return out


def signature(views: Iterable[View]) -> str:
    return hashlib.sha256(",".join(f"{v.name}@{v.version}" for v in views).encode()).hexdigest()[:16]


class TimeTravel:
    def __init__(self, ledger: Ledger, make_views: Callable[[], list[View]], *, checkpoint_every: int = 10_000,
                 cache_size: int = 4, page_size: int = 1000, max_builds: int = 2,
                 rebase_share: float = REBASE_SHARE) -> None:
        if rebase_share <= 0:
            raise ValueError("rebase_share must be positive")
        self.ledger = ledger
        self.make_views = lambda: [v for v in make_views() if getattr(v, "time_travel", True)]
        self.signature = signature(self.make_views())
        self.checkpoint_every = checkpoint_every
        self.rebase_share = rebase_share
        self.page_size = page_size
        self._cache: OrderedDict[Any, MemoryDb] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        # A replica of a large ledger holds every read model in memory: build at most two at once, so
        # many callers asking about many instants queue instead of growing the process without bound.
        self._builds = threading.BoundedSemaphore(max_builds)
        self._gates: dict[int, threading.Lock] = {}
        self._roll: _Rolling | None = None
        self._checkpointing = threading.Lock()  # one rolling replica per process, advanced by one caller at a time
        with ledger.db.write() as tx:
            tx.ddl(CHECKPOINTS_DDL)

    # -- instants and positions --------------------------------------------------------------

    def position_at(self, at: datetime) -> int:
        """The last ledger position recorded at or before `at` (0 before the first event).

        The latest timestamp at or before `at` is one step down the index; a later position recorded at or
        before `at` carries an earlier timestamp than that one, by at most the ledger's largest lag, so the
        answer is the largest position among the few index entries in that window."""
        db, until = self.ledger.db, at.astimezone(UTC).isoformat()
        row = db.query_one("SELECT position, recorded_at FROM ledger_times WHERE recorded_at <= ? "
                           "ORDER BY recorded_at DESC, position DESC LIMIT 1", (until,))
        if row is None:
            return 0
        lag = int(db.scalar("SELECT MAX(lag_us) FROM ledger_times WHERE lag_us > 0") or 0)
        if lag == 0:
            return int(row["position"])
        since = (datetime.fromisoformat(str(row["recorded_at"])) - timedelta(microseconds=lag)).isoformat()
        # `position + 0`: a bare MAX(position) makes PostgreSQL walk the primary key down from the head,
        # filtering on the instant, instead of reading the window from the (recorded_at, position) index
        value = db.scalar("SELECT MAX(position + 0) FROM ledger_times WHERE recorded_at >= ? AND recorded_at <= ?",
                          (since, until))
        return int(value)

    # -- both time axes ----------------------------------------------------------------------

    def cut(self, at: datetime, as_known_at: datetime) -> Cut:
        """The prefix to start from and the later corrections that change the answer about `at`."""
        known = self.position_at(as_known_at)
        position = min(self.position_at(min(at, as_known_at)), known)
        chosen = tuple(p for p, _ in self._corrections(position, known, at))
        return Cut(at=at, as_known_at=as_known_at, position=position, known_position=known, corrections=chosen)

    def corrections_between(self, after: int, until: int, at: datetime | None = None) -> list[tuple[int, Any]]:
        """The corrections recorded after position `after` and up to `until` (taking effect by `at`, if given)."""
        sql = "SELECT position FROM ledger_corrections WHERE position > ? AND position <= ?"
        args: tuple[Any, ...] = (after, until)
        if at is not None:
            sql += " AND (effective_at IS NULL OR effective_at <= ?)"
            args += (at.astimezone(UTC).isoformat(),)
        out = []
        for row in self.ledger.db.query(sql + " ORDER BY position", args):
            position = int(row["position"])
            [n] = self.ledger.recorder.select_notifications(start=position, limit=1, inclusive_of_start=True)
            out.append((position, self.ledger.mapper.to_domain_event(n)))
        return out

    def _corrections(self, after: int, until: int, at: datetime) -> list[tuple[int, Any]]:
        """The corrections in (after, until] taking effect by `at`, and the events whose effect they move there."""
        chosen: dict[int, Any] = {}
        for position, e in self.corrections_between(after, until, at):
            chosen[position] = e
            moved = moved_version(e)
            if moved is not None:
                for p, stored in self.ledger.stored_events_of(e.originator_id):
                    if stored.originator_version == moved and after < p <= until:
                        chosen[p] = self.ledger.mapper.to_domain_event(stored)
        return sorted(chosen.items(), key=lambda pe: pe[0])

    def corrections_after(self, cut: Cut) -> list[tuple[int, Any]]:
        """The events a cut applies on top of its prefix: its corrections and the events they move."""
        return self._corrections(cut.position, cut.known_position, cut.at) if cut.corrections else []

    def replica_for(self, cut: Cut) -> MemoryDb:
        """The read models as at `cut.at`, as known at `cut.as_known_at` (cached)."""
        if not cut.corrections:
            return self.replica(cut.position)
        key = (cut.position, cut.known_position, cut.at.astimezone(UTC).isoformat())
        db = self._cached(key)
        if db is not None:
            return db
        db = MemoryDb(self.replica(cut.position).serialize())
        events = self._corrections(cut.position, cut.known_position, cut.at)
        views = [v for v in self.make_views() if not v.all_topics]
        with db.write() as tx:
            for v in views:
                v.begin_page(tx)
                for position, e in events:
                    if isinstance(e, CatalogEntry.Event) and tx.scalar(
                            "SELECT COUNT(*) FROM catalog_entries WHERE id = ?", (str(e.originator_id),)) == 0:
                        continue  # an entry drafted after the cut has nothing there to correct
                    if v.wants(get_topic(type(e))):
                        v.apply(tx, e, position)
                v.end_page(tx)
        with self._lock:
            self._cache[key] = db
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return db

    # -- replicas ----------------------------------------------------------------------------

    def replica(self, position: int) -> MemoryDb:
        """The read models as they stood right after `position` (cached; built from a checkpoint)."""
        db = self._cached(position)
        if db is not None:
            return db
        with self._lock:
            gate = self._gates.setdefault(position, threading.Lock())
        with gate:  # callers asking for one position wait for its one build
            db = self._cached(position)
            if db is not None:
                return db
            with self._builds:
                base, db = self._nearest_checkpoint(position)
                self._replay(db, base, position)
            with self._lock:
                self._cache[position] = db
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
                self._gates.pop(position, None)
        return db

    def _cached(self, key: Any) -> MemoryDb | None:
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        return None

    def full_replay(self, position: int) -> MemoryDb:
        """A replica built from the first event, ignoring checkpoints (the reference the tests compare with)."""
        db = self._fresh()
        self._replay(db, 0, position)
        return db

    def _fresh(self) -> MemoryDb:
        db = MemoryDb()
        with db.write() as tx:
            for v in self.make_views():
                v.create(tx)
        return db

    def _payloads(self, sql: str, args: tuple[Any, ...]) -> list[tuple[int, bytes | memoryview]]:
        """(position, payload) rows of state_checkpoints; on PostgreSQL fetched in binary (no hex to decode)."""
        db = self.ledger.db
        with db.lone() as tx:
            if db.dialect == "postgres":
                tx.raw.execute(adapt(sql, "postgres"), args, binary=True)
                rows = tx.raw.fetchall()
                return [(int(r["position"]), r["payload"]) for r in rows]
            return [(int(r["position"]), r["payload"]) for r in tx.execute(sql, args).fetchall()]

    def _chain(self, position: int) -> tuple[int, list[bytes | memoryview]]:
        """The nearest checkpoint at or before `position` whose chain back to a base is whole, and that chain
        (base first); (0, []) when there is none."""
        at, links = self._links(position, "payload")
        return at, [payload for _, payload in links]

    def _links(self, position: int, column: str) -> tuple[int, list[tuple[int, bytes | memoryview]]]:
        """`_chain` as (position, `column`) pairs, base first: `column` is the payload, or only its head
        (`substr(payload, 1, HEAD_BYTES)`: enough to follow the links and size the image)."""
        while position > 0:
            top = self._payloads(f"SELECT position, {column} AS payload FROM state_checkpoints WHERE signature = ? "
                                 "AND position <= ? ORDER BY position DESC LIMIT 1", (self.signature, position))
            if not top:
                return 0, []
            at, payload = top[0]
            if not is_delta(payload):
                return at, [(at, payload)]
            base = delta_head(payload).base
            rows = dict(self._payloads(f"SELECT position, {column} AS payload FROM state_checkpoints WHERE "
                                       "signature = ? AND position >= ? AND position < ?", (self.signature, base, at)))
            chain, link = [(at, payload)], delta_head(payload).parent
            while link in rows and is_delta(rows[link]):
                chain.append((link, rows[link]))
                link = delta_head(rows[link]).parent
            if link in rows and link == base:
                chain.append((link, rows[link]))
                return at, chain[::-1]
            position = link - 1  # a link is missing (rows dropped by hand): try the checkpoints before it
        return 0, []

    def _nearest_checkpoint(self, position: int) -> tuple[int, MemoryDb]:
        at, heads = self._links(position, f"substr(payload, 1, {HEAD_BYTES})")
        db = self._load_overlapped(heads) if heads else None
        if db is not None:
            return at, db
        at, chain = self._chain(position)  # a zlib base, or a link gone since the heads were read
        if not chain:
            return 0, self._fresh()
        return at, open_chain(chain)

    def _load_overlapped(self, heads: list[tuple[int, bytes | memoryview]]) -> MemoryDb | None:
        """The replica a chain stands for, given its links' heads (decision 0036): one thread fetches the base
        and decompresses it into SQLite's buffer while this one fetches the deltas, which both threads then
        decompress; their pages are written on in order once the base is in. None when the base does not say
        its size (zlib, before decision 0019) or a link is no longer stored as its head was read (the caller then loads the chain
        as `open_chain` does)."""
        capacity = image_capacity([head for _, head in heads])
        if capacity is None:
            return None
        buffer = ImageBuffer(capacity)
        (base, _), deltas = heads[0], [p for p, _ in heads[1:]]

        heads_at = dict(heads)

        def same(position: int, payload: bytes | memoryview) -> bool:  # the checkpoint whose head was read
            return bytes(payload[:HEAD_BYTES]) == bytes(heads_at[position])

        def fill() -> int | None:
            rows = self._payloads("SELECT position, payload FROM state_checkpoints WHERE signature = ? AND "
                                  "position = ?", (self.signature, base))
            return fill_base(buffer.view, rows[0][1]) if rows and same(base, rows[0][1]) else None

        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="checkpoint-load") as pool:
            filled = pool.submit(fill)
            unpacked: list[Any] = []
            if deltas:
                rows = dict(self._payloads("SELECT position, payload FROM state_checkpoints WHERE signature = ? "
                                           "AND position > ? AND position <= ?", (self.signature, base, deltas[-1])))
                if any(p not in rows or not same(p, rows[p]) for p in deltas):
                    return None  # the pool ends the base's thread before the buffer is dropped
                unpacked = list(pool.map(unpack_delta, [rows[p] for p in deltas]))
            size = filled.result()
        if size is None:
            return None
        for item in unpacked:
            size = write_pages(buffer.view, item)
        return MemoryDb.of_image(buffer, size)

    def _replay(self, db: MemoryDb, after: int, until: int) -> None:
        views = self.make_views()
        topics: tuple[str, ...] = ()
        if not any(v.all_topics for v in views):
            topics = tuple(sorted({t for v in views for t in v.topic_names}))
        start = after
        while start < until:
            page = self.ledger.recorder.select_notifications(
                start=start, limit=self.page_size, stop=until, topics=topics, inclusive_of_start=False
            )
            if not page:
                break
            with db.write() as tx:
                for v in views:
                    v.begin_page(tx)
                    for n in page:
                        if v.wants(n.topic):
                            v.apply(tx, self.ledger.mapper.to_domain_event(n), n.id)
                    v.end_page(tx)
            start = page[-1].id

    # -- checkpoints -------------------------------------------------------------------------

    def latest_checkpoint(self) -> int:
        value = self.ledger.db.scalar(
            "SELECT MAX(position) FROM state_checkpoints WHERE signature = ?", (self.signature,)
        )
        return int(value or 0)

    def checkpoint(self, *, force: bool = False, max_steps: int = 100) -> int | None:
        """Stores a checkpoint at every `checkpoint_every` events past the last one, up to the head (at most
        `max_steps` at a call, oldest first; with `force`, one at the head too). Returns the last position
        stored, None when none was due. The checkpoints are taken of this process's own replica, advanced
        from one to the next, so taking one costs the replay of the events since the last."""
        head = self.ledger.max_position()
        last = self.latest_checkpoint()
        stored = None
        for _ in range(max_steps):
            target = last + self.checkpoint_every
            if target > head:
                if not force or head <= last:
                    break
                target = head
            if not self._store_checkpoint(last, target):
                break
            stored = last = target
        return stored

    def _rolling_at(self, position: int) -> _Rolling:
        """This process's replica at `position`, the last stored checkpoint (loaded from the store when another
        process stored it, or at the first call)."""
        roll = self._roll
        if roll is not None and roll.position == position:
            return roll
        if roll is not None:
            roll.db.close()
        self._roll = None
        at, chain = self._chain(position)
        if not chain or at != position:  # nothing stored yet, or the last one unreadable: start a new chain
            # an image SQLite was handed (not a plain in-memory database): it serializes with one copy of its
            # buffer instead of a walk over its pages, half the time
            db = _as_image(self._fresh()) if not chain else open_chain(chain)
            self._replay(db, at, position)
            roll = _Rolling(position=position, db=db, image=None, base=0, since_base=0)
        else:
            image = replica_image(chain)
            head = delta_head(chain[-1]) if len(chain) > 1 else None
            roll = _Rolling(position=position, db=MemoryDb(image), image=image,
                            base=head.base if head else at, since_base=head.since_base if head else 0)
        self._roll = roll
        return roll

    def _store_checkpoint(self, last: int, target: int) -> bool:
        """Advances the rolling replica from `last` to `target` and stores it there; False when another
        process stored a checkpoint there first (ours is dropped: its pages need not match the stored one)."""
        with self._checkpointing:
            roll = self._rolling_at(last)
            self._replay(roll.db, last, target)
            roll.position = target
            # the replica's bytes in place (SQLite's own buffer): compared with the last image page by page, only
            # the pages that differ are copied (into the delta, and into the last image, advanced to this one)
            with roll.db.image() as image:
                pages: list[int] | None = None
                if roll.image is None:
                    payload, base, since = pack_checkpoint(image), target, 0
                else:
                    pages = changed_pages(roll.image, image, page_size_of(image))
                    payload = pack_delta(roll.image, image, parent=last, base=roll.base,
                                         since_base=roll.since_base, pages=pages)
                    base, since = roll.base, delta_head(payload).since_base
                    if since > len(image) * self.rebase_share:  # the chain is long enough: a new base instead
                        payload, base, since, pages = pack_checkpoint(image), target, 0, None
                with self.ledger.db.write() as tx:
                    tx.execute(
                        "INSERT INTO state_checkpoints VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                        (self.signature, target, datetime.now(UTC).isoformat(), len(payload), payload),
                    )
                    inserted = tx.raw.rowcount == 1
                if not inserted:
                    self._roll = None
                else:
                    if roll.image is None or pages is None:
                        roll.image = bytearray(image)
                    else:
                        advance_image(roll.image, image, pages, page_size_of(image))
                    roll.base, roll.since_base = base, since
            if not inserted:
                roll.db.close()
                return False
            return True
