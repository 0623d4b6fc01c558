"""State at a date equals a fresh replay of every event up to that instant, with and without checkpoints."""

from __future__ import annotations

import random

import pytest

from tests.projections.test_catalog_projection import random_history

TABLES = ("catalog_entries", "catalog_items", "open_catalog", "organizations", "organization_members", "grants")


def rows(db, table):
    return sorted(tuple(str(v) for v in r.values()) for r in db.query(f"SELECT * FROM {table}"))


@pytest.mark.parametrize("seed", [5, 6])
def test_state_at_random_instants_equals_replay_to_that_instant(runtime, admin, clock, seed):
    rng = random.Random(seed)
    start = clock.now()
    for _ in range(3):
        random_history(runtime, admin, seed=rng.randint(0, 10_000), n=6, prefix=f"S{rng.randint(0, 10**6)}")
        clock.advance(days=rng.randint(1, 30))
        runtime.timetravel.checkpoint_every = rng.randint(5, 40)
        runtime.projector.catch_up_all()
        runtime.timetravel.checkpoint()
    end = clock.now()
    assert runtime.timetravel.latest_checkpoint() > 0, "the history crossed at least one checkpoint"
    for _ in range(6):
        at = start + (end - start) * rng.random()
        position, replica = runtime.state_at(at)
        truth = runtime.timetravel.full_replay(position)
        for table in TABLES:
            assert rows(replica, table) == rows(truth, table), (table, at, position)
    # at the head, the replica equals the live read models
    position, replica = runtime.state_at(end)
    assert position == runtime.ledger.max_position()
    for table in TABLES:
        assert rows(replica, table) == rows(runtime.ledger.db, table)


def test_before_the_first_event_the_state_is_empty(runtime, admin, clock):
    from datetime import timedelta

    position, replica = runtime.state_at(clock.now() - timedelta(days=3650))
    assert position == 0 and rows(replica, "catalog_entries") == []
