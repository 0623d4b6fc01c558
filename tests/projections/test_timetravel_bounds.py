"""Replicas for state at a date are built at most two at a time, and each position once."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from projections.registry import all_views
from projections.timetravel import TimeTravel
from tests.support import register


class Watched(TimeTravel):
    """Counts replays running at once (the replay itself is the real one)."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.running = self.most = self.builds = 0
        self.guard = threading.Lock()

    def _replay(self, db, after, until):  # type: ignore[no-untyped-def]
        with self.guard:
            self.running += 1
            self.builds += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(0.05)  # hold the build open so that the callers overlap
            super()._replay(db, after, until)
        finally:
            with self.guard:
                self.running -= 1


def test_many_callers_build_at_most_two_replicas_at_once_and_share_one_per_position(runtime, admin):
    for i in range(8):
        register(runtime, admin, f"div-{i}", name=f"第{i}处")
    tt = Watched(runtime.ledger, all_views, checkpoint_every=1_000_000, cache_size=16)
    positions = [2, 3, 4, 5, 6, 7] * 3
    with ThreadPoolExecutor(max_workers=12) as pool:
        replicas = list(pool.map(tt.replica, positions))
    assert tt.most == 2
    assert tt.builds == 6                              # each position built once, the rest served from the cache
    assert all(replicas[i] is replicas[i + 6] for i in range(12))
    for replica, position in zip(replicas[:6], positions, strict=False):
        reference = TimeTravel.full_replay(tt, position)
        query = "SELECT code FROM organizations ORDER BY code"
        assert replica.query(query) == reference.query(query)
