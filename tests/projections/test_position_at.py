"""`position_at` finds the last position recorded at or before an instant when timestamps are out of commit order.

Positions follow commit order, timestamps are taken before the commit: an event can carry an earlier
timestamp than one recorded before it. Here the clock is set back and forth between commands, and
every answer is compared with the brute force over the ledger's own events.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from tests.projections.test_state_at import recorded
from tests.support import register

ONE_US = timedelta(microseconds=1)


@pytest.mark.parametrize("seed", [3, 4])
def test_position_at_equals_the_brute_force_over_events_recorded_out_of_timestamp_order(runtime, admin, clock,
                                                                                        seed):
    rt, rng = runtime, random.Random(seed)
    start = clock.now()
    for i in range(60):
        # mostly forward, now and then back by up to a few hours (a process whose clock is behind)
        step = timedelta(minutes=rng.randint(1, 30)) if rng.random() < 0.7 else -timedelta(minutes=rng.randint(1, 300))
        clock.set(max(start, clock.now() + step))
        register(rt, admin, f"div-{seed}-{i}")
        if rng.random() < 0.3:
            rt.projector.catch_up("ledger_times")  # lags measured across pages too
    rt.projector.catch_up("ledger_times")
    events = [(p, e.timestamp) for p, _, e in recorded(rt)]
    lags = [int(r["lag_us"]) for r in rt.ledger.db.query("SELECT lag_us FROM ledger_times ORDER BY position")]
    assert any(lags), "some events carry an earlier timestamp than one recorded before them"
    latest, expected_lags = None, []
    for _, ts in events:
        expected_lags.append(0 if latest is None or ts >= latest else (latest - ts) // ONE_US)
        latest = ts if latest is None or ts > latest else latest
    assert lags == expected_lags
    stamps = [ts for _, ts in events]
    instants = [t + d for t in stamps for d in (-ONE_US, timedelta(0), ONE_US)]
    instants += [start - timedelta(days=1), max(stamps) + timedelta(days=1)]
    for at in instants:
        expected = max((p for p, ts in events if ts <= at), default=0)
        assert rt.timetravel.position_at(at) == expected, at
