"""Webhooks to a real local receiver that fails at random: every event arrives, in order, signed, across a restart.

The receiver checks every signature with the `standardwebhooks` package, as an integrator would."""

from __future__ import annotations

import dataclasses
import json
import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from application.common import Principal
from application.feeds import FeedScope
from application.webhooks import signed_headers
from bootstrap import Runtime
from infrastructure.config import Settings
from tests.api.conftest import Endpoint, LiveServer, QuietHandler
from tests.support import member, register

LOOPBACK = "127.0.0.0/8, ::1"


class Receiver(Endpoint):
    """An HTTP endpoint that refuses (500) or drops the connection with probability `fail`, else records.

    `plan` scripts the next answers instead: True accepts, False refuses with 500, a number answers that
    status, and (status, headers) answers that status with those headers."""

    def __init__(self, fail: float = 0.0, seed: int = 7) -> None:
        self.fail, self.rng = fail, random.Random(seed)
        self.plan: list[bool] = []
        self.secret = ""
        self.received: list[dict] = []
        self.bad_signatures = 0
        self.attempts = 0
        outer = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["content-length"]))
                outer.attempts += 1
                planned = outer.plan.pop(0) if outer.plan else None
                roll = outer.rng.random() if planned is None else 1.0
                if planned is not None and planned is not True:
                    status, extra = (500, {}) if planned is False else \
                        (planned, {}) if isinstance(planned, int) else planned
                    self.send_response(status)
                    for name, value in extra.items():
                        self.send_header(name, value)
                    self.end_headers()
                    return
                if roll < outer.fail / 2:
                    self.close_connection = True  # no answer at all
                    return
                if roll < outer.fail:
                    self.send_response(500)
                    self.end_headers()
                    return
                try:
                    Webhook(outer.secret).verify(body, dict(self.headers.items()))
                except WebhookVerificationError:
                    outer.bad_signatures += 1
                outer.received.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

        super().__init__(Handler)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """These tests deliver to receivers on this machine: the configuration allows loopback for them."""
    return dataclasses.replace(settings, webhook_allow_hosts=LOOPBACK)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(fail=0.4)
    yield r
    r.close()


def fast(rt: Runtime) -> Runtime:
    w = rt.webhooks
    w.base_delay, w.max_delay, w.idle_seconds, w.timeout = 0.005, 0.05, 0.05, 5.0
    return rt


def wait_until(check: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_signature_is_standard_webhooks_hmac_over_id_timestamp_and_body():
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    now = time.time()
    headers = signed_headers(secret, "msg_1", b"{}", now)
    assert headers["webhook-timestamp"] == str(int(now)) and headers["webhook-signature"].startswith("v1,")
    hook = Webhook(secret)
    assert hook.verify(b"{}", headers) == {}
    for body, changed in ((b'{"x":1}', {}), (b"{}", {"webhook-id": "msg_2"}),
                          (b"{}", {"webhook-timestamp": str(int(now) - 3600)})):
        with pytest.raises(WebhookVerificationError):
            hook.verify(body, {**headers, **changed})
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB").verify(b"{}", headers)  # another secret


def test_random_failures_and_a_restart_lose_nothing_and_keep_order(settings, clock, receiver):
    rt = fast(Runtime(settings, clock=clock))
    _, admin_token = rt.init(admin="office-admin")
    admin = Principal(person="office-admin", organization="office", roles=frozenset({"office_admin"}))
    register(rt, admin, "div-a")
    register(rt, admin, "div-b")
    token = rt.issue_token(org="div-a", person="对接", roles=("integrator",))
    with LiveServer(rt) as server, server.client(token) as c:
        made = c.post("/webhooks", json={"url": receiver.url}).json()
        receiver.secret, start = made["secret"], made["cursor"]
        for i in range(12):
            member(rt, admin, "div-a" if i % 3 else "div-b", f"p{i}", "requester")
        wait_until(lambda: len(receiver.received) >= 4)
        receiver.fail = 1.0  # the endpoint goes down, then the server stops with events still undelivered
    rt.close()
    delivered_before_restart = len(receiver.received)
    receiver.fail = 0.4

    rt2 = fast(Runtime(settings, clock=clock))
    try:
        rt2.start_background()
        for i in range(12, 24):
            member(rt2, admin, "div-a" if i % 3 else "div-b", f"p{i}", "requester")
        expected = [e["id"] for e in rt2.feeds.page(FeedScope("div-a"), start, 500).events]
        assert len(expected) == 16
        assert delivered_before_restart < 8  # the first half was not all delivered before the restart
        wait_until(lambda: len(receiver.received) >= len(expected))
        time.sleep(0.2)  # nothing more may arrive
        assert [e["id"] for e in receiver.received] == expected
        assert receiver.bad_signatures == 0 and receiver.attempts > len(expected)
        owner = Principal(person="对接", organization="div-a", roles=frozenset({"integrator"}))
        log = rt2.webhooks.deliveries(owner, made["id"], limit=500)
        assert [d.event_id for d in log if d.ok] == expected
        assert any(not d.ok and d.error for d in log)
        wait_until(lambda: rt2.webhooks.get(owner, made["id"]).cursor == rt2.feeds.horizon())
    finally:
        rt2.close()


def test_a_dead_endpoint_is_paused_then_resumed_and_replayed(runtime, server, admin, admin_token):
    fast(runtime)
    runtime.webhooks.retry_window, runtime.webhooks.min_failures = 0.3, 3
    dead = Receiver(fail=1.0)
    try:
        with server.client(admin_token) as c:
            made = c.post("/webhooks", json={"url": dead.url, "types": ["cn.gov.shaanxi.mz.organization.registered"],
                                             "after": 0}).json()
            sid = made["id"]
            register(runtime, admin, "div-x")
            wait_until(lambda: c.get(f"/webhooks/{sid}").json()["status"] == "paused")
            paused = c.get(f"/webhooks/{sid}").json()
            assert paused["failures"] >= 3 and paused["paused_reason"]
            log = c.get(f"/webhooks/{sid}/deliveries").json()["items"]
            assert log and not any(d["ok"] for d in log) and log[0]["position"] == 1
            dead.fail, dead.secret = 0.0, made["secret"]
            resumed = c.post(f"/webhooks/{sid}/resume", json={"after": 0}).json()
            assert resumed["status"] == "active"
            wait_until(lambda: len(dead.received) == 2)
            assert [e["data"]["code"] for e in dead.received] == ["office", "div-x"]
            replay = c.post(f"/webhooks/{sid}/resume", json={"after": 0}).json()
            assert replay["cursor"] == 0
            wait_until(lambda: len(dead.received) == 4)
            assert [e["data"]["code"] for e in dead.received[2:]] == ["office", "div-x"]
            assert dead.bad_signatures == 0
            other = runtime.issue_token(org="div-x", person="对接", roles=("integrator",))
            with server.client(other) as outsider:
                assert outsider.get(f"/webhooks/{sid}").status_code == 404
                assert outsider.get("/webhooks").json()["items"] == []
            assert c.delete(f"/webhooks/{sid}").status_code == 204
    finally:
        dead.close()


def test_registering_needs_the_integrator_role_and_a_real_url(runtime, server, admin):
    register(runtime, admin, "div-y")
    reader = runtime.issue_token(org="div-y", person="读者", roles=("requester",))
    integrator = runtime.issue_token(org="div-y", person="对接", roles=("integrator",))
    with server.client(reader) as c:
        assert c.post("/webhooks", json={"url": "http://127.0.0.1:9/x"}).status_code == 403
    with server.client(integrator) as c:
        assert c.post("/webhooks", json={"url": "ftp://example/x"}).status_code == 400
        assert c.post("/webhooks", json={"url": "http://127.0.0.1:9/x", "types": ["nope"]}).status_code == 400
        first = c.post("/webhooks", json={"url": "http://127.0.0.1:9/x"}, headers={"Idempotency-Key": "k1"})
        again = c.post("/webhooks", json={"url": "http://127.0.0.1:9/x"}, headers={"Idempotency-Key": "k1"})
        assert first.status_code == 201 and again.json()["id"] == first.json()["id"]
        listed = c.get("/webhooks").json()["items"]
        assert len(listed) == 1 and listed[0]["secret"] is None


def test_a_flapping_endpoint_pauses_only_after_a_whole_window_of_continuous_failure(runtime, clock, admin):
    """The pause window counts from the first failure of the current streak; a success in between starts a new one."""
    hooks = runtime.webhooks
    hooks.clock = lambda: clock.now().timestamp()
    hooks.retry_window, hooks.min_failures = 3600.0, 3
    flapping = Receiver()
    try:
        made = hooks.register(admin, url=flapping.url, types=["cn.gov.shaanxi.mz.organization.registered"], after=None)
        flapping.secret = made.secret or ""
        register(runtime, admin, "div-a")
        register(runtime, admin, "div-b")

        def attempt(*answers: bool) -> dict:
            flapping.plan = list(answers)
            hooks.deliver(made.id, runtime.feeds.refresh())
            assert flapping.plan == []
            return runtime.ledger.db.query_one("SELECT * FROM webhook_subscriptions WHERE id = ?", (made.id,))

        old_streak = attempt(False)  # the old streak: div-a refused
        assert old_streak["failures"] == 1
        clock.advance(hours=2)
        row = attempt(True, False)  # div-a accepted, then div-b refused: a new streak starts now
        assert row["failures"] == 1 and row["first_failure_at"] > old_streak["first_failure_at"] + 3600
        clock.advance(minutes=5)
        attempt(False)
        clock.advance(minutes=5)
        row = attempt(False)  # 3 failures, but only 10 minutes of them
        assert (row["status"], row["failures"]) == ("active", 3)
        assert [e["data"]["code"] for e in flapping.received] == ["div-a"]
        clock.advance(hours=1)
        row = attempt(False)  # now failing for longer than the window: paused, naming the streak's start
        assert (row["status"], row["failures"]) == ("paused", 4)
        started = datetime.fromtimestamp(row["first_failure_at"], UTC)
        assert started.isoformat() in row["paused_reason"]
        assert started - datetime.fromtimestamp(old_streak["first_failure_at"], UTC) >= timedelta(hours=2)
    finally:
        flapping.close()


def test_an_endpoint_that_answers_410_is_disabled_and_says_so(runtime, server, admin, admin_token):
    hooks = fast(runtime).webhooks
    gone = Receiver()
    try:
        with server.client(admin_token) as c:
            made = c.post("/webhooks", json={"url": gone.url, "types": ["cn.gov.shaanxi.mz.organization.registered"],
                                             "after": 0}).json()
            sid = made["id"]
            gone.plan, gone.secret = [410], made["secret"]
            hooks.deliver(sid, runtime.feeds.refresh())
            shown = c.get(f"/webhooks/{sid}").json()
            assert shown["status"] == "disabled" and "410 Gone" in shown["paused_reason"]
            assert shown["cursor"] == 0 and gone.received == []
            log = c.get(f"/webhooks/{sid}/deliveries").json()["items"]
            assert [(d["ok"], d["status_code"]) for d in log] == [(False, 410)]
            runtime.start_background()  # the worker runs, and events come
            register(runtime, admin, "div-x")
            wait_until(lambda: hooks._thread is not None)  # elected: the delivery worker runs its rounds
            time.sleep(0.5)
            assert gone.attempts == 1  # a disabled endpoint gets nothing more
            assert c.post(f"/webhooks/{sid}/resume").json()["status"] == "active"  # the owner turns it back on
            wait_until(lambda: len(gone.received) == 2)
            assert [e["data"]["code"] for e in gone.received] == ["office", "div-x"] and gone.bad_signatures == 0
    finally:
        gone.close()


def test_retry_after_on_429_and_503_sets_the_next_attempt(runtime, clock, admin):
    hooks = runtime.webhooks
    hooks.clock = lambda: clock.now().timestamp()
    busy = Receiver()
    try:
        made = hooks.register(admin, url=busy.url, types=["cn.gov.shaanxi.mz.organization.registered"], after=0)
        busy.secret = made.secret or ""

        def attempt(answer: object) -> float:
            busy.plan = [answer]
            before = hooks.clock()
            hooks.deliver(made.id, runtime.feeds.refresh())
            assert busy.plan == []
            row = runtime.ledger.db.query_one("SELECT * FROM webhook_subscriptions WHERE id = ?", (made.id,))
            return float(row["next_attempt_at"]) - before

        assert attempt((429, {"Retry-After": "120"})) == pytest.approx(120, abs=1)
        later = datetime.fromtimestamp(time.time() + 600, UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
        assert attempt((503, {"Retry-After": later})) == pytest.approx(600, abs=3)  # an HTTP date
        assert attempt((503, {"Retry-After": "999999999"})) == pytest.approx(hooks.max_retry_after, abs=1)
        # elsewhere (or unreadable) it is the back-off: at most the doubled delay, at least half of it
        waited = attempt((500, {"Retry-After": "120"}))
        assert hooks.base_delay * 2 ** 3 * (1 - hooks.jitter) <= waited <= hooks.base_delay * 2 ** 3
        assert busy.received == []
    finally:
        busy.close()


def test_the_back_off_is_jittered_between_half_and_all_of_the_doubled_delay(runtime):
    hooks = runtime.webhooks
    hooks.base_delay, hooks.max_delay = 5.0, 3600.0
    for failures in (1, 2, 5, 20, 5000):  # however long the streak, no overflow
        full = min(5.0 * 2 ** min(failures - 1, 64), 3600.0)
        draws = [hooks.delay(failures, None) for _ in range(200)]
        assert all(full / 2 <= d <= full for d in draws)
        assert len(set(draws)) > 150  # spread, not one value: endpoints that failed together retry apart
