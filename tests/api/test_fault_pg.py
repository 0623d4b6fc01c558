"""Faults across processes on one PostgreSQL: 2 API processes and 2 background workers (real subprocesses)
under a mixed write load, with the active background worker killed (kill -9) five times and an API process
five times at random moments, each restarted.

Then every acknowledged write is present, the webhook subscriber received every event in order (a
re-delivery only of the event in flight when the active worker was killed: delivery is at least once, and
a receiver de-duplicates on `webhook-id`), every monitor candidate exists once, and every read model
equals its rebuild from the ledger.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import msgspec
import pytest

from application.common import Principal
from application.feeds import FeedScope
from bootstrap import Runtime
from domain.compliance import ViolationKind, violation_id
from infrastructure.config import Settings
from tests.conftest import database_url
from tests.processes import Proc, free_port, lock_holder_pid, wait_until
from tests.projections.test_rebuild_equals_live import dump
from tests.support import Division, content, member

pytestmark = pytest.mark.postgres

ADMIN = Principal(person="office-admin", organization="office", roles=frozenset({"office_admin"}))
LOAD_SECONDS = 50.0
KILLS = 5


class Receiver:
    """A webhook endpoint on the loopback: records every delivery's id in arrival order, answers 204."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the standard library's name
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with outer.lock:
                    outer.ids.append(json.loads(body)["id"])
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def received(self) -> list[str]:
        with self.lock:
            return list(self.ids)


class Load:
    """Writers sending catalog drafts, share requests and access-log batches to whichever API process answers,
    retrying a failed attempt with the same Idempotency-Key; only 2xx answers count as acknowledged."""

    def __init__(self, apis: list[Proc], tokens: dict[str, str], entry: str) -> None:
        self.apis, self.tokens, self.entry = apis, tokens, entry
        self.acked: dict[str, list[Any]] = {"entries": [], "requests": [], "denied": []}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.retries = 0

    def send(self, rng: random.Random, token: str, path: str, body: Any) -> dict[str, Any]:
        key = str(uuid.uuid4())
        deadline = time.monotonic() + 90
        while True:
            api = rng.choice(self.apis)
            try:
                r = httpx.post(api.url + path, json=body, timeout=30, headers={
                    "Authorization": f"Bearer {token}", "Idempotency-Key": key})
                if r.status_code in (200, 201):
                    return dict(r.json())
                assert r.status_code in (502, 503, 504), (path, r.status_code, r.text)
            except httpx.TransportError:
                pass  # that process was killed mid-request: the retry decides whether anything was recorded
            self.retries += 1
            assert time.monotonic() < deadline, f"{path} not acknowledged within 90 s"
            time.sleep(0.05)

    def writer(self, seed: int) -> None:
        rng = random.Random(seed)
        n = 0
        while not self.stop.is_set():
            n += 1
            kind = rng.choice(("entry", "request", "log"))
            if kind == "entry":
                body = {"resource_code": f"F{seed}-{n:04d}", "content": msgspec.to_builtins(content())}
                made = self.send(rng, self.tokens["compiler"], "/catalog/entries", body)
                with self.lock:
                    self.acked["entries"].append(made["id"])
            elif kind == "request":
                body = {"scenario": "internal_sharing", "reason": "核对低保身份", "purpose": f"核对{n}",
                        "entries": [{"entry_id": self.entry, "fields": ["DB_ID", "DB_NAME"]}],
                        "valid_from": "2026-01-01", "valid_to": "2030-12-31", "delivery_method": "interface"}
                made = self.send(rng, self.tokens["requester"], "/share-requests", body)
                with self.lock:
                    self.acked["requests"].append(made["id"])
            else:  # deliveries without a grant: each is denied and must become one VIO-3 candidate
                at = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
                ids = [f"fault-{seed}-{n:04d}-{i}" for i in range(rng.randint(1, 20))]
                records = [{"request_id": rid, "holder": "div-elder", "provider": "div-relief",
                            "entry_id": self.entry, "fields": ["DB_ID"], "purpose": "核对", "method": "interface",
                            "record_count": 1, "accessed_at": at, "grant_id": None} for rid in ids]
                self.send(rng, self.tokens["platform"], "/access-logs", {"records": records})
                with self.lock:
                    self.acked["denied"].extend(ids)


def test_kill_9_of_workers_and_api_processes_loses_nothing_and_doubles_nothing(tmp_path):
    settings = Settings(database_url=database_url("postgres", tmp_path))
    env = {"CIVIC_LEDGER_DATABASE_URL": settings.database_url, "CIVIC_LEDGER_SWEEP_SECONDS": "2",
           "CIVIC_LEDGER_WEBHOOK_ALLOW_HOSTS": "127.0.0.1", "CIVIC_LEDGER_SIGNING_KEY": str(tmp_path / "key.pem")}
    rt = Runtime(Settings(database_url=settings.database_url, signing_key=env["CIVIC_LEDGER_SIGNING_KEY"]))
    rt.init(admin=ADMIN.person)
    relief = Division(rt, ADMIN, "div-relief")
    entry = str(relief.publish("MZ-FAULT-1"))
    Division(rt, ADMIN, "div-elder")
    member(rt, ADMIN, "div-elder", "申请人", "requester")
    tokens = {"office": rt.issue_token(org="office", person=ADMIN.person, roles=("office_admin",)),
              "compiler": rt.issue_token(org="div-relief", person="div-relief-compiler", roles=("catalog_compiler",)),
              "requester": rt.issue_token(org="div-elder", person="申请人", roles=("requester",)),
              "platform": rt.issue_token(org="office", person="交换平台", roles=("platform",))}
    rt.projector.catch_up_all()

    apis = [Proc(f"api{i}", ["serve", "--no-background"], env, tmp_path, port=free_port()) for i in range(2)]
    workers = [Proc(f"worker{i}", ["worker"], env, tmp_path) for i in range(2)]
    receiver = Receiver()
    try:
        for p in (*apis, *workers):
            p.start()
        for a in apis:
            a.wait_healthy()
        hook = httpx.post(apis[0].url + "/webhooks", json={"url": receiver.url}, timeout=30,
                          headers={"Authorization": f"Bearer {tokens['office']}"})
        assert hook.status_code == 201, hook.text
        start = hook.json()["cursor"]

        load = Load(apis, tokens, entry)
        writers = [threading.Thread(target=load.writer, args=(s,), daemon=True) for s in range(3)]
        for w in writers:
            w.start()
        rng = random.Random(15)
        worker_kills = api_kills = 0
        began = time.monotonic()
        while worker_kills < KILLS or api_kills < KILLS:
            time.sleep(rng.uniform(1.5, LOAD_SECONDS / (2 * KILLS)))
            if worker_kills < KILLS and (api_kills >= KILLS or rng.random() < 0.5):
                holder = wait_until(lambda: lock_holder_pid(settings.database_url), timeout=10)
                active = next(w for w in workers if w.alive() and w.pid == holder)
                active.kill9()
                killed = time.monotonic()
                standby = next(w for w in workers if w is not active)
                wait_until(lambda s=standby: lock_holder_pid(settings.database_url) == s.pid, timeout=10)
                assert time.monotonic() - killed < 5, "the standby took over within 5 s"
                active.start()
                worker_kills += 1
            else:
                victim = rng.choice(apis)
                victim.kill9()
                victim.start()
                api_kills += 1
        load.stop.set()
        for w in writers:
            w.join(timeout=120)
            assert not w.is_alive()
        for a in apis:
            a.wait_healthy()
        loaded = time.monotonic() - began

        head = rt.ledger.max_position()
        office = {"Authorization": f"Bearer {tokens['office']}", "X-Min-Position": str(head)}
        # Every acknowledged write is there, read through either API process.
        for i, eid in enumerate(load.acked["entries"]):
            assert httpx.get(f"{apis[i % 2].url}/catalog/entries/{eid}", headers=office, timeout=30).status_code == 200
        for i, rid in enumerate(load.acked["requests"]):
            assert httpx.get(f"{apis[i % 2].url}/share-requests/{rid}", headers=office, timeout=30).status_code == 200
        logged = {r["request_id"] for r in rt.ledger.db.query("SELECT request_id FROM access_log")}
        assert set(load.acked["denied"]) <= logged

        # Every monitor candidate exists (raised by the active worker's sweep), once: its id is its identity.
        def raised() -> bool:
            return all(rt.ledger.position_of(violation_id(ViolationKind.OUT_OF_CONTROL, "div-elder", f"log:{rid}"),
                                             1) is not None for rid in load.acked["denied"])
        wait_until(raised, timeout=60, every=0.5)
        candidates = rt.ledger.db.scalar(f"SELECT COUNT(*) FROM {rt.ledger.events_table} WHERE topic = ?",
                                         ("civic-ledger:Violation.CandidateRaised",))
        assert candidates == len(set(load.acked["denied"]))

        # The subscriber got every event after its cursor, in order; a repeat only of the event in flight
        # when an active worker was killed.
        expected: list[str] = []
        after = start
        while True:
            page = rt.feeds.page(FeedScope(None), after, 500)
            expected += [e["id"] for e in page.events]
            if page.next <= after:
                break
            after = page.next

        def delivered() -> bool:
            return set(expected) <= set(receiver.received())
        wait_until(delivered, timeout=180, every=0.5)
        got = receiver.received()
        order: list[str] = []
        repeats = 0
        for d in got:
            if d in order:  # only the event in flight when the worker died is sent again
                assert d == order[-1], "a delivery repeated an event other than the one in flight"
                repeats += 1
            else:
                order.append(d)
        assert order[:len(expected)] == expected
        assert repeats <= KILLS

        for p in (*apis, *workers):
            p.stop()
        rt.projector.catch_up_all()
        tables = tuple(t for v in rt.projector.views.values() for t in v.tables)
        live = dump(rt, tables)
        rt.projector.rebuild()
        assert dump(rt, tables) == live
        print(f"\nload {loaded:.0f} s: {len(load.acked['entries'])} drafts, {len(load.acked['requests'])} "
              f"requests, {len(load.acked['denied'])} denied deliveries, {load.retries} retried attempts, "
              f"{len(got)} webhook deliveries of {len(expected)} events ({repeats} repeats)")
    finally:
        for p in (*apis, *workers):
            p.stop()
        receiver.server.shutdown()
        rt.close()
