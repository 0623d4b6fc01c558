"""HTTP routes of the event feeds: cursor pages, the live Server-Sent Events stream, and the type catalogue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any
from urllib.parse import urlencode

import msgspec
from litestar import Controller, Request, Response, get
from litestar.concurrency import sync_to_thread
from litestar.di import NamedDependency
from litestar.params import HeaderParameter, Parameter, PathParameter, QueryParameter
from litestar.response import ServerSentEvent
from litestar.response.sse import ServerSentEventMessage

from api.contract import Page, Row
from api.params import (
    MAX_INT64,
    Limit,
    position_of,
)
from application.common import NotFound, Principal
from application.feeds import FeedPage, FeedScope, FeedService, Filter, TailEvent
from infrastructure.cloudevents import BATCH_MEDIA_TYPE, catalogue, data_schema
from projections.feed import OWNERS

After = Annotated[int, Parameter(ge=0, le=MAX_INT64, description="Cursor: the ledger position after which to read")]
Types = Annotated[list[str] | None, QueryParameter(name="type", max_items=100, description="Event types to keep (repeat or comma-separate)")]
Subject = Annotated[str | None, Parameter(max_length=200, description="Only this object's events, e.g. grant/<uuid>")]
LastEventId = Annotated[str | None, HeaderParameter(
    name="Last-Event-ID", required=False, schema_extra={"pattern": r"^[0-9]{1,19}$"},
    description="Resume after this ledger position (the `id` of the last event received); wins over `after`.")]
"""Documented with the position's pattern; checked (and range-checked) by the one position parser, as before."""


class EventTypeRow(msgspec.Struct, omit_defaults=False):
    """One event type of the catalogue: its aggregate kind, schema version, the URI of its data's schema, and
    whether only the organizations it concerns see it (`scoped`)."""

    type: str
    kind: str
    version: int
    dataschema: str
    scoped: bool

STREAM_PAGE = 100
"""Positions per stream page; their payloads are loaded `FeedService.chunk_bytes` at a time."""
DIRECT_PAGE = 500
"""Events per page of an unfiltered stream read straight from the store (cut at `FeedService.chunk_bytes` too)."""
_SEP = b"\r\n"


class Frames(ServerSentEventMessage):
    """SSE events already framed (`FeedService.direct_page`), handed to the server as they are."""

    def __init__(self, frames: bytes) -> None:
        super().__init__(data=None)
        self.frames = frames

    def encode(self) -> bytes:
        return self.frames


class EncodedEvents(ServerSentEventMessage):
    """Several SSE events framed at once, byte for byte as one `ServerSentEventMessage(id=position, data=json)`
    each would be (`id: P`, `data: JSON`, blank line; a JSON text from msgspec holds no line break, so it is one
    data line), handed to the server in one write instead of one per event."""

    def __init__(self, events: list[tuple[int, bytes]]) -> None:
        super().__init__(data=None)
        self.events = events

    def encode(self) -> bytes:
        return b"".join(b"id: %d\r\ndata: %b\r\n\r\n" % (pos, data) for pos, data in self.events)


def _filter(feeds: FeedService, types: list[str] | None, subject: str | None) -> Filter:
    names = tuple(t.strip() for raw in (types or ()) for t in raw.split(",") if t.strip())
    return feeds.check(Filter(types=names, subject=subject or None))


class EventController(Controller):
    path = "/events"
    tags = ["events"]

    @get("/", sync_to_thread=True)
    def list_events(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
                    feeds: NamedDependency[FeedService], after: After = 0, limit: Limit = 100, types: Types = None,
                    subject: Subject = None) -> Response[FeedPage]:
        """CloudEvents after a position, in ledger order, that the caller's organization may see.

        Follow `next` as the next `after`; a short page means the caller has reached the horizon. With
        `Accept: application/cloudevents-batch+json` the page is a CloudEvents batch (a JSON array of the
        events) and the cursor travels in headers: `X-Ledger-Next` and a `Link` with `rel="next"`."""
        page = feeds.page(FeedScope.of(principal), after, limit, _filter(feeds, types, subject))
        headers = {"X-Ledger-Position": str(page.horizon)}
        if request.accept.best_match(["application/json", BATCH_MEDIA_TYPE]) == BATCH_MEDIA_TYPE:
            query = [(k, v) for k, v in request.query_params.multi_items() if k != "after"]
            link = f"{request.url.path}?{urlencode([*query, ('after', str(page.next))])}"
            headers.update({"X-Ledger-Next": str(page.next), "Link": f'<{link}>; rel="next"', "Vary": "Accept"})
            return Response(page.events, headers=headers, media_type=BATCH_MEDIA_TYPE)
        return Response(page, headers={**headers, "Vary": "Accept"})

    @get("/stream")
    async def stream(self, principal: NamedDependency[Principal], feeds: NamedDependency[FeedService],
                     after: After = 0, types: Types = None, subject: Subject = None,
                     last_event_id: LastEventId = None) -> ServerSentEvent:
        """Live Server-Sent Events (`id` = ledger position); resume with `Last-Event-ID`. Comments are heartbeats."""
        last = position_of(last_event_id, "Last-Event-ID")
        if last is not None:
            after = last
        f = _filter(feeds, types, subject)
        return ServerSentEvent(follow(feeds, FeedScope.of(principal), f, after, feeds.heartbeat_seconds))

    @get("/types", sync_to_thread=False)
    def types(self) -> Response[Page[EventTypeRow]]:
        """Every event type with its aggregate kind, schema version and who may see it."""
        items = [EventTypeRow(type=t.name, kind=t.kind, version=t.version, dataschema=t.dataschema,
                              scoped=t.kind in OWNERS) for t in (catalogue().by_name[n] for n in catalogue().names())]
        return Response({"items": items})

    @get("/types/{name:str}", sync_to_thread=False, response_description=(
        "A JSON Schema document of the type's `data`, declared open: a schema's keywords and "
        "properties differ by event type, so no one object schema describes them all."))
    def schema(self, name: Annotated[str, PathParameter(max_length=200)]) -> Response[Row]:
        """The JSON Schema of one type's `data` (open: a JSON Schema document, its keywords differ by type)."""
        t = catalogue().by_name.get(name)
        if t is None:
            raise NotFound(f"No event type {name!r}.")
        return Response(data_schema(t), media_type="application/schema+json")


async def follow(feeds: FeedService, scope: FeedScope, f: Filter, after: int,
                 heartbeat: float) -> AsyncIterator[ServerSentEventMessage]:
    """Pages up to the horizon, then waits for it to move; a heartbeat whenever nothing was sent for `heartbeat` s.

    An unscoped reader (the Office, auditors) that has reached the horizon follows the ledger's tail instead:
    the events the hub's thread read straight from the store after a commit, each decoded and encoded once for
    every such stream, so nothing waits for a read model between the commit and the send. A scoped reader's
    audience is in the feed index, so it waits for the index to move.

    Memory per client is bounded: a page is at most STREAM_PAGE positions (integers), and event
    payloads are loaded, encoded and sent `feeds.chunk_bytes` of stored events at a time (one larger
    event alone), each such run as one message of its events. An unfiltered stream of the Office behind the
    horizon reads pages of at most DIRECT_PAGE events and `feeds.chunk_bytes` straight from the store, each
    page's frames written at once and sent as one message. Each message is handed to the server and awaited before the next is produced; the server's
    send waits while the socket's write buffer is above its high-water mark, so a client that
    stops reading stops this generator instead of letting events pile up in memory.
    """
    loop = asyncio.get_running_loop()
    cursor = after
    horizon = await sync_to_thread(feeds.refresh)
    yield ServerSentEventMessage(data=None, comment="civic-ledger events", retry=2000)
    sent = loop.time()
    unscoped = scope.org is None and feeds.live_tail
    direct = unscoped and scope.access_log and not f.types and not f.subject
    while True:
        if cursor < horizon and direct:  # everything, straight from the store: one statement per page
            page = await sync_to_thread(feeds.direct_page, cursor, horizon, DIRECT_PAGE)
            cursor = page.next
            if page.frames:
                yield Frames(page.frames)
                sent = loop.time()
            if page.more:
                continue
        if cursor < horizon:
            chunks, cursor, count = await sync_to_thread(feeds.stream_plan, scope, cursor, STREAM_PAGE, f, horizon)
            for chunk in chunks:
                events = await sync_to_thread(feeds.encoded_at, chunk, scope)
                if events:
                    yield EncodedEvents(events)
                    sent = loop.time()
            if count == STREAM_PAGE:
                continue
        tail = feeds.tail if unscoped else None
        if tail is not None and tail.start <= cursor < tail.head:
            for run in _runs(feeds.tail_frames(tail.after(cursor), scope, f), feeds.chunk_bytes):
                shared = all(e.frame is not None for e in run)
                yield EncodedEvents(feeds.encode_tail(run, scope) if shared
                                    else await sync_to_thread(feeds.encode_tail, run, scope))
                sent = loop.time()
            cursor = tail.head
            continue
        if tail is not None and cursor < tail.start:  # fell behind the tail: the index holds what is missing
            horizon = max(horizon, feeds.hub.horizon)
            if horizon <= cursor:  # and the index has not reached the cursor yet: wait for it, as a scoped stream
                if loop.time() - sent >= heartbeat:
                    yield ServerSentEventMessage(data=None, comment="heartbeat")
                    sent = loop.time()
                horizon = max(horizon, await feeds.hub.wait_beyond(cursor, sent + heartbeat - loop.time()))
            continue
        # Traffic this client may not see moves the horizon without sending it anything; the
        # heartbeat is due by the time since the last byte, not since the horizon last moved.
        if loop.time() - sent >= heartbeat:
            yield ServerSentEventMessage(data=None, comment="heartbeat")
            sent = loop.time()
        if unscoped:
            await feeds.hub.wait_head(cursor, sent + heartbeat - loop.time())
        else:
            horizon = max(horizon, await feeds.hub.wait_beyond(horizon, sent + heartbeat - loop.time()))


def _runs(events: list[TailEvent], max_bytes: int) -> list[list[TailEvent]]:
    """Tail events in runs of at most `max_bytes` of encoded frames, each sent as one message."""
    out: list[list[TailEvent]] = [[]]
    held = 0
    for e in events:
        size = len(e.frame) if e.frame is not None else 0
        if out[-1] and held + size > max_bytes:
            out.append([])
            held = 0
        out[-1].append(e)
        held += size
    return [run for run in out if run]
