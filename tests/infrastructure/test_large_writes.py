"""A large write never holds the store: it commits in bounded time, and writers beside it go on.

On PostgreSQL the library's pipelined insert left a parameter larger than the socket's send
buffer half sent while holding the events table's lock (issue 11, reproduction 1).
"""

from __future__ import annotations

import threading
import time
import uuid

from eventsourcing.persistence import StoredEvent

from tests.application.access_log_world import World
from tests.support import cmd

BOUND = 60.0  # seconds: a liveness bound, far above the second or so these writes take


def _in_thread(fn):  # noqa: ANN001, ANN202
    out: dict[str, object] = {}

    def run() -> None:
        try:
            out["value"] = fn()
        except BaseException as e:  # handed to the test below
            out["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def test_an_event_of_24_mib_commits_and_other_writers_go_on(runtime):
    recorder = runtime.ledger.recorder
    big = StoredEvent(originator_id=uuid.uuid4(), originator_version=1, topic="test:Big", state=b"a" * (24 << 20))
    t, out = _in_thread(lambda: recorder.insert_events([big]))
    small_ids = []
    for _ in range(5):
        small = StoredEvent(originator_id=uuid.uuid4(), originator_version=1, topic="test:Small", state=b"b" * 100)
        small_ids.extend(recorder.insert_events([small]) or [0])
    t.join(BOUND)
    assert not t.is_alive(), "the large insert did not finish"
    assert "error" not in out, out
    assert runtime.ledger.max_position() == 6
    stored = recorder.select_events(big.originator_id)
    assert len(stored) == 1 and len(stored[0].state) == 24 << 20


def test_a_batch_of_10000_access_records_with_its_answer_kept_commits(runtime, admin, clock):
    world = World(runtime, admin, clock)
    batch = [world.access() for _ in range(10_000)]
    t, out = _in_thread(lambda: runtime.access_log.record(world.platform, cmd(key="big-batch"), batch))
    t.join(BOUND)
    assert not t.is_alive(), "the batch did not finish"
    assert "error" not in out, out
    answer, position = out["value"]  # type: ignore[misc]
    assert position == runtime.ledger.max_position()
    started = time.monotonic()
    runtime.projector.wait_for(position, "access_log")
    assert time.monotonic() - started < BOUND
