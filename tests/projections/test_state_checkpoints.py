"""Delta checkpoints (decision 0022): a chain of a base and page deltas opens as the replica it was taken of.

Each checkpoint is compared with a full replay to its position, table by table; the chain must hold
deltas and more than one base, two processes taking checkpoints of one store must not mix their
chains, and a chain with a link dropped from the store falls back to an earlier whole one.
"""

from __future__ import annotations

import random
import threading
from typing import Any

from projections.registry import all_views
from projections.state_images import HEAD_BYTES, delta_head, is_delta
from projections.timetravel import TimeTravel, open_chain
from tests.projections.test_state_at import MixedHistory, rows, time_travel_views

TABLES = sorted({t for v in time_travel_views() for t in v.tables})


def stored(tt: TimeTravel) -> list[tuple[int, bytes]]:
    return [(int(r["position"]), bytes(r["payload"])) for r in tt.ledger.db.query(
        "SELECT position, payload FROM state_checkpoints WHERE signature = ? ORDER BY position", (tt.signature,))]


def history_of(rt: Any, admin: Any, clock: Any, seed: int, prefix: str, batches: int = 3) -> MixedHistory:
    """`batches` batches of a mixed history (seeded), each applied to the read models before the next."""
    history = MixedHistory(rt, admin, clock, random.Random(seed))
    for b in range(batches):
        history.batch(prefix=f"{prefix}{b}")
        rt.projector.catch_up_all()
    return history


def same_as_replay(tt: TimeTravel, position: int) -> None:
    at, replica = tt._nearest_checkpoint(position)
    assert at == position, "a whole chain ends at every stored checkpoint"
    truth = tt.full_replay(position)
    for table in TABLES:
        assert rows(replica, table) == rows(truth, table), (table, position)


def test_every_checkpoint_of_a_chain_opens_as_the_replica_replayed_to_its_position(runtime, admin, clock):
    rt = runtime
    history_of(rt, admin, clock, 41, "D")
    tt = TimeTravel(rt.ledger, all_views, checkpoint_every=7)
    assert tt.checkpoint() is not None
    kept = stored(tt)
    deltas = [p for p, payload in kept if is_delta(payload)]
    bases = [p for p, payload in kept if not is_delta(payload)]
    assert len(deltas) >= 3 and len(bases) >= 2, (len(deltas), len(bases))
    positions = [p for p, _ in kept]
    assert positions == list(range(7, rt.ledger.max_position() + 1, 7)), "one every 7 events, none skipped"
    for p, payload in kept:
        if is_delta(payload):
            head = delta_head(payload)
            assert head.parent == p - 7 and head.base in bases and head.base < p
        same_as_replay(tt, p)
    # an answer between two checkpoints replays only the events after the nearer one
    position, replica = rt.state_at(clock.now())
    assert position == rt.ledger.max_position()
    for table in TABLES:
        assert rows(replica, table) == rows(rt.ledger.db, table), table


def test_two_processes_taking_checkpoints_of_one_store_keep_every_chain_whole(runtime, admin, clock):
    rt = runtime
    history = MixedHistory(rt, admin, clock, random.Random(43))
    one = TimeTravel(rt.ledger, all_views, checkpoint_every=6)
    two = TimeTravel(rt.ledger, all_views, checkpoint_every=6)
    for b in range(4):
        history.batch(prefix=f"T{b}")
        rt.projector.catch_up_all()
        # the second process took the last checkpoints: the first resumes from the stored one, not its own
        (one if b % 2 else two).checkpoint(max_steps=3)
        (two if b % 2 else one).checkpoint(max_steps=2)
    # both started a chain at the first checkpoint before either had stored one: only one of them is kept
    first = TimeTravel(rt.ledger, all_views, checkpoint_every=6)
    other = TimeTravel(rt.ledger, all_views, checkpoint_every=6)
    history.batch(prefix="T9")
    rt.projector.catch_up_all()
    first.checkpoint(max_steps=1)
    other._roll = None
    assert other._store_checkpoint(first.latest_checkpoint() - 6, first.latest_checkpoint()) is False
    assert other._roll is None, "a process whose checkpoint lost the race drops its replica"
    for p, _ in stored(one):
        same_as_replay(one, p)


def test_a_chain_with_a_link_dropped_falls_back_to_an_earlier_whole_chain(runtime, admin, clock):
    rt = runtime
    history = history_of(rt, admin, clock, 47, "L")
    tt = TimeTravel(rt.ledger, all_views, checkpoint_every=5)
    tt.checkpoint()
    kept = stored(tt)
    deltas = [p for p, payload in kept if is_delta(payload)]
    assert len(deltas) >= 2
    top = deltas[-1]
    dropped = delta_head(dict(kept)[top]).parent
    with rt.ledger.db.write() as tx:
        tx.execute("DELETE FROM state_checkpoints WHERE position = ?", (dropped,))
    at, replica = tt._nearest_checkpoint(top)
    assert at < dropped, "the chain through the dropped link is not used"
    truth = tt.full_replay(top)
    tt._replay(replica, at, top)
    for table in TABLES:
        assert rows(replica, table) == rows(truth, table), table
    # the process taking checkpoints starts a new chain from a base when its last one is unreadable
    fresh = TimeTravel(rt.ledger, all_views, checkpoint_every=5)
    history.batch(prefix="L9")
    rt.projector.catch_up_all()
    assert fresh.checkpoint() is not None
    for p, _ in stored(fresh):
        if p > top:
            same_as_replay(fresh, p)


def test_a_larger_rebase_share_stores_fewer_bases_and_its_longer_chains_still_open_as_the_replay(
        runtime, admin, clock):
    rt = runtime
    history_of(rt, admin, clock, 47, "R")
    often = TimeTravel(rt.ledger, all_views, checkpoint_every=7, rebase_share=0.25)
    assert often.checkpoint() is not None
    bases_often = sum(not is_delta(payload) for _, payload in stored(often))
    with rt.ledger.db.write() as tx:
        tx.execute("DELETE FROM state_checkpoints")
    rare = TimeTravel(rt.ledger, all_views, checkpoint_every=7, rebase_share=1000.0)
    assert rare.checkpoint() is not None
    kept = stored(rare)
    bases_rare = [p for p, payload in kept if not is_delta(payload)]
    assert bases_rare == [7], "with a share no chain reaches, the first checkpoint is the only base"
    assert bases_often > 1
    longest = max(len(rare._chain(p)[1]) for p, _ in kept)
    assert longest == len(kept), "the last checkpoint's chain runs back to the first"
    for p, _ in kept:
        same_as_replay(rare, p)


def test_the_overlapped_load_is_the_chain_opened_in_one_thread_and_a_vanished_link_is_refused(runtime, admin, clock):
    """Decision 0036: the base fetched and decompressed by one thread while this one fetches the deltas
    gives the very image `open_chain` builds from the whole chain; a link no longer stored when its payload
    is fetched makes the load give up (None), so the caller loads whatever chain is whole then."""
    rt = runtime
    history_of(rt, admin, clock, 43, "O")
    tt = TimeTravel(rt.ledger, all_views, checkpoint_every=5)
    assert tt.checkpoint() is not None
    last = max(p for p, _ in stored(tt))
    at, heads = tt._links(last, f"substr(payload, 1, {HEAD_BYTES})")
    assert at == last and len(heads) >= 3 and not any(is_delta(h) for _, h in heads[:1])
    assert all(len(bytes(h)) == HEAD_BYTES for _, h in heads)
    loaded = tt._load_overlapped(heads)
    assert loaded is not None
    assert loaded.serialize() == open_chain(tt._chain(last)[1]).serialize()
    ghost = [*heads[:-1], (last + 1, heads[-1][1])]  # a delta that is not (or no longer) stored
    assert tt._load_overlapped(ghost) is None
    stale = bytes(heads[-1][1])[:-8] + b"\xff" * 8  # another checkpoint now stored at that position
    assert tt._load_overlapped([*heads[:-1], (heads[-1][0], stale)]) is None
    with rt.ledger.db.write() as tx:  # the base gone: this chain no longer opens
        tx.execute("DELETE FROM state_checkpoints WHERE signature = ? AND position = ?", (tt.signature, heads[0][0]))
    assert tt._load_overlapped(heads) is None
    assert not [t for t in threading.enumerate() if t.name.startswith("checkpoint-load")]
