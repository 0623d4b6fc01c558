"""A real HTTP server (uvicorn on a free loopback port) over a real store, per test."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import uvicorn

from api.app import create_app
from bootstrap import Runtime


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(runtime), host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that does not log each request to stderr."""

    def log_message(self, *args: object) -> None:
        pass


class Endpoint:
    """A real HTTP endpoint on a free loopback port (`url`, path /hook), served by `handler` in its own thread:
    what the webhook tests deliver to."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def service_unit_for(server: LiveServer, office: httpx.Client, serves: str, valid_from: str,
                     valid_to: str) -> httpx.Client:
    """Registers `serves` and svc-tech, a service unit the Office authorises to compile the catalog of `serves`
    from `valid_from` to `valid_to` (dates); the client of svc-tech's catalog compiler."""
    from tests.api.test_catalog_api import org, token

    org(office, serves)
    org(office, "svc-tech", kind="service_unit")
    r = office.post("/organizations/svc-tech/authorisations",
                    json={"serves": serves, "valid_from": valid_from, "valid_to": valid_to, "scope": "目录编制"})
    assert r.status_code == 200, r.text
    return server.client(token(server.runtime, "svc-tech", "技术员", "catalog_compiler"))


@pytest.fixture
def server(runtime: Runtime) -> Iterator[LiveServer]:
    with LiveServer(runtime) as live:
        yield live


@pytest.fixture
def admin_token(runtime: Runtime) -> str:
    return runtime.init(admin="office-admin")[1]
