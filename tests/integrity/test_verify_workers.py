"""The walk's ranges judged in worker processes (docs/integrity.md, "Verify in parallel") must report exactly what
the walk reports in its own process: each tamper at the first position, on both sides of the seams between
ranges of two and of three positions, and at the last, in ranges of one, two and three positions, on both stores
and both profiles; a chain rewritten so that every range passes alone and only a seam breaks; checkpoints at
sizes inside a range."""

from __future__ import annotations

import os
import random
import signal
from collections.abc import Callable
from typing import Any
from uuid import UUID

import msgspec
import pytest

from application.ledger_verify import walk
from bootstrap import Runtime
from infrastructure import verify_ranges
from infrastructure.merkle import Frontier
from infrastructure.verifier import canonical_bytes, suite
from infrastructure.verify_ranges import judge as verify_ranges_judge
from infrastructure.verify_ranges import subtrees
from tests.integrity.conftest import ADMIN, Store
from tests.support import register

SPANS = (1, 2, 3)
# by index: the first position, the first of a range of two (and the last of a range of three), the first of a
# range of three (and the last of a range of two), the last
WHERE = (0, 2, 3, 7)


def report(rt: Runtime, workers: int, span: int | None = None) -> dict[str, Any]:
    checkpoints = [msgspec.to_builtins(c) for c in reversed(rt.integrity.checkpoints(limit=1000))]
    got = msgspec.to_builtins(walk(rt.ledger, checkpoints, rt.integrity.public_key(), workers=workers, span=span))
    return {k: v for k, v in got.items() if k not in ("seconds", "events_per_second")}


def same_in_workers(rt: Runtime) -> dict[str, Any]:
    alone = report(rt, workers=0)
    for span in SPANS:
        assert report(rt, workers=2, span=span) == alone, span
    return alone


def relink(store: Store, position: int) -> None:
    """The chain rewritten from `position` on, every record consistent with the one before it except the first,
    whose previous hash is made up: each range after the seam passes alone, only the seam breaks."""
    rt = store.rt
    new = rt.ledger.suite.new
    prev = b"\x07" * 32
    rows = rt.ledger.db.query(f"SELECT {store.col} AS p, originator_id, originator_version, topic, state "
                              f"FROM {store.table} WHERE {store.col} >= ? ORDER BY {store.col}", (position,))
    with rt.ledger.db.write() as tx:
        for r in rows:
            oid = r["originator_id"]
            data = canonical_bytes(int(r["p"]), UUID(str(oid)) if not isinstance(oid, UUID) else oid,
                                   int(r["originator_version"]), r["topic"], bytes(r["state"]))
            h = new(prev + data).digest()
            tx.execute("UPDATE ledger_chain SET prev_hash = ?, hash = ? WHERE position = ?", (prev, h, int(r["p"])))
            prev = h


TAMPERS: dict[str, Callable[[Store, int], None]] = {
    "altered": lambda store, p: store.flip_byte(p),
    "missing": lambda store, p: store.delete(p),
    "topic": lambda store, p: store.sql("UPDATE {table} SET topic = topic || 'x' WHERE {col} = ?", (p,)),
    "version": lambda store, p: store.sql(
        "UPDATE {table} SET originator_version = originator_version + 100 WHERE {col} = ?", (p,)),
    "position": lambda store, p: store.sql("UPDATE {table} SET {col} = {col} + 1000 WHERE {col} = ?", (p,)),
    "chain hash": lambda store, p: store.sql("UPDATE ledger_chain SET hash = prev_hash WHERE position = ?", (p,)),
    "chain previous hash": lambda store, p: store.sql("UPDATE ledger_chain SET prev_hash = hash WHERE position = ?",
                                                      (p,)),
    "chain sequence": lambda store, p: store.sql("UPDATE ledger_chain SET seq = seq + 1000 WHERE position = ?", (p,)),
    "chain record deleted": lambda store, p: store.sql("DELETE FROM ledger_chain WHERE position = ?", (p,)),
    "relinked at a seam": relink,
}


def test_an_untouched_ledger_verifies_alike(ledger: Runtime):
    assert same_in_workers(ledger)["ok"]


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("tamper", sorted(TAMPERS))
def test_a_tamper_is_reported_alike_by_the_workers(ledger: Runtime, store: Store, tamper: str, where: int):
    positions = store.positions()
    assert len(positions) == 8
    TAMPERS[tamper](store, positions[where])
    got = same_in_workers(ledger)
    assert not got["ok"]
    if tamper == "relinked at a seam":
        assert got["first_break"]["kind"] in ("chain", "checkpoint")


def test_checkpoints_inside_a_range_are_each_checked(ledger: Runtime, store: Store):
    for i in range(5):
        register(ledger, ADMIN, f"div-more-{i}", name=f"第{i}科")
        ledger.integrity.create_checkpoint()  # sizes 9 to 13, each inside a range of three
    assert same_in_workers(ledger)["ok"]
    store.sql("UPDATE ledger_checkpoints SET root_hash = ? WHERE tree_size = 11", ("00" * 32,))
    got = same_in_workers(ledger)
    assert {b["kind"] for b in got["breaks"]} == {"checkpoint"}  # its root, and its signature over the root
    assert {b["position"] for b in got["breaks"]} == {store.positions()[10]}


@pytest.mark.parametrize("profile", ["intl", "sm"])
def test_subtrees_cut_at_checkpoints_grow_the_same_frontier_as_leaves(profile: str):
    hashes = suite(profile)
    rnd = random.Random(14)
    for _ in range(200):
        total = rnd.randint(1, 70)
        leaves = [rnd.randbytes(32) for _ in range(total)]
        cuts = sorted(rnd.sample(range(1, total + 1), rnd.randint(0, min(5, total))))
        seams = sorted({0, total, *rnd.sample(range(total + 1), rnd.randint(0, min(4, total + 1)))})
        one, many = Frontier(hashes=hashes), Frontier(hashes=hashes)
        roots_one, roots_many = {}, {}
        for k, leaf in enumerate(leaves, 1):
            one.append(leaf)
            if k in cuts:
                roots_one[k] = one.root()
        for a, b in zip(seams, seams[1:], strict=False):
            for size, node, last in subtrees(hashes.new, leaves[a:b], a, list(range(a, b)), cuts):
                assert many.size % size == 0 and last == many.size + size - 1
                n = many.size // size
                while n & 1:
                    node = hashes.node_hash(many.hashes.pop(), node)
                    n >>= 1
                many.hashes.append(node)
                many.size += size
                if many.size in cuts:
                    roots_many[many.size] = many.root()
        assert many.size == total and many.root() == one.root() and roots_many == roots_one


def _dies_on_its_second_range(src: Any, after: int, upto: int, cuts: Any) -> Any:
    """A worker process ended by a signal while it judges the range that starts at the third position (as a SIGBUS
    from a memory-mapped file truncated under it would end it); every other range is judged as usual."""
    if after == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return verify_ranges_judge(src, after, upto, cuts)


@pytest.mark.parametrize("tamper", [None, "altered", "chain hash"])
def test_a_worker_that_dies_leaves_the_report_unchanged(ledger: Runtime, store: Store,
                                                        monkeypatch: pytest.MonkeyPatch, tamper: str | None):
    if tamper is not None:
        TAMPERS[tamper](store, store.positions()[5])
    alone = report(ledger, workers=0)
    monkeypatch.setattr(verify_ranges, "judge", _dies_on_its_second_range)
    assert report(ledger, workers=2, span=2) == alone
    assert alone["ok"] is (tamper is None)
