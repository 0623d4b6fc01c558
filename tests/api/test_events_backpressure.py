"""A stream client that stops reading holds back its own stream: the server loads a bounded amount, then waits."""

from __future__ import annotations

import re
import socket
import time

import msgspec

from application.feeds import FeedScope
from tests.support import Division, cmd, content, items


def test_a_client_that_stops_reading_stops_its_stream_and_payloads_load_in_bounded_chunks(
        runtime, server, admin_token, admin):
    feeds, ledger = runtime.feeds, runtime.ledger
    feeds.chunk_bytes = 256 * 1024
    # every payload load: (stored bytes of its events, or for the tail the bytes of their JSON; bytes of their JSON)
    loads: list[tuple[int, int]] = []
    real = feeds.events_at

    def stored_bytes(positions) -> int:
        marks = ", ".join("?" for _ in positions)
        return int(ledger.db.scalar(f"SELECT SUM(LENGTH(state)) FROM {ledger.events_table} "
                                    f"WHERE {ledger.position_column} IN ({marks})", tuple(positions)))

    def counted(positions, scope):  # the real loader, measured: the stream advances only by calling it
        out = real(positions, scope)
        loads.append((stored_bytes(positions) if len(positions) > 1 else 0, len(msgspec.json.encode(out))))
        return out

    real_tail = feeds.encode_tail

    def counted_tail(events, scope):  # a stream at the head sends the tail's encoded events, a run at a time
        out = real_tail(events, scope)
        size = sum(len(frame) for _, frame in out)
        loads.append((size if len(out) > 1 else 0, size))
        return out

    real_direct = feeds.direct_page

    def counted_direct(after, horizon, limit):  # an unfiltered stream of the Office reads the store itself
        page = real_direct(after, horizon, limit)
        # a page stops once it holds chunk_bytes: the event that crossed the mark is not counted against it
        loads.append((stored_bytes(page.positions[:-1]) if len(page.positions) > 1 else 0, len(page.frames)))
        return page

    feeds.events_at = counted
    feeds.direct_page = counted_direct
    feeds.encode_tail = counted_tail
    div = Division(runtime, admin, "div-big")
    big = content(data_items=items(*(f"FIELD_{i:05d}" for i in range(500))))
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the client's side holds almost nothing
    sock.settimeout(30)
    sock.connect(("127.0.0.1", server.port))
    try:
        sock.sendall(f"GET /events/stream HTTP/1.1\r\nHost: ledger\r\nAuthorization: Bearer {admin_token}\r\n\r\n"
                     .encode())
        for i in range(200):
            runtime.catalog.draft(div.compiler, cmd(), resource_code=f"SX-BIG-{i}", content=big)
        head = ledger.max_position()
        total = len(msgspec.json.encode(real(range(1, head + 1), FeedScope())))
        # The client never reads: the stream must stop loading (stable for a second) far short of the end.
        seen, stable_since, deadline = -1, time.monotonic(), time.monotonic() + 30
        while time.monotonic() - stable_since < 1.0:
            assert time.monotonic() < deadline, "the stream never stopped loading"
            now = sum(b for _, b in loads)
            if now != seen:
                seen, stable_since = now, time.monotonic()
            time.sleep(0.05)
        assert seen < total // 3, f"loaded {seen} of {total} bytes for a client that reads nothing"
        # Then the client reads: the stream goes on to the end, in order, nothing lost.
        raw, last = bytearray(), f"\nid: {head}\r\n".encode()
        while last not in raw[-(1 << 17):]:
            block = sock.recv(1 << 20)
            assert block, "the server closed the stream"
            raw += block
        assert [int(x) for x in re.findall(rb"\nid: (\d+)\r\n", raw)] == list(range(1, head + 1))
        # Catching up went in pages of up to STREAM_PAGE events, each loaded chunk_bytes of stored events at a time;
        # following the tail, in runs of at most chunk_bytes of encoded events.
        assert max(stored for stored, _ in loads) <= feeds.chunk_bytes < sum(stored for stored, _ in loads)
    finally:
        sock.close()
