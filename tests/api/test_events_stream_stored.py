"""A stream catching up from the start writes its frames from the stored JSON: on the wire, byte for byte, what
the typed encoding of the same events frames, with the payloads encrypted at rest and an access-log batch among
them (which carries its receipt, so it takes the typed encoding)."""

from __future__ import annotations

import dataclasses
import socket

import pytest
from eventsourcing.cryptography import AESCipher

from api.events import EncodedEvents
from application.feeds import FeedScope
from infrastructure.config import Settings
from tests.api.test_access_log_api import body
from tests.api.test_catalog_api import token
from tests.application.access_log_world import World


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, cipher_key=AESCipher.create_key(16))


def test_the_stream_from_the_start_sends_the_typed_encodings_bytes(server, runtime, admin, admin_token, clock):
    w = World(runtime, admin, clock)
    platform = server.client(token(runtime, "office", "交换平台", "platform"))
    posted = platform.post("/access-logs", json=body(w.access("div-elder"), w.access("div-welfare")))
    assert posted.status_code == 200, posted.text
    head = runtime.ledger.max_position()
    assert all(b"div-elder" not in bytes(r["s"]) for r in runtime.ledger.db.query(
        f"SELECT state AS s FROM {runtime.ledger.events_table}"))  # encrypted at rest
    runtime.feeds.refresh()
    expected = EncodedEvents(runtime.feeds.encoded_at(range(1, head + 1), FeedScope())).encode()
    assert b'"receipt"' in expected and b'"ledgerhash"' in expected
    last = f"id: {head}\r\n".encode()

    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(f"GET /events/stream HTTP/1.1\r\nHost: ledger\r\nAuthorization: Bearer {admin_token}\r\n\r\n"
                     .encode())
        raw = bytearray()
        while last not in raw or not raw.endswith(b"\r\n\r\n"):
            block = sock.recv(1 << 16)
            assert block, "the server closed the stream"
            raw += block
    # chunked transfer: the chunks' size lines sit between the server's writes, so the frames are compared
    # once those lines are taken out (each write is a whole number of frames)
    head_end = raw.index(b"\r\n\r\n") + 4
    chunks, rest = bytearray(), bytes(raw[head_end:])
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        chunks += rest[:size]
        rest = rest[size + 2:]
    stream = bytes(chunks)
    first = stream.index(b"id: 1\r\n")
    assert stream[first:first + len(expected)] == expected
