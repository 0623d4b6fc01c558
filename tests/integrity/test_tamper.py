"""Tampering with stored events directly in the database: `verify` names the exact position every time, and
proofs made before the tamper no longer hold after it (AUD-1), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from application.common import NotFound
from bootstrap import Runtime
from domain.organizations import OFFICE_CODE, Organization, Role, organization_id
from infrastructure.recorders import LedgerTampered
from infrastructure.verifier import VerificationError, verify_bundle
from tests.integrity.conftest import ADMIN, Store, forged_office_admin, public_key, trusted
from tests.support import cmd, register


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


def gap_after_a_skipped_position(ledger: Runtime, store: Store) -> int:
    """A position the store skipped (as a rolled-back PostgreSQL sequence value leaves one), with div-late's
    registration recorded after it: the gap's position."""
    store.insert(None)
    gap = store.positions()[-1]
    register(ledger, ADMIN, "div-late")
    store.delete(gap)
    return gap


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
    gap = gap_after_a_skipped_position(ledger, store)
    assert gap not in store.positions() and store.positions()[-1] > gap
    assert ledger.integrity.verify().ok
    ledger.integrity.create_checkpoint()

    store.insert(gap)
    assert first_break(ledger) == ("inserted", gap)
    proof_fails_now(ledger, gap)


def test_an_event_moved_into_a_gap_is_reported_reordered(ledger: Runtime, store: Store):
    gap = gap_after_a_skipped_position(ledger, store)
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


# -- rows the chain never covered: below position 1, before its first record, and the write model ------------


def office_events(rt: Runtime) -> int:
    return rt.ledger.repository.get(organization_id(OFFICE_CODE)).version


@pytest.mark.parametrize("position", [0, -7], ids=["zero", "negative"])
def test_a_forged_event_below_position_one_is_reported_inserted_and_never_loaded(ledger: Runtime, store: Store,
                                                                                position: int):
    version = office_events(ledger)
    forged = forged_office_admin(ledger)
    assert forged.originator_version == version + 1
    before = ledger.ledger.max_position()
    store.insert_stored(position, forged)

    report = ledger.integrity.verify()
    assert not report.ok and report.first_break is not None
    b = report.first_break
    assert (b.kind, b.position) == ("inserted", position)
    assert (b.originator_id, b.originator_version) == (str(organization_id(OFFICE_CODE)), version + 1)
    # the write model refuses the aggregate instead of using the forged role
    with pytest.raises(LedgerTampered) as refused:
        ledger.ledger.repository.get(organization_id(OFFICE_CODE))
    assert (refused.value.kind, refused.value.position) == ("inserted", position)
    with pytest.raises(LedgerTampered):
        ledger.organizations.assign_role(ADMIN, cmd(), code=OFFICE_CODE, person="clerk", role=Role.AUDITOR)
    assert ledger.ledger.max_position() == before
    # the timeline does not present it as genuine
    with pytest.raises(LedgerTampered):
        ledger.history.timeline(ADMIN, "organization", OFFICE_CODE)
    # a token for the intruder resolves to no caller with the forged role
    _, planted = ledger.tokens.create(person="intruder", organization=OFFICE_CODE, roles=("office_admin",))
    with pytest.raises(LedgerTampered):
        ledger.principal(planted)
    # removing the row restores the ledger: nothing of it was used
    store.sql("DELETE FROM {table} WHERE {col} = ?", (position,))
    assert ledger.integrity.verify().ok
    assert office_events(ledger) == version


def test_a_cached_aggregate_is_refused_too_when_a_forged_event_follows_it(ledger: Runtime, store: Store):
    office_events(ledger)  # the Office is in the aggregate cache now; a load fast-forwards it
    store.insert_stored(0, forged_office_admin(ledger))
    with pytest.raises(LedgerTampered):
        ledger.ledger.repository.get(organization_id(OFFICE_CODE))


def test_an_event_before_the_first_chained_position_is_reported_inserted(runtime: Runtime):
    # position 1 is gone before it is chained (as a rolled-back PostgreSQL sequence value leaves a hole), so the
    # chain starts at 2
    store = Store(runtime)
    store.insert(None)
    assert store.positions() == [1]
    runtime.init(admin=ADMIN.person)
    register(runtime, ADMIN, "div-0")
    store.delete(1)
    runtime.integrity.create_checkpoint()
    assert runtime.integrity.verify().ok and store.positions()[0] == 2

    store.insert_stored(1, forged_office_admin(runtime))
    assert first_break(runtime) == ("inserted", 1)
    with pytest.raises(LedgerTampered) as refused:
        runtime.ledger.repository.get(organization_id(OFFICE_CODE))
    assert (refused.value.kind, refused.value.position) == ("inserted", 1)


def test_a_forged_event_in_a_gap_of_the_chain_is_refused_by_the_write_model(ledger: Runtime, store: Store):
    gap = gap_after_a_skipped_position(ledger, store)
    ledger.integrity.verify()  # chains div-late past the gap
    store.insert_stored(gap, forged_office_admin(ledger))
    assert first_break(ledger) == ("inserted", gap)
    with pytest.raises(LedgerTampered) as refused:
        ledger.ledger.repository.get(organization_id(OFFICE_CODE))
    assert refused.value.position == gap


def test_the_write_model_refuses_an_altered_or_deleted_event_of_an_aggregate(ledger: Runtime, store: Store):
    office = organization_id(OFFICE_CODE)
    positions = [p for p, _ in ledger.ledger.stored_events_of(office)]
    store.flip_byte(positions[-1])
    # a process that loaded the Office before the tamper holds it from the genuine bytes; a fresh one refuses it
    restarted = Runtime(ledger.settings)
    try:
        with pytest.raises(LedgerTampered) as altered:
            restarted.ledger.repository.get(office)
        assert (altered.value.kind, altered.value.position) == ("altered", positions[-1])
        store.delete(positions[-1])
        with pytest.raises(LedgerTampered) as missing:
            restarted.ledger.repository.get(office)
        assert (missing.value.kind, missing.value.position) == ("missing", positions[-1])
    finally:
        restarted.close()


def test_events_recorded_after_the_chain_head_load_before_they_are_chained(ledger: Runtime, store: Store):
    head = int(ledger.ledger.db.scalar("SELECT MAX(position) FROM ledger_chain"))
    ledger.organizations.assign_role(ADMIN, cmd(), code=OFFICE_CODE, person="clerk", role=Role.AUDITOR)
    assert ledger.ledger.max_position() > head  # not chained yet: the projector has not run
    office: Organization = ledger.ledger.repository.get(organization_id(OFFICE_CODE))
    assert office.holds("clerk", Role.AUDITOR)


def test_verify_cli_names_a_row_at_position_zero(ledger: Runtime, store: Store):
    store.insert_stored(0, forged_office_admin(ledger))
    settings = ledger.settings
    env = {**os.environ, "CIVIC_LEDGER_DATABASE_URL": settings.database_url,
           "CIVIC_LEDGER_SIGNING_KEY": str(settings.signing_key)}
    done = subprocess.run([sys.executable, "-m", "api.cli", "verify", "--quiet"], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["first_break"]["kind"] == "inserted"
    assert "first break at position 0: inserted" in done.stderr


def test_over_http_verify_names_the_row_and_history_and_writes_are_refused(ledger: Runtime, store: Store):
    from tests.api.conftest import LiveServer

    register(ledger, ADMIN, "div-audit")
    auditor_token = ledger.issue_token(org="div-audit", person="审计员", roles=("auditor",))
    _, office_token = ledger.tokens.create(person=ADMIN.person, organization=OFFICE_CODE, roles=("office_admin",))
    store.insert_stored(0, forged_office_admin(ledger))
    with LiveServer(ledger) as server:
        auditor = server.client(auditor_token)
        body = auditor.get("/ledger/verify").json()
        assert body["ok"] is False
        assert (body["first_break"]["kind"], body["first_break"]["position"]) == ("inserted", 0)
        history = auditor.get(f"/history/organization/{OFFICE_CODE}")
        assert history.status_code == 409, history.text
        assert history.headers["content-type"].startswith("application/problem+json")
        assert history.json()["type"] == "urn:civic-ledger:ledger-integrity"
        assert (history.json()["kind"], history.json()["position"]) == ("inserted", 0)
        office = server.client(office_token)  # the Office's own organization is the tampered one
        refused = office.post(f"/organizations/{OFFICE_CODE}/members",
                              json={"person": "clerk", "role": "auditor"})
        assert refused.status_code == 409 and refused.json()["position"] == 0
        assert auditor.get("/organizations/div-audit").status_code == 200  # other objects are served


def test_a_store_without_a_chain_table_still_loads_but_refuses_rows_below_one(settings, clock):
    """A bare ledger (no projector, so no `ledger_chain` yet) loads its aggregates; position 0 is refused anyway."""
    from domain.base import Actor, Cause, Context
    from domain.organizations import Level, OrgKind
    from infrastructure.store import Ledger

    ledger, fresh = Ledger(settings), None
    try:
        tables = ("SELECT name FROM sqlite_master WHERE type = 'table'" if ledger.backend == "sqlite" else
                  "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema()")
        assert "ledger_chain" not in {r["name"] for r in ledger.db.query(tables)}
        ctx = Context(actor=Actor("office-admin", OFFICE_CODE, Role.OFFICE_ADMIN), at=clock.now(), cause=Cause("t"))
        office = Organization.register(ctx, code=OFFICE_CODE, name="办公室", kind=OrgKind.OFFICE,
                                       level=Level.PROVINCE, parent=None)
        ledger.save(office)
        assert ledger.repository.get(office.id).version == 1
        office.assign_role(ctx, person="intruder", role=Role.OFFICE_ADMIN)
        [event] = office.collect_events()
        stored = ledger.mapper.to_stored_event(event)
        oid = stored.originator_id.hex if ledger.backend == "sqlite" else stored.originator_id
        with ledger.db.write() as tx:
            tx.execute(f"INSERT INTO {ledger.events_table} ({ledger.position_column}, originator_id, "
                       "originator_version, topic, state) VALUES (?, ?, ?, ?, ?)",
                       (0, oid, stored.originator_version, stored.topic, stored.state))
        fresh = Ledger(settings)  # nothing cached
        with pytest.raises(LedgerTampered) as refused:
            fresh.repository.get(office.id)
        assert (refused.value.kind, refused.value.position) == ("inserted", 0)
    finally:
        ledger.close()
        if fresh is not None:
            fresh.close()
