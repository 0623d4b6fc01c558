"""Tampering with stored events directly in the database: `verify` names the exact position every time, and
proofs made before the tamper no longer hold after it (AUD-1), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from application.common import NotFound
from bootstrap import Runtime
from infrastructure.verifier import VerificationError, verify_bundle
from tests.integrity.conftest import ADMIN, Store, public_key, trusted
from tests.support import register


def first_break(rt: Runtime) -> tuple[str, int]:
    report = rt.integrity.verify()
    assert not report.ok and report.first_break is not None
    return report.first_break.kind, report.first_break.position


def proof_fails_now(rt: Runtime, position: int) -> None:
    """The ledger can no longer prove this position against the checkpoint signed before the tamper."""
    cp = trusted(rt)
    try:
        bundle = rt.integrity.proof(None, position, checkpoint=cp["tree_size"])
    except NotFound:
        return
    with pytest.raises(VerificationError):
        verify_bundle(bundle, public_key(rt), cp)


def test_an_untouched_ledger_verifies_and_its_proofs_hold(ledger: Runtime, store: Store):
    report = ledger.integrity.verify()
    assert report.ok and report.first_break is None
    assert report.events == report.chained == len(store.positions()) == 8
    assert report.checkpoints == 1 and report.signatures == "checked"
    for position in store.positions():
        bundle = ledger.integrity.proof(None, position)
        assert verify_bundle(bundle, public_key(ledger), trusted(ledger))["event"]["position"] == position


def test_one_changed_byte_is_named_by_position_and_aggregate(ledger: Runtime, store: Store):
    target = store.positions()[4]
    before = ledger.integrity.proof(None, target)
    store.flip_byte(target)
    report = ledger.integrity.verify()
    assert report.first_break is not None
    assert (report.first_break.kind, report.first_break.position) == ("altered", target)
    assert report.first_break.originator_id == before["event"]["originator_id"]
    proof_fails_now(ledger, target)
    # the old proof, shown the event as it is stored now, fails too
    before["event"] = ledger.integrity.stored_event(target)
    with pytest.raises(VerificationError):
        verify_bundle(before, public_key(ledger), trusted(ledger))


@pytest.mark.parametrize("which", [2, -1], ids=["middle", "last"])
def test_a_deleted_event_is_reported_missing_where_it_was(ledger: Runtime, store: Store, which: int):
    target = store.positions()[which]
    assert ledger.integrity.proof(None, target)
    store.delete(target)
    assert first_break(ledger) == ("missing", target)
    proof_fails_now(ledger, target)


def test_two_swapped_events_are_reported_reordered_at_the_first(ledger: Runtime, store: Store):
    p, q = store.positions()[3], store.positions()[6]
    store.swap(p, q)
    report = ledger.integrity.verify()
    kinds = [(b.kind, b.position) for b in report.breaks if b.kind != "checkpoint"]
    assert kinds == [("reordered", p), ("reordered", q)]
    assert first_break(ledger) == ("reordered", p)
    proof_fails_now(ledger, p)
    proof_fails_now(ledger, q)


def test_a_gap_is_no_break_but_an_event_inserted_into_it_is(ledger: Runtime, store: Store):
    # a position the store skipped (as a rolled-back PostgreSQL sequence value leaves one)
    store.insert(None)
    gap = store.positions()[-1]
    register(ledger, ADMIN, "div-late")
    store.delete(gap)
    assert gap not in store.positions() and store.positions()[-1] > gap
    assert ledger.integrity.verify().ok
    ledger.integrity.create_checkpoint()

    store.insert(gap)
    assert first_break(ledger) == ("inserted", gap)
    proof_fails_now(ledger, gap)


def test_an_event_moved_into_a_gap_is_reported_reordered(ledger: Runtime, store: Store):
    store.insert(None)
    gap = store.positions()[-1]
    register(ledger, ADMIN, "div-late")
    store.delete(gap)
    target = store.positions()[1]
    store.sql("UPDATE {table} SET {col} = ? WHERE {col} = ?", (gap, target))
    assert first_break(ledger) == ("reordered", target)


def test_rewriting_the_chain_after_a_tamper_is_caught_by_the_signed_checkpoint(ledger: Runtime, store: Store):
    target = store.positions()[5]
    store.flip_byte(target)
    ledger.projector.rebuild(["ledger_chain"])  # the intruder re-chains the altered store
    report = ledger.integrity.verify()
    assert not report.ok
    assert [b.kind for b in report.breaks] == ["checkpoint"]
    proof_fails_now(ledger, target)


def test_a_forged_checkpoint_signature_is_a_break(ledger: Runtime, store: Store):
    store.sql("UPDATE ledger_checkpoints SET root_hash = ?", ("00" * 32,))
    kinds = {b.kind for b in ledger.integrity.verify().breaks}
    assert kinds == {"checkpoint"}


def test_events_not_yet_chained_are_counted_not_reported(ledger: Runtime, store: Store):
    register(ledger, ADMIN, "div-new")
    report = ledger.integrity.verify(catch_up=False)
    assert report.ok and report.unchained == 1
    assert ledger.integrity.verify().chained == 9
