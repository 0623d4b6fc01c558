"""The webhook HTTP client (httpx) against real local sockets: pinned by the egress policy, bounded in time."""

from __future__ import annotations

import socket
import ssl
import threading
import time

import httpx
import pytest

from infrastructure.egress import EgressPolicy, EgressRefused
from infrastructure.webhook_http import WebhookClient, retry_after
from tests.support import read_head

LOOPBACK = EgressPolicy.parse("127.0.0.0/8")


def _read_request(conn: socket.socket) -> None:
    """Reads a whole request (head, then as many body bytes as it declares): a socket closed with unread bytes
    resets the connection, and the client would see the reset instead of the answer."""
    data = read_head(conn)
    if b"\r\n\r\n" not in data:
        return
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")[1:]
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return
        body += chunk


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
            _read_request(conn)
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


def _certificate(tmp_path, name: str) -> tuple[str, str]:
    """A self-signed certificate for `name` (its own trust anchor) and its key, as PEM files."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


class TLSReceiver:
    """An https endpoint on the loopback (IPv4 and IPv6, whatever `localhost` resolves to first) answering 204."""

    def __init__(self, cert: str, key: str) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        outer = self
        self.hosts: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers["content-length"]))
                outer.hosts.append(self.headers["host"])
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        class DualStack(ThreadingHTTPServer):
            address_family = socket.AF_INET6

            def server_bind(self) -> None:
                self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                super().server_bind()

        self.httpd = DualStack(("::", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_https_goes_to_the_pinned_address_and_checks_the_certificate_against_the_urls_host(tmp_path):
    """The socket goes to the address the policy checked, yet TLS (SNI, the certificate's name) and `Host` use the
    URL's host name: the certificate names `localhost` only, not the address connected to, and it is accepted;
    a trusted certificate for another name is refused."""
    cert, key = _certificate(tmp_path, "localhost")
    stranger_cert, stranger_key = _certificate(tmp_path, "hooks.example.org")
    receiver, impostor = TLSReceiver(cert, key), TLSReceiver(stranger_cert, stranger_key)
    allow = EgressPolicy.parse("localhost")
    trusting = ssl.create_default_context(cafile=cert)
    trusting.load_verify_locations(cafile=stranger_cert)
    client = WebhookClient(trusting)
    try:
        answer = client.post(f"https://localhost:{receiver.port}/hook", b"{}", {}, timeout=5.0, egress=allow)
        assert answer.status == 204 and receiver.hosts == [f"localhost:{receiver.port}"]
        with pytest.raises(httpx.ConnectError, match="Hostname mismatch"):
            client.post(f"https://localhost:{impostor.port}/hook", b"{}", {}, timeout=5.0, egress=allow)
        with pytest.raises(EgressRefused):  # and the policy still decides first
            client.post(f"https://localhost:{receiver.port}/hook", b"{}", {}, timeout=5.0, egress=EgressPolicy())
        assert len(receiver.hosts) == 1 and impostor.hosts == []
    finally:
        client.close()
        receiver.close()
        impostor.close()
