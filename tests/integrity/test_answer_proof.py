"""A grant-status answer that carries its own proof, on both stores and both profiles: the offline verifier
checks every event's inclusion and the signature, re-derives the decision from the events alone, and refuses
when one byte of a proven event, the stated answer or the set of events is changed."""

from __future__ import annotations

import base64
import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

import infrastructure.verifier
from application.answer_proofs import grant_status_with_proof
from bootstrap import Runtime
from infrastructure.verifier import VerificationError, verify_answer
from tests.integrity.conftest import ADMIN, public_key, trusted
from tests.support import cmd, grant_to_div_elder


@pytest.fixture
def world(ledger: Runtime, clock):
    """A published entry, a 30-day grant of two of its fields to div-elder, and the question about it."""
    _, _, gid, ask = grant_to_div_elder(ledger, ADMIN, clock.now().date(), fields=("DB_ID", "DB_NAME"))
    return ledger, gid, ask


def prove(rt: Runtime, **ask):  # noqa: ANN003, ANN201
    return grant_status_with_proof(rt.sharing, rt.integrity, rt.ledger, **ask)


def test_an_answer_is_re_derived_from_its_proven_events_alone(world, clock):
    rt, gid, ask = world
    answer, bundle = prove(rt, **ask)
    assert answer.allowed and answer.grant_id == gid
    plain = rt.sharing.status(**ask, at=answer.at)  # the same as the answer without its proof (asked a moment later)
    assert answer == msgspec.structs.replace(plain, as_known_at=answer.as_known_at)
    assert bundle["checkpoint"]["tree_size"] == rt.integrity.checkpoint_of().tree_size  # signed for it
    summary = verify_answer(json.loads(json.dumps(bundle)), public_key(rt))
    assert summary["decision"]["allowed"] and summary["decision"]["grant_id"] == str(gid)
    assert summary["entry"]["share_class"] == "unconditional" and summary["entry"]["published_version"] == 1
    topics = {p["event"]["topic"] for p in bundle["events"]}
    assert {"civic-ledger:Grant.Granted", "civic-ledger:CatalogEntry.Published"} <= topics

    rt.sharing.suspend(ADMIN, cmd(), gid, reason="核查中")
    clock.advance(hours=1)
    refused, later = prove(rt, **ask)
    assert not refused.allowed and [r.code for r in refused.reasons] == ["suspended"]
    assert later["checkpoint"]["tree_size"] > bundle["checkpoint"]["tree_size"]
    assert verify_answer(later, public_key(rt), trusted(rt))["decision"]["reasons"][0][0] == "suspended"
    # against the checkpoint the asker kept from the first answer: the later one must extend it
    first_head = bundle["checkpoint"]
    with pytest.raises(VerificationError, match="no consistency proof"):
        verify_answer(later, public_key(rt), first_head)
    _, linked = prove(rt, **ask, since=first_head["tree_size"])
    assert verify_answer(linked, public_key(rt), first_head)["consistent_with"] == first_head["tree_size"]
    # a question about the past is answered, and proved, from the events recorded by then
    before, past = prove(rt, **ask, at=answer.at)
    assert before.allowed and verify_answer(past, public_key(rt))["decision"]["allowed"]
    for fields, purpose in ((("DB_ID", "DB_AREA"), "核对"), (("DB_NAME",), "统计")):
        other, proof = prove(rt, **{**ask, "fields": fields, "purpose": purpose}, at=answer.at)
        assert not other.allowed and verify_answer(proof, public_key(rt))["decision"]["allowed"] is False


def test_the_verifier_refuses_a_changed_byte_a_changed_answer_or_a_withheld_event(world):
    rt, gid, ask = world
    rt.sharing.suspend(ADMIN, cmd(), gid, reason="核查中")
    rt.sharing.resume(ADMIN, cmd(), gid)
    _, bundle = prove(rt, **ask)
    key = public_key(rt)
    assert verify_answer(bundle, key)["decision"]["allowed"]

    for i, proof in enumerate(bundle["events"]):
        state = bytearray(base64.b64decode(proof["event"]["state"]))
        state[len(state) // 2] ^= 0x01
        forged = copy.deepcopy(bundle)
        forged["events"][i]["event"]["state"] = base64.b64encode(bytes(state)).decode()
        with pytest.raises(VerificationError, match="inclusion proof"):
            verify_answer(forged, key)

    lie = copy.deepcopy(bundle)
    lie["answer"]["allowed"], lie["answer"]["grant_id"], lie["answer"]["kind"] = False, None, None
    with pytest.raises(VerificationError, match="does not follow"):
        verify_answer(lie, key)

    def without(topic: str) -> dict:
        cut = copy.deepcopy(bundle)
        cut["events"] = [p for p in cut["events"] if p["event"]["topic"] != topic]
        return cut

    with pytest.raises(VerificationError, match="withheld"):  # a hole in the grant's versions
        verify_answer(without("civic-ledger:Grant.Suspended"), key)
    # The limit of such a proof (docs/integrity.md): a service that withholds an aggregate's latest events and
    # states the answer they would have given is not caught by the proof alone.
    stale = without("civic-ledger:Grant.Resumed")
    with pytest.raises(VerificationError, match="does not follow"):
        verify_answer(stale, key)
    stale["answer"] = {**stale["answer"], "allowed": False, "grant_id": None, "kind": None,
                       "reasons": [{"code": "suspended", "grant_id": str(gid), "fields": []}]}
    assert verify_answer(stale, key)["decision"]["allowed"] is False

    signed = copy.deepcopy(bundle)
    signed["checkpoint"]["timestamp"] = "2020-01-01T00:00:00+00:00"
    with pytest.raises(VerificationError, match="signature"):
        verify_answer(signed, key)


def test_an_auditor_re_derives_the_answer_from_the_file_alone(world, tmp_path: Path):
    """On a copy of the verifier, with the project off the path."""
    rt, _, ask = world
    _, bundle = prove(rt, **ask)
    away = tmp_path / "auditor"
    away.mkdir()
    shutil.copy(infrastructure.verifier.__file__, away / "verifier.py")
    (away / "ledger.pub").write_text(rt.integrity.public_key_pem())
    (away / "answer.json").write_text(json.dumps(bundle, ensure_ascii=False))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "verifier.py", "--public-key", "ledger.pub", "--proof", "answer.json"],
                          cwd=away, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["decision"]["allowed"] is True


def test_on_an_encrypted_ledger_the_answer_is_re_derived_with_the_cipher_key(settings, clock, profile: str):
    import dataclasses

    from eventsourcing.cryptography import AESCipher

    secret = AESCipher.create_key(16)
    rt = Runtime(dataclasses.replace(settings, cipher_key=secret), clock=clock)
    try:
        rt.init(admin=ADMIN.person)
        ask = grant_to_div_elder(rt, ADMIN, clock.now().date()).ask
        answer, bundle = prove(rt, **ask)
        assert answer.allowed
        with pytest.raises(VerificationError, match="--cipher-key"):
            verify_answer(bundle, public_key(rt))
        assert verify_answer(bundle, public_key(rt), cipher_key=base64.b64decode(secret))["decision"]["allowed"]
        with pytest.raises(VerificationError, match="does not open"):
            verify_answer(bundle, public_key(rt), cipher_key=bytes(16))
    finally:
        rt.close()
