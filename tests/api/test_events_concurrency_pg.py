"""Feed completeness on PostgreSQL, run many times: writers in this process and in another one, and a
transaction that holds its ledger insert open before committing, while readers follow the stream and
the cursor pages. Every committed event is seen exactly once, in position order, and nothing appears
behind a cursor a reader has passed."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from domain.base import Actor, Cause, Context
from domain.organizations import Level, Organization, OrgKind
from tests.api.test_events_api import sse
from tests.support import register

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 10


def slow_commit(runtime, code: str, hold: float) -> None:
    """Records an organization through the library's recorder in a transaction that waits before committing.

    The insert takes the events table's lock and draws its position; the commit comes `hold` seconds later."""
    ledger = runtime.ledger
    ctx = Context(actor=Actor("office-admin", "office", "office_admin"), at=runtime.clock.now(),
                  cause=Cause("test.slow_commit"))
    org = Organization.register(ctx, code=code, name=code, kind=OrgKind.DIVISION, level=Level.PROVINCE,
                                parent="office")
    stored = [ledger.mapper.to_stored_event(e) for e in org.collect_events()]
    recorder = ledger.recorder
    with recorder.datastore.transaction(commit=True) as curs:
        recorder._insert_stored_events(curs, stored)
        time.sleep(hold)


def all_positions(runtime) -> list[int]:
    ledger = runtime.ledger
    return [int(r["position"]) for r in ledger.db.query(
        f"SELECT {ledger.position_column} AS position FROM {ledger.events_table} ORDER BY {ledger.position_column}")]


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
@pytest.mark.parametrize("round_", range(ROUNDS))
def test_every_committed_event_is_seen_once_in_order_with_a_second_process_and_a_late_commit(
        round_, runtime, settings, server, admin_token, admin):
    runtime.feeds.heartbeat_seconds = 0.2  # the stream reader checks for the end on every message
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    other = subprocess.Popen([sys.executable, "-m", "tests.api.feed_writer", settings.database_url,
                              f"r{round_}-proc", "12"], cwd=ROOT, env=env, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert other.stdout is not None and other.stdin is not None
        assert other.stdout.readline().strip() == "ready"
        streamed: list[int] = []
        paged: list[int] = []
        passed_below: list[tuple[int, int]] = []  # (cursor passed, event position) that broke the rule
        finished = threading.Event()
        stop_at: dict[str, int] = {}

        def stream() -> None:
            with server.client(admin_token) as c, c.stream("GET", "/events/stream") as r:
                for msg in sse(r):
                    if "data" in msg:
                        streamed.append(int(msg["id"]))
                    if "end" in stop_at and streamed and streamed[-1] >= stop_at["end"]:
                        return

        def pages() -> None:
            cursor = 0
            with server.client(admin_token) as c:
                while not ("end" in stop_at and cursor >= stop_at["end"]):
                    page = c.get("/events", params={"after": cursor, "limit": 7}).json()
                    for e in page["events"]:
                        if e["ledgerposition"] <= cursor:
                            passed_below.append((cursor, e["ledgerposition"]))
                        paged.append(e["ledgerposition"])
                    cursor = page["next"]
                    if not page["events"]:
                        finished.wait(0.01)  # at the horizon: poll again shortly, as a client would
            finished.set()

        readers = [threading.Thread(target=stream, daemon=True), threading.Thread(target=pages, daemon=True)]
        for t in readers:
            t.start()

        def write(w: int) -> None:
            for i in range(8):
                register(runtime, admin, f"r{round_}-w{w}-{i}")

        def late() -> None:
            for i in range(2):
                slow_commit(runtime, f"r{round_}-late-{i}", hold=0.3)

        other.stdin.write("go\n")
        other.stdin.flush()
        writers = [threading.Thread(target=write, args=(w,)) for w in range(2)] + [threading.Thread(target=late)]
        for t in writers:
            t.start()
        for t in writers:
            t.join(timeout=60)
        assert other.stdout.readline().strip() == "done"
        assert other.wait(timeout=30) == 0
        stop_at["end"] = runtime.ledger.max_position()
        for t in readers:
            t.join(timeout=30)
        assert finished.is_set() and not any(t.is_alive() for t in readers), "a reader did not reach the end"
    finally:
        if other.poll() is None:
            other.kill()
            other.wait()
    stored = all_positions(runtime)
    assert len(stored) >= 2 + 12 + 16 + 2
    assert streamed == stored
    assert paged == stored
    assert passed_below == []
