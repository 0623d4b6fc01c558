"""Event feeds for integrators: cursor pages of CloudEvents over the whole ledger, scoped and filtered.

Gap-free: a page never goes past the *horizon*, the position up to which the feed index (and the
hash chain, when it is kept) has applied every event. The projector applies events in position
order, and the store commits in position order (PostgreSQL: every insert holds the events table's
EXCLUSIVE lock from taking its ids to commit; SQLite: one writer at a time), so no event below the
horizon can still appear. A reader that passed position P has seen every event <= P it may see.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.persistence import StoredEvent

from application.common import ApplicationError, Principal
from application.feed_hub import Hub
from infrastructure import chain_rows, event_rows, feed_rows
from infrastructure.cloudevents import catalogue, envelope, public_data, subject_of
from infrastructure.sse_frames import FrameWriter, Shape, hyphenated
from infrastructure.store import Ledger, recorded_profile_row
from infrastructure.verifier import GENESIS, Suite, canonical_bytes, suite
from projections.feed import EVERYONE
from projections.ledger_chain import head_hash
from projections.runner import Projector

MAX_LIMIT = 500
_json = msgspec.json.Encoder()


class FeedScope(msgspec.Struct, frozen=True):
    """Whose *events* a reader of a feed may see: one organization's audience, or (org None) all of them.

    Not `projections.scope.Scope`, which says whose *rows* a query shows: a feed also carries whether the
    reader gets access-log events at all (the platform's account writes the log and reads none of it, in no
    feed either), where a row scope has no such flag because the access-log queries refuse that caller
    outright; and a feed's organization is the caller's own, where a row scope's is the one it acts for."""

    org: str | None = None
    access_log: bool = True
    """False for the platform's account: it writes the access log and reads none of it, in no feed either."""

    @classmethod
    def of(cls, p: Principal) -> FeedScope:
        if p.sees_everything:
            return cls(None)
        # the organization the caller acts and reads for, as a row read's scope; NOBODY (in no audience) for a
        # person without roles, who reads the public events only
        return cls(p.acting_for, access_log=p.reads_access_log)


class Filter(msgspec.Struct, frozen=True):
    types: tuple[str, ...] = ()
    subject: str | None = None


ALL = Filter()


class FeedPage(msgspec.Struct, frozen=True):
    events: list[dict[str, Any]]
    next: int
    """The cursor for the next page (`after=`): the last event's position, or the horizon when the page is short."""
    horizon: int


class DirectPage(msgspec.Struct, frozen=True):
    """A page of an unfiltered stream read straight from the store: its events' SSE frames, ready to send."""

    frames: bytes
    positions: list[int]
    """The positions of the events framed, in order."""
    next: int
    """The cursor after the page."""
    more: bool
    """Whether more may follow before the horizon."""


class TailEvent(msgspec.Struct, frozen=True):
    """One event of the ledger's tail as every unscoped reader sees it, decoded and encoded once."""

    position: int
    type: str
    subject: str
    event: Any
    hash: str | None
    frame: bytes | None
    """The CloudEvent as JSON; None for an access-log batch, whose receipt is looked up for each reader."""
    size: int
    """Bytes it holds: its frame, or its stored state when it has none."""


class Tail(msgspec.Struct, frozen=True):
    """The events after `start` up to `head`, all of them (events of unregistered types left out, as the feed
    index leaves them out): a stream whose cursor is at `start` or later takes what follows from here."""

    start: int
    head: int
    events: tuple[TailEvent, ...] = ()
    positions: tuple[int, ...] = ()

    def after(self, cursor: int) -> tuple[TailEvent, ...]:
        return self.events[bisect.bisect_right(self.positions, cursor):]


class FeedService:
    def __init__(self, ledger: Ledger, projector: Projector) -> None:
        self.ledger = ledger
        self.projector = projector
        self.chained = "ledger_chain" in projector.views
        self.hub = Hub(self.refresh, self.follow_tail)
        self.hub.on_idle = self.drop_tail
        self.hub.ready = lambda: self.tail is not None
        self.tail: Tail | None = None
        """The ledger's newest events, read straight from the event store by the hub's thread (no read model
        between the commit and an unscoped stream); None until a stream waits at the head."""
        self.tail_events = 2000
        self.tail_bytes = 8 << 20
        """How many of the newest events the tail keeps, and how many bytes of them at most (the newest event is
        kept whatever its size); a stream further behind reads the feed index."""
        self.tail_page = 500
        self.live_tail = True
        """Whether unscoped streams follow the tail; off, every stream waits for the feed index (kept for A/B)."""
        self._prev = GENESIS
        self._suite: Suite = suite(None)
        self.heartbeat_seconds = 15.0
        self.chunk_bytes = 1 << 20
        """Stored bytes of events a stream loads at once (a single larger event is loaded alone)."""
        self.source = ledger.settings.public_base_url
        """The CloudEvents `source` of every event: the service's public base URL (an absolute URI)."""
        self._frames = FrameWriter(ledger.plain_bytes)
        self.receipt_of: Callable[[UUID, str | None], dict[str, Any] | None] | None = None
        """The signed receipt of an access-log batch as a reader may see it (set by the runtime; 第二十二条)."""

    # -- the horizon -----------------------------------------------------------------------

    def horizon(self) -> int:
        views = ("feed", "ledger_chain") if self.chained else ("feed",)
        return min(self.projector.position(v) for v in views)

    def refresh(self) -> int:
        """Brings the feed index (and the chain) up to the ledger's head; returns the new horizon."""
        head = self.ledger.max_position()
        self.projector.wait_for(head, "feed", *(("ledger_chain",) if self.chained else ()))
        return self.horizon()

    # -- the tail: the newest events straight from the store ---------------------------------

    def follow_tail(self) -> int:
        """Reads the events committed after the tail's head (one statement per page of them) and returns the
        new head. The first call starts the tail where the feed index and the chain stand, and reads the
        chain's hash there, from which each new event's hash is computed as the chain view computes it.

        Gap-free for the same reason the index is: the store commits in position order, so the events after
        the head that a read sees are all there will ever be up to the last of them."""
        tail = self.tail
        if tail is None:
            start = self.refresh()
            self.hub.advance(start)
            with self.ledger.db.read() as tx:
                profile = recorded_profile_row(tx)
                prev = head_hash(tx, start) if self.chained else None
            self._suite = suite(None if profile is None else profile["value"])
            self._prev = GENESIS if prev is None else prev
            tail = self.tail = Tail(start, start)
        while True:
            page = self.ledger.recorder.select_notifications(start=tail.head, limit=self.tail_page,
                                                             inclusive_of_start=False)
            if not page:
                return tail.head
            tail = self.tail = self._extend(tail, page)
            if len(page) < self.tail_page:
                return tail.head

    def _extend(self, tail: Tail, page: Sequence[Any]) -> Tail:
        by_topic = catalogue().by_topic
        added: list[TailEvent] = []
        prev = self._prev  # kept only once the whole page is read: a failure retries from the same hash
        for n in page:
            h: str | None = None
            if self.chained:
                prev = self._suite.chain_hash(prev, canonical_bytes(
                    n.id, n.originator_id, n.originator_version, n.topic, bytes(n.state)))
                h = prev.hex()
            t = by_topic.get(n.topic)
            if t is None:  # a class no context registered: in no feed (the index leaves it out too)
                continue
            event = self.ledger.mapper.to_domain_event(n)
            shared = self.receipt_of is None or not hasattr(event, "records")
            frame = _json.encode(envelope(event, n.id, h, source=self.source)) if shared else None
            added.append(TailEvent(n.id, t.name, subject_of(t.kind, event.originator_id),
                                   None if shared else event, h, frame,
                                   len(frame) if frame is not None else len(n.state)))
        events = (*tail.events, *added)[-self.tail_events:]
        held, first = 0, len(events)
        while first > 0 and (first == len(events) or held + events[first - 1].size <= self.tail_bytes):
            first -= 1
            held += events[first].size
        events = events[first:]
        start = tail.start if len(events) == len(tail.events) + len(added) else events[0].position - 1
        self._prev = prev
        return Tail(start, page[-1].id, events, tuple(e.position for e in events))

    def drop_tail(self) -> None:
        """Nobody waits at the head: the next stream that does starts the tail again from the index."""
        self.tail = None

    def tail_frames(self, events: Sequence[TailEvent], scope: FeedScope, f: Filter) -> list[TailEvent]:
        """The tail's events an unscoped reader with this filter is sent."""
        return [e for e in events if (not f.types or e.type in f.types) and (not f.subject or e.subject == f.subject)
                and (scope.access_log or not e.subject.startswith("access-log/"))]

    def encode_tail(self, events: Sequence[TailEvent], scope: FeedScope) -> list[tuple[int, bytes]]:
        """(position, CloudEvent JSON) of tail events for an unscoped reader; an access-log batch gets the
        receipt this reader may see (looked up now, so run it in a worker thread when one is among them)."""
        out = []
        for e in events:
            if e.frame is not None:
                out.append((e.position, e.frame))
                continue
            data = public_data(e.event)
            receipt = self.receipt_of(e.event.originator_id, scope.org) if self.receipt_of is not None else None
            if receipt is not None:
                data["receipt"] = receipt
            out.append((e.position, _json.encode(envelope(e.event, e.position, e.hash, data=data,
                                                          source=self.source))))
        return out

    # -- pages -----------------------------------------------------------------------------

    def check(self, f: Filter) -> Filter:
        unknown = [t for t in f.types if t not in catalogue().by_name]
        if unknown:
            raise ApplicationError(f"Unknown event type {unknown[0]!r}; GET /events/types lists them.")
        return f

    def page(self, scope: FeedScope, after: int, limit: int, f: Filter = ALL,
             horizon: int | None = None) -> FeedPage:
        """Events after `after` up to the horizon that the scope may see and the filter keeps, in order."""
        if after < 0:
            raise ApplicationError("after is a ledger position (0 or more).")
        limit = max(1, min(limit, MAX_LIMIT))
        top = self.refresh() if horizon is None else horizon
        positions = self._positions(scope, after, top, limit, f)
        events = self.events_at(positions, scope)
        nxt = positions[-1] if len(positions) == limit else max(after, top)
        return FeedPage(events=events, next=nxt, horizon=top)

    def _positions(self, scope: FeedScope, after: int, top: int, limit: int, f: Filter) -> list[int]:
        return feed_rows.feed_positions(self.ledger.db, after=after, upto=top, limit=limit, types=f.types,
                                        subject=f.subject, access_log=scope.access_log, org=scope.org,
                                        everyone=EVERYONE)

    def chunks(self, positions: Sequence[int], max_bytes: int) -> list[list[int]]:
        """Splits positions into runs whose stored events add up to at most `max_bytes` (a bigger one goes alone)."""
        if not positions:
            return []
        sizes = event_rows.state_sizes(self.ledger, positions)
        out: list[list[int]] = [[]]
        held = 0
        for pos in positions:
            size = sizes.get(pos, 0)
            if out[-1] and held + size > max_bytes:
                out.append([])
                held = 0
            out[-1].append(pos)
            held += size
        return out

    def stream_page(self, scope: FeedScope, after: int, limit: int, f: Filter,
                    horizon: int) -> tuple[list[int], int]:
        """The positions of the next stream page (no payloads) and the cursor after it."""
        positions = self._positions(scope, after, horizon, limit, f)
        return positions, positions[-1] if len(positions) == limit else max(after, horizon)

    def stream_plan(self, scope: FeedScope, after: int, limit: int, f: Filter,
                    horizon: int) -> tuple[list[list[int]], int, int]:
        """The next stream page as runs of positions of at most `chunk_bytes` of stored events, the cursor after
        it, and how many positions it holds (one call, so a stream crosses to a worker thread once per page)."""
        positions, cursor = self.stream_page(scope, after, limit, f, horizon)
        return self.chunks(positions, self.chunk_bytes), cursor, len(positions)

    def direct_page(self, after: int, horizon: int, limit: int) -> DirectPage:
        """An unscoped, unfiltered stream's next page, read straight from the event store with the chain's hashes
        in one statement (no feed index between), as its SSE frames written at once (`infrastructure.sse_frames`:
        `data` from the stored JSON, no typed round trip), the cursor after it, and whether more may follow
        before the horizon. At most `limit` events, and at most `chunk_bytes` of stored events (a larger single
        event alone): the database cuts the page, so no more is loaded."""
        rows = event_rows.page_within_bytes(self.ledger, after, horizon, limit, self.chunk_bytes,
                                            with_chain=self.chained)
        if not rows:
            return DirectPage(b"", [], max(after, horizon), False)
        sqlite = self.ledger.backend == "sqlite"
        page = [(int(r[0]), hyphenated(r[1]) if sqlite else r[1], int(r[2]), r[3], bytes(r[4]),
                 None if r[5] is None else bytes(r[5])) for r in rows]
        buf = bytearray()
        positions = self._frames.write(buf, page, self.source, lambda i: self._typed(page[i]), self._wants_typed)
        n = int(rows[0][6])
        more = len(rows) < n or n == limit
        return DirectPage(bytes(buf), positions, page[-1][0] if more else max(after, horizon), more)

    def _wants_typed(self, shape: Shape) -> bool:
        """An access-log batch carries the receipt a reader may see in its `data`: built from the typed event."""
        return self.receipt_of is not None and "records" in shape.names

    def _typed(self, row: tuple[int, str, int, str, bytes, bytes | None]) -> bytes:
        """One row's CloudEvent through the typed round trip (the mapper's event, `public_data`, `envelope`)."""
        pos, oid, version, topic, state, chain = row
        event = self.ledger.mapper.to_domain_event(StoredEvent(originator_id=UUID(oid), originator_version=version,
                                                               topic=topic, state=state))
        data = None
        if self.receipt_of is not None and hasattr(event, "records"):
            data = public_data(event)
            receipt = self.receipt_of(event.originator_id, None)
            if receipt is not None:
                data["receipt"] = receipt
        return _json.encode(envelope(event, pos, None if chain is None else chain.hex(), data=data,
                                     source=self.source))

    def encoded_at(self, positions: Sequence[int], scope: FeedScope) -> list[tuple[int, bytes]]:
        """(position, the CloudEvent as JSON bytes) for each event at these positions, as the scope may see it:
        the encoding runs in the caller's worker thread too, not on the stream's event loop."""
        return [(int(ce["ledgerposition"]), _json.encode(ce)) for ce in self.events_at(positions, scope)]

    def events_at(self, positions: Sequence[int], scope: FeedScope) -> list[dict[str, Any]]:
        """The CloudEvents at these positions, as the scope may see them (access logs cut to its records)."""
        if not positions:
            return []
        rows = event_rows.events_at(self.ledger, positions)
        hashes: dict[int, str] = {}
        if self.chained:
            hashes = {int(r["position"]): bytes(r["hash"]).hex()
                      for r in chain_rows.hashes_at(self.ledger.db, positions)}
        out = []
        for r in rows:
            oid = r["originator_id"]
            stored = StoredEvent(originator_id=oid if isinstance(oid, UUID) else UUID(str(oid)),
                                 originator_version=int(r["originator_version"]), topic=r["topic"],
                                 state=bytes(r["state"]))
            event = self.ledger.mapper.to_domain_event(stored)
            pos = int(r["position"])
            data = redact(event, scope)
            if self.receipt_of is not None and hasattr(event, "records"):
                data = public_data(event) if data is None else data
                receipt = self.receipt_of(event.originator_id, scope.org)
                if receipt is not None:
                    data["receipt"] = receipt
            out.append(envelope(event, pos, hashes.get(pos), data=data, source=self.source))
        return out


def redact(event: Any, scope: FeedScope) -> dict[str, Any] | None:
    """An access-log batch names many organizations: a scoped reader gets only the records about it."""
    if scope.org is None or not hasattr(event, "records"):
        return None
    data = public_data(event)
    data["records"] = [raw for r, raw in zip(event.records, data["records"], strict=True)
                       if scope.org in (r.holder, r.provider)]
    return data
