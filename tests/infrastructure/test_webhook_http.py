"""The webhook HTTP client (httpx) against real local sockets: pinned by the egress policy, bounded in time."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest

from infrastructure.egress import EgressPolicy, EgressRefused
from infrastructure.webhook_http import WebhookClient, retry_after

LOOPBACK = EgressPolicy.parse("127.0.0.0/8")


class Trickler:
    """A TCP server that answers one byte of a valid HTTP response every `every` seconds."""

    def __init__(self, every: float) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.every = every
        self.accepted = 0
        self.stop = threading.Event()
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.recv(65536)
            answer = b"HTTP/1.1 204 No Content\r\nRetry-After: 5\r\n\r\n"
            for byte in answer:
                if self.stop.wait(self.every):
                    break
                try:
                    conn.send(bytes([byte]))
                except OSError:
                    break
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


def test_an_attempt_is_bounded_in_all_even_when_the_receiver_trickles():
    slow = Trickler(every=0.2)  # each read returns within the per-read limit, the whole answer takes ~9 s
    client = WebhookClient()
    try:
        started = time.monotonic()
        with pytest.raises(httpx.TimeoutException):
            client.post(f"http://127.0.0.1:{slow.port}/hook", b"{}", {}, timeout=1.0, egress=LOOPBACK)
        assert time.monotonic() - started < 1.8
    finally:
        client.close()
        slow.close()


def test_a_quick_answer_is_read_with_its_retry_after_and_every_attempt_connects_again():
    quick = Trickler(every=0.0)
    client = WebhookClient()
    try:
        for _ in range(2):
            answer = client.post(f"http://127.0.0.1:{quick.port}/hook", b"{}", {}, timeout=5.0, egress=LOOPBACK)
            assert answer.status == 204 and answer.retry_after == 5.0
        assert quick.accepted == 2  # nothing kept alive: the policy is asked at every attempt
        with pytest.raises(EgressRefused):  # the backend asks the policy at connect time, by host name too
            client.post(f"http://localhost:{quick.port}/hook", b"{}", {}, timeout=5.0, egress=EgressPolicy())
        assert quick.accepted == 2
    finally:
        client.close()
        quick.close()


def test_retry_after_reads_seconds_and_http_dates():
    assert retry_after("30") == 30.0
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480.0 - 60) == pytest.approx(60.0)
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: now
    assert retry_after(None) is None and retry_after("soon") is None and retry_after("-5") is None
