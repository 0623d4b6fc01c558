"""Receipts of access-log batches (第二十二条) on both stores and both profiles: every accepted batch gets one,
signed with the ledger's key; the provider and the holder each get the receipts about their records, and the
offline verifier checks a receipt and, once a checkpoint covers the batch, its inclusion."""

from __future__ import annotations

import base64
import copy
from uuid import UUID

import pytest

from application.common import ApplicationError, Forbidden
from application.runtime import Runtime
from domain.organizations import Role
from infrastructure.verifier import VerificationError, verify_receipt
from tests.application.access_log_world import World
from tests.integrity.conftest import ADMIN, public_key, trusted
from tests.support import cmd, member


@pytest.fixture
def world(ledger: Runtime, clock) -> World:
    return World(ledger, ADMIN, clock)


def send(w: World, *accesses):  # noqa: ANN002, ANN201
    answer, _ = w.rt.access_log.record(w.platform, cmd("access_log.record"), list(accesses))
    assert answer.batch_id is not None
    return UUID(answer.batch_id)


def test_a_batch_gets_a_signed_receipt_each_party_sees_its_records_and_inclusion_follows(world: World):
    rt, key = world.rt, public_key(world.rt)
    batch = send(world, world.access("div-elder"), world.access("div-welfare"), world.access("div-elder"))
    full = rt.receipts.bundle(batch)
    receipt = full["receipt"]
    assert receipt["profile"] == rt.ledger.profile and len(receipt["record_hashes"]) == 3
    assert receipt["position"] == rt.ledger.position_of(batch, 1)
    assert receipt["falls_under"]["checkpoint_after"] == trusted(rt)["tree_size"] <= receipt["leaf_index"]
    assert full["inclusion"] is None                                        # no checkpoint covers it yet
    summary = verify_receipt(full, key)
    assert summary["records_checked"] == 3 and not summary["included"]
    assert rt.receipts.receipt(batch) == receipt                             # issued once, kept

    rt.integrity.create_checkpoint()
    elder = member(rt, ADMIN, "div-elder", "周审计", Role.REQUESTER)
    mine = rt.receipts.for_party(elder, side="holder")["items"]
    assert [b["receipt"]["batch_id"] for b in mine] == [str(batch)]
    assert [r["index"] for r in mine[0]["records"]] == [0, 2]                # its own records, none of the other's
    assert {r["record"]["holder"] for r in mine[0]["records"]} == {"div-elder"}
    done = verify_receipt(mine[0], key, trusted(rt))
    assert done["included"] and done["checkpoint"] == trusted(rt)["tree_size"]
    provider = rt.receipts.for_party(world.provider.reviewer, side="provider")["items"]
    assert len(provider[0]["records"]) == 3 and verify_receipt(provider[0], key)["included"]
    with pytest.raises(Forbidden):
        rt.receipts.for_party(elder, side="provider", org="div-relief")
    with pytest.raises(ApplicationError, match="Name the organization"):
        rt.receipts.for_party(ADMIN, side="holder")
    assert len(rt.receipts.for_party(ADMIN, side="holder", org="div-welfare")["items"][0]["records"]) == 1


def test_the_verifier_refuses_a_forged_record_a_forged_receipt_or_a_wrong_inclusion(world: World):
    rt, key = world.rt, public_key(world.rt)
    first = send(world, world.access("div-elder"), world.access("div-welfare"))
    second = send(world, world.access("div-elder"))
    rt.integrity.create_checkpoint()
    good = rt.receipts.bundle(first)
    assert verify_receipt(good, key)["included"]

    record = copy.deepcopy(good)
    record["records"][0]["record"]["record_count"] += 1                     # the platform delivered more than logged
    with pytest.raises(VerificationError, match="not the one the receipt covers"):
        verify_receipt(record, key)
    moved = copy.deepcopy(good)
    moved["records"][0]["index"] = 1
    with pytest.raises(VerificationError, match="not the one"):
        verify_receipt(moved, key)
    signed = copy.deepcopy(good)
    signed["receipt"]["record_hashes"][1] = signed["receipt"]["record_hashes"][0]
    with pytest.raises(VerificationError, match="bad signature"):
        verify_receipt(signed, key)
    other = copy.deepcopy(good)
    other["inclusion"]["path"] = rt.receipts.bundle(second)["inclusion"]["path"]   # another batch's path
    assert other["inclusion"]["path"] != good["inclusion"]["path"]
    with pytest.raises(VerificationError, match="inclusion"):
        verify_receipt(other, key)
    bent = copy.deepcopy(good)
    bent["inclusion"]["path"][0] = ("0" if bent["inclusion"]["path"][0][0] != "0" else "1") + \
        bent["inclusion"]["path"][0][1:]
    with pytest.raises(VerificationError, match="inclusion proof"):
        verify_receipt(bent, key)
    tampered_head = copy.deepcopy(good)
    tampered_head["inclusion"]["checkpoint"]["root_hash"] = "00" * 32
    with pytest.raises(VerificationError, match="signature"):
        verify_receipt(tampered_head, key)


def test_duplicates_only_get_no_new_receipt_and_a_receipt_survives_a_lost_write(world: World):
    rt = world.rt
    a = world.access("div-elder", request_id="req-dup")
    batch = send(world, a)
    again, _ = rt.access_log.record(world.platform, cmd("access_log.record"), [a])
    assert again.batch_id is None and again.duplicates == 1
    with rt.ledger.db.write() as tx:  # as if the process stopped before the receipt was kept
        tx.execute("DELETE FROM access_log_receipts")
    reissued = rt.receipts.bundle(batch)
    assert verify_receipt(reissued, public_key(rt))["records"] == 1


def test_a_provider_verifies_its_receipt_on_a_machine_without_the_project(world: World, tmp_path):
    import json
    import os
    import shutil
    import subprocess
    import sys

    import infrastructure.verifier

    rt = world.rt
    send(world, world.access("div-elder"), world.access("div-welfare"))
    rt.integrity.create_checkpoint()
    [mine] = rt.receipts.for_party(world.provider.reviewer, side="provider")["items"]
    away = tmp_path / "provider"
    away.mkdir()
    shutil.copy(infrastructure.verifier.__file__, away / "verifier.py")
    (away / "ledger.pub").write_text(rt.integrity.public_key_pem())
    (away / "receipt.json").write_text(json.dumps(mine, ensure_ascii=False))
    forged = copy.deepcopy(mine)
    forged["records"][1]["record"]["holder"] = "div-elder"
    (away / "forged.json").write_text(json.dumps(forged, ensure_ascii=False))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    def run(name: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "verifier.py", "--public-key", "ledger.pub", "--proof", name], cwd=away,
                              env=env, capture_output=True, text=True, timeout=120, check=False)

    ok = run("receipt.json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["included"] is True
    bad = run("forged.json")
    assert bad.returncode == 1 and "FAILED" in bad.stderr


def test_a_receipt_of_an_encrypted_ledger_shows_the_records_in_clear_to_those_concerned(settings, clock):
    import dataclasses

    from eventsourcing.cryptography import AESCipher

    rt = Runtime(dataclasses.replace(settings, cipher_key=AESCipher.create_key(16)), clock=clock)
    try:
        rt.init(admin=ADMIN.person)
        w = World(rt, ADMIN, clock)
        batch = send(w, w.access("div-elder"), w.access("div-welfare"))
        rt.integrity.create_checkpoint()
        stored = rt.integrity.stored_event(rt.ledger.position_of(batch, 1))
        assert b"div-welfare" not in base64.b64decode(stored["state"])   # encrypted at rest
        [mine] = rt.receipts.for_party(w.provider.reviewer, side="provider")["items"]
        assert {r["record"]["holder"] for r in mine["records"]} == {"div-elder", "div-welfare"}
        assert verify_receipt(mine, public_key(rt))["included"]
    finally:
        rt.close()
