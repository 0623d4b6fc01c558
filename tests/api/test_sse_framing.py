"""The stream frames a run of events in one write, byte for byte as Litestar frames each event alone."""

from __future__ import annotations

import msgspec
from litestar.response.sse import ServerSentEventMessage

from api.events import EncodedEvents


def test_a_run_of_events_is_framed_exactly_as_one_message_per_event():
    events = [
        {"id": "a:1", "ledgerposition": 1, "data": {"name": "高龄津贴", "note": "two\nlines\r\nand a \r"}},
        {"id": "b:7", "ledgerposition": 42, "data": {"fields": [], "empty": ""}},
        {"id": "c:2", "ledgerposition": 9_223_372_036_854_775_807, "data": None},
    ]
    encoded = [(e["ledgerposition"], msgspec.json.encode(e)) for e in events]
    one_by_one = b"".join(ServerSentEventMessage(id=pos, data=raw.decode()).encode() for pos, raw in encoded)
    assert EncodedEvents(encoded).encode() == one_by_one
    assert EncodedEvents([]).encode() == b""
