"""A bounded HTTP/1.1 load generator for servers on the loopback interface, and the servers' subprocesses.

Each of a fixed number of threads holds one keep-alive connection and sends its share of a fixed
list of pre-built requests, one at a time, timing each from send to the last byte of the answer.
It stops when the list is done; nothing is sent anywhere but 127.0.0.1.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class Server:
    """`python -m MODULE ARGS… PORT` in a subprocess, serving on a free loopback port until stopped."""

    def __init__(self, module: str, args: Sequence[str], work: Path, name: str) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.log = work / f"server-{name}-{self.port}.log"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", module, *args, str(self.port)],
                                         cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the {name} server did not start:\n{self.log.read_text()[-3000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _exchange(sock: socket.socket, req: bytes) -> tuple[int, bytes]:
    sock.sendall(req)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next(int(v) for k, _, v in (ln.partition(b":") for ln in lines[1:]) if k.lower() == b"content-length")
    while len(body) < length:
        body += sock.recv(65536)
    return int(lines[0].split()[1]), body


def load(port: int, reqs: Sequence[bytes], concurrency: int) -> tuple[float, list[float], list[bytes]]:
    """Sends every request once over `concurrency` keep-alive connections; returns (seconds, µs each, bodies)."""
    lat: list[float] = [0.0] * len(reqs)
    bodies: list[bytes] = [b""] * len(reqs)
    errors: list[BaseException] = []
    start = threading.Barrier(concurrency + 1)

    def worker(w: int) -> None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                start.wait()
                for i in range(w, len(reqs), concurrency):
                    t0 = time.perf_counter_ns()
                    code, body = _exchange(sock, reqs[i])
                    lat[i] = (time.perf_counter_ns() - t0) / 1000
                    if code != 200:
                        raise RuntimeError(f"HTTP {code}: {body[:300]!r}")
                    bodies[i] = body
        except BaseException as e:  # reported below
            errors.append(e)
            start.abort()

    threads = [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(concurrency)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return seconds, lat, bodies
