"""An unscoped stream at the head follows the ledger's tail, read straight from the event store: what it
sends is what the cursor pages send for the same positions (chain hash included), in order, once each,
and it sends it without waiting for the feed index or the chain to catch up."""

from __future__ import annotations

import threading
import time

from tests.api.test_events_api import sse
from tests.support import register

ORG_REGISTERED = "cn.gov.shaanxi.mz.organization.registered"


def follow(server, token: str, after: int, query: str, until: list[int], got: list[dict],
           done: threading.Event) -> None:
    with server.client(token) as c, c.stream("GET", f"/events/stream{query}",
                                             headers={"Last-Event-ID": str(after)}) as r:
        for msg in sse(r):
            if "data" in msg:
                assert int(msg["id"]) == msg["data"]["ledgerposition"]
                got.append(msg["data"])
            if got and got[-1]["ledgerposition"] >= until[0]:
                done.set()
                return


def pages(server, token: str, after: int, query: str = "") -> list[dict]:
    out: list[dict] = []
    with server.client(token) as c:
        while True:
            body = c.get(f"/events?after={after}&limit=500{query}").json()
            out += body["events"]
            if len(body["events"]) < 500:
                return out
            after = body["next"]


def test_an_unscoped_stream_at_the_head_sends_the_pages_events_without_the_read_models(runtime, server, admin,
                                                                                      admin_token):
    register(runtime, admin, "div-before")
    start = runtime.ledger.max_position()
    until = [10**12]
    everything: list[dict] = []
    registered: list[dict] = []
    done_all, done_type = threading.Event(), threading.Event()
    readers = [threading.Thread(target=follow, args=(server, admin_token, start, "", until, everything, done_all),
                                daemon=True),
               threading.Thread(target=follow, args=(server, admin_token, start, f"?type={ORG_REGISTERED}", until,
                                                     registered, done_type), daemon=True)]
    for r in readers:
        r.start()
    hub = runtime.feeds.hub
    deadline = time.monotonic() + 10
    while (len(hub._live) < 2 or runtime.feeds.tail is None) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(hub._live) == 2 and runtime.feeds.tail is not None  # both wait at the head, the tail is started

    refreshed: list[int] = []
    real = runtime.feeds.refresh

    def counted() -> int:
        refreshed.append(1)
        return real()

    runtime.feeds.refresh = counted  # type: ignore[method-assign]
    for i in range(4):
        register(runtime, admin, f"div-live-{i}")
    until[0] = runtime.ledger.max_position()
    assert done_type.wait(20) and done_all.wait(20), (everything[-1:], registered[-1:])
    assert refreshed == []  # delivered with no catch-up of the feed index or the chain on the stream's path
    runtime.feeds.refresh = real  # type: ignore[method-assign]

    assert [e["ledgerposition"] for e in everything] == list(range(start + 1, until[0] + 1))
    assert everything == pages(server, admin_token, start)
    assert all("ledgerhash" in e for e in everything) == runtime.feeds.chained
    assert [e["data"]["code"] for e in registered] == [f"div-live-{i}" for i in range(4)]
    assert registered == pages(server, admin_token, start, f"&type={ORG_REGISTERED}")


def test_a_stream_that_falls_behind_the_tail_reads_the_index_with_no_gap(runtime, server, admin, admin_token):
    feeds = runtime.feeds
    feeds.tail_events = 3  # the tail keeps three events: a burst of more leaves a waiting stream behind it
    start = runtime.ledger.max_position()
    until = [10**12]
    got: list[dict] = []
    done = threading.Event()
    reader = threading.Thread(target=follow, args=(server, admin_token, start, "", until, got, done), daemon=True)
    reader.start()
    deadline = time.monotonic() + 10
    while (not feeds.hub._live or feeds.tail is None) and time.monotonic() < deadline:
        time.sleep(0.01)
    hub = feeds.hub
    gate, follow_tail = threading.Event(), hub._follow
    assert follow_tail is not None

    def gated() -> int:  # the hub's next read waits until the whole burst is committed
        gate.wait(10)
        return follow_tail()

    hub._follow = gated
    time.sleep(0.1)  # a read under way when the gate was put in is over
    for i in range(5):
        register(runtime, admin, f"div-burst-{i}")
    until[0] = runtime.ledger.max_position()
    gate.set()
    assert done.wait(20), got[-1:]
    assert [e["ledgerposition"] for e in got] == list(range(start + 1, until[0] + 1))
    assert got == pages(server, admin_token, start)
    assert feeds.tail is not None and feeds.tail.start > start  # the tail had moved past the stream's cursor


def test_an_unscoped_stream_from_the_start_reads_the_store_in_pages_cut_by_size(runtime, server, admin,
                                                                                admin_token):
    """Behind the horizon an unfiltered stream of the Office reads the events table itself, one statement a
    page: the same events as the cursor pages, none twice, and a page never loads more than `chunk_bytes` of
    stored events beyond its first."""
    for i in range(12):
        register(runtime, admin, f"div-old-{i}")
    head = runtime.ledger.max_position()
    feeds = runtime.feeds
    sizes = {int(r["p"]): int(r["n"]) for r in runtime.ledger.db.query(
        f"SELECT {runtime.ledger.position_column} AS p, LENGTH(state) AS n FROM {runtime.ledger.events_table}")}
    feeds.chunk_bytes = 3 * max(sizes.values())  # a few events a page, so pages are cut by size
    pages_read: list[list[int]] = []
    real = feeds.direct_page

    def counted(after, horizon, limit):
        out = real(after, horizon, limit)
        pages_read.append(out.positions)
        return out

    feeds.direct_page = counted  # type: ignore[method-assign]
    got: list[dict] = []
    done = threading.Event()
    follow(server, admin_token, 0, "", [head], got, done)
    assert done.is_set()
    assert [e["ledgerposition"] for e in got] == list(range(1, head + 1))
    assert got == pages(server, admin_token, 0)
    assert len(pages_read) > 2
    for page in pages_read:
        assert sum(sizes[p] for p in page[:-1]) < feeds.chunk_bytes
