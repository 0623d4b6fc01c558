"""Webhooks and the network: no request forgery towards internal addresses, no stall after a crashed sender."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from application.common import Principal
from infrastructure.egress import EgressPolicy, EgressRefused
from tests.api.conftest import Endpoint, LiveServer, QuietHandler
from tests.api.test_webhooks_api import LOOPBACK, Receiver, wait_until
from tests.support import register

REGISTERED = "cn.gov.shaanxi.mz.organization.registered"
ROOT = Path(__file__).resolve().parents[2]
MARGIN = 2.0  # WebhookService.claim_margin: how long a claim outlasts an attempt's time limit

FORBIDDEN = [
    "http://127.0.0.1:9/x", "http://localhost:9/x", "http://127.1/x", "http://2130706433/x", "http://0x7f000001/x",
    "http://0177.0.0.1/x", "http://[::1]/x", "http://[::ffff:127.0.0.1]/x", "http://[::ffff:7f00:1]/x",
    "http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/x", "http://10.0.0.1/x", "http://172.16.5.4/x",
    "https://192.168.1.1/x", "http://[fd00::1]/x", "http://100.64.0.1/x", "http://224.0.0.1/x", "http://[ff02::1]/x",
    "http://0.0.0.0/x", "http://[::]/x", "http://255.255.255.255/x", "http://[64:ff9b::a00:1]/x",
    "http://[2002:c0a8:101::]/x",
]


def test_the_policy_refuses_every_non_global_form_and_allows_what_configuration_names():
    default = EgressPolicy()
    for url in FORBIDDEN:
        host = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)[0] if "]" not in url else \
            url.split("[", 1)[1].split("]", 1)[0]
        with pytest.raises(EgressRefused):
            default.check(host, 80)
    assert default.check("93.184.216.34", 443) == ["93.184.216.34"]
    assert default.check("2606:4700:4700::1111", 443) == ["2606:4700:4700::1111"]
    allowed = EgressPolicy.parse("127.0.0.1, 10.20.0.0/16, hooks.internal, [::1]")
    assert allowed.check("127.0.0.1", 80) == ["127.0.0.1"] and allowed.check("2130706433", 80) == ["127.0.0.1"]
    assert allowed.check("10.20.3.4", 80) == ["10.20.3.4"] and allowed.check("::1", 80) == ["::1"]
    for host in ("127.0.0.2", "10.21.0.1", "192.168.1.1", "::ffff:10.0.0.1"):
        with pytest.raises(EgressRefused):
            allowed.check(host, 80)


def test_subscribing_to_an_internal_address_is_refused_without_an_allowlist(runtime, server, admin):
    register(runtime, admin, "div-y")
    integrator = runtime.issue_token(org="div-y", person="对接", roles=("integrator",))
    with server.client(integrator) as c:
        for url in FORBIDDEN:
            r = c.post("/webhooks", json={"url": url})
            assert r.status_code == 400, (url, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert "refused" in r.json()["detail"], r.text
        assert c.get("/webhooks").json()["items"] == []


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    a, b = Receiver(), Receiver()
    yield a, b
    a.close()
    b.close()


def test_the_allowlist_permits_and_every_delivery_checks_again(settings, clock, admin_token, receivers):
    from bootstrap import Runtime

    near, _ = receivers
    rt = Runtime(dataclasses.replace(settings, webhook_allow_hosts="127.0.0.1"), clock=clock)
    try:
        rt.init(admin="office-admin")
        admin = Principal(person="office-admin", organization="office", roles=frozenset({"office_admin"}))
        hooks = rt.webhooks
        hooks.base_delay, hooks.max_delay, hooks.idle_seconds = 0.01, 0.05, 0.05
        with LiveServer(rt) as live, live.client(rt.init(admin="office-admin")[1]) as c:
            assert c.post("/webhooks", json={"url": "http://[::1]:9/x"}).status_code == 400  # not in the list
            made = c.post("/webhooks", json={"url": near.url, "types": [REGISTERED]})
            assert made.status_code == 201, made.text
            near.secret, sid = made.json()["secret"], made.json()["id"]
            # what the URL reaches is checked again at every attempt (a name's addresses can change)
            hooks.egress = EgressPolicy()
            register(rt, admin, "div-a")
            wait_until(lambda: c.get(f"/webhooks/{sid}/deliveries").json()["items"] != [])
            refused = c.get(f"/webhooks/{sid}/deliveries").json()["items"][0]
            assert not refused["ok"] and refused["error"].startswith("refused: 127.0.0.1 is loopback")
            assert near.attempts == 0 and near.received == []
            hooks.egress = EgressPolicy.parse("127.0.0.1")
            wait_until(lambda: len(near.received) == 1)
            assert near.received[0]["data"]["code"] == "div-a" and near.bad_signatures == 0
    finally:
        rt.close()


class Redirecting(Endpoint):
    """Answers every POST with a redirect to `target`."""

    def __init__(self, target: str) -> None:
        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers["content-length"]))
                self.send_response(307)
                self.send_header("Location", target)
                self.end_headers()

        super().__init__(Handler)


def test_a_redirect_is_a_failure_and_never_followed(settings, clock, receivers):
    from bootstrap import Runtime

    target, _ = receivers
    bouncer = Redirecting(target.url)
    rt = Runtime(dataclasses.replace(settings, webhook_allow_hosts=LOOPBACK), clock=clock)
    try:
        rt.init(admin="office-admin")
        admin = Principal(person="office-admin", organization="office", roles=frozenset({"office_admin"}))
        made = rt.webhooks.register(admin, url=bouncer.url, types=[REGISTERED], after=0)
        rt.webhooks.deliver(made.id, rt.feeds.refresh())
        log = rt.webhooks.deliveries(admin, made.id)
        assert [(d.ok, d.status_code, d.error) for d in log] == [(False, 307, "HTTP 307")]
        assert target.attempts == 0
    finally:
        bouncer.close()
        rt.close()


class Hanging(Receiver):
    """Holds the first request open (a delivery in flight) until released; accepts the others."""

    def __init__(self) -> None:
        super().__init__()
        self.released = threading.Event()
        self.first_arrived = threading.Event()
        self.in_flight = 0
        self.most_in_flight = 0
        self.accepted_at: float | None = None
        lock = threading.Lock()
        outer = self
        handler = self.httpd.RequestHandlerClass
        plain = handler.do_POST  # type: ignore[attr-defined]

        def do_post(h: BaseHTTPRequestHandler) -> None:
            with lock:
                outer.in_flight += 1
                outer.most_in_flight = max(outer.most_in_flight, outer.in_flight)
                first = not outer.first_arrived.is_set()
                outer.first_arrived.set()
            try:
                if first:
                    outer.released.wait(60)
                    h.close_connection = True  # its sender is gone: nothing to answer
                    return
                plain(h)
                if outer.received and outer.accepted_at is None:
                    outer.accepted_at = time.monotonic()
            finally:
                with lock:
                    outer.in_flight -= 1

        handler.do_POST = do_post  # type: ignore[attr-defined]


SENDER = textwrap.dedent("""
    import sys, time
    from bootstrap import Runtime
    from infrastructure.config import Settings
    from infrastructure.egress import EgressPolicy
    rt = Runtime(Settings(database_url=sys.argv[1]))
    rt.webhooks.egress = EgressPolicy.parse("127.0.0.0/8")  # the receiver is on this machine
    rt.webhooks.timeout, rt.webhooks.idle_seconds = float(sys.argv[2]), 0.05
    rt.start_background()
    print("ready", flush=True)
    time.sleep(600)
""")


def test_after_a_crash_mid_delivery_another_process_resumes_within_one_attempts_limit(settings, runtime, admin):
    """A sender killed (SIGKILL) with a delivery in flight: the next process sends it again within the attempt's
    time limit and margin, not minutes later, and never while the first attempt's claim still stands."""
    limit = 3.0
    receiver = Hanging()
    sender = None
    runtime.webhooks.egress = EgressPolicy.parse(LOOPBACK)  # the receiver is on this machine
    try:
        made = runtime.webhooks.register(admin, url=receiver.url, types=[REGISTERED], after=0)
        receiver.secret = made.secret or ""
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        sender = subprocess.Popen([sys.executable, "-c", SENDER, settings.database_url, str(limit)], cwd=ROOT, env=env,
                                  stdout=subprocess.PIPE, text=True)
        assert receiver.first_arrived.wait(60), "the sender process never attempted a delivery"
        sender.send_signal(signal.SIGKILL)
        sender.wait(10)
        killed = time.monotonic()
        receiver.released.set()
        hooks = runtime.webhooks
        hooks.timeout, hooks.idle_seconds = limit, 0.05
        runtime.start_background()
        wait_until(lambda: receiver.accepted_at is not None, seconds=limit + MARGIN + 30)
        stalled = (receiver.accepted_at or 0) - killed
        assert stalled <= limit + MARGIN + 2.0, f"redelivery resumed {stalled:.1f} s after the crash"
        assert receiver.most_in_flight == 1
        assert [e["data"]["code"] for e in receiver.received] == ["office"] and receiver.bad_signatures == 0
        wait_until(lambda: bool(runtime.webhooks.deliveries(admin, made.id)), seconds=10)  # recorded after the 2xx
        log = runtime.webhooks.deliveries(admin, made.id)
        assert [(d.ok, d.attempt) for d in log] == [(True, 1)]  # the killed attempt left no record, only a claim
    finally:
        if sender is not None and sender.poll() is None:
            sender.kill()
        receiver.released.set()
        receiver.close()
