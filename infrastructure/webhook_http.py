"""Outbound webhook HTTP through httpx, pinned to the address the egress policy checked, bounded in time.

httpx (over httpcore) does the HTTP; this module decides only where the socket goes and how long an
attempt may last:

- The connection is opened by a network backend that asks the egress policy about the URL's host
  at connect time and connects to the address it checked (resolve and pin), so a name that
  resolves to a global address for the check and to an internal one for the connection (DNS
  rebinding) still cannot reach the internal one. TLS still verifies the certificate against the
  URL's host name (httpcore hands the original name to the TLS layer).
- No connection is kept alive, so every attempt connects, and so is checked, again; no proxy from
  the environment is used (it would connect on our behalf, past the check); redirects are not
  followed.
- Every read and write of an attempt waits at most until the attempt's deadline (`timeout` seconds
  after it started), so a receiver that trickles its answer cannot keep an attempt, and the
  subscription's claim, open past the limit.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
import typing
from collections.abc import Iterable
from email.utils import parsedate_to_datetime

import httpcore
import httpx

from infrastructure.egress import EgressPolicy

MAX_BODY = 64 * 1024
"""Bytes of a receiver's answer read (the status and headers are what counts; the rest is dropped)."""


class Answer(typing.NamedTuple):
    status: int
    retry_after: float | None
    """Seconds the receiver asked us to wait (`Retry-After`, seconds or an HTTP date), None if absent or unreadable."""


class _Attempt(threading.local):
    egress: EgressPolicy | None = None
    deadline: float = 0.0


_attempt = _Attempt()


def _left(timeout: float | None) -> float:
    """The time a single wait may take: its own limit, cut to what is left of the attempt."""
    left = _attempt.deadline - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("the attempt ran out of time")
    return left if timeout is None else min(timeout, left)


class _Bounded(httpcore.NetworkStream):
    """A stream whose every wait ends by the attempt's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self.inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, _left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, _left(timeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(self, ssl_context: typing.Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _Bounded(self.inner.start_tls(ssl_context, server_hostname, _left(timeout)))

    def get_extra_info(self, info: str) -> typing.Any:
        return self.inner.get_extra_info(info)


class PinnedBackend(httpcore.SyncBackend):
    """Connects only to an address the current attempt's egress policy allows for the host."""

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[typing.Any] | None = None) -> httpcore.NetworkStream:
        policy = _attempt.egress or EgressPolicy()
        address = policy.check(host, port)[0]  # EgressRefused propagates: the attempt is refused, not failed over
        return _Bounded(super().connect_tcp(address, port, _left(timeout), local_address, socket_options))


class PinnedTransport(httpx.HTTPTransport):
    """httpx's own transport over a connection pool that uses the pinned backend and keeps nothing alive."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        super().__init__(retries=0)
        # httpx takes no network backend of its own; the pool it builds is replaced by one that has ours.
        self._pool = httpcore.ConnectionPool(ssl_context=ssl_context or httpx.create_ssl_context(),
                                             max_keepalive_connections=0, retries=0, network_backend=PinnedBackend())


class WebhookClient:
    """One httpx client for a process's webhook attempts (thread-safe; each attempt is a new connection)."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        """`ssl_context`: the certificates trusted for https receivers (default: the system's and certifi's)."""
        self.client = httpx.Client(transport=PinnedTransport(ssl_context), trust_env=False, follow_redirects=False)

    def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float,
             egress: EgressPolicy | None = None) -> Answer:
        """One POST to an address the policy allows, within `timeout` seconds in all."""
        _attempt.egress, _attempt.deadline = egress or EgressPolicy(), time.monotonic() + timeout
        try:
            with self.client.stream("POST", url, content=body, headers=headers, timeout=timeout) as response:
                read = 0
                for chunk in response.iter_raw():
                    read += len(chunk)
                    if read >= MAX_BODY:
                        break
                return Answer(response.status_code, retry_after(response.headers.get("retry-after")))
        finally:
            _attempt.egress, _attempt.deadline = None, 0.0

    def close(self) -> None:
        self.client.close()


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` as seconds from now: a whole number of seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


TRANSPORT_ERRORS = (httpx.HTTPError, httpcore.TimeoutException, httpcore.NetworkError, OSError, socket.timeout,
                    ValueError)
"""What an attempt that reached no answer raises (besides EgressRefused)."""
