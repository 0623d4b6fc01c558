"""Issue 13's "done when", for the parts built here, end to end on both stores and both profiles: the SM
profile's vectors pass (test_sm_profile.py), a grant-status answer with its proof is re-derived by the offline
verifier on a machine without the project, and a provider verifies the receipt for a delivery of its data."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from uuid import UUID

import msgspec

import infrastructure.verifier
from application.answer_proofs import grant_status_with_proof
from application.runtime import Runtime
from tests.application.access_log_world import PURPOSE, World
from tests.integrity.conftest import ADMIN
from tests.support import cmd


def test_an_answer_with_its_proof_and_a_providers_receipt_verify_away_from_the_project(ledger: Runtime, clock,
                                                                                       profile: str, tmp_path: Path):
    w = World(ledger, ADMIN, clock)
    delivery = w.access("div-elder")
    answer, _ = ledger.access_log.record(w.platform, cmd("access_log.record"), [delivery])
    assert answer.records[0].outcome == "allowed"
    _, proof = grant_status_with_proof(ledger.sharing, ledger.integrity, ledger.ledger, holder="div-elder",
                                       entry_id=w.open, fields=("A",), purpose=PURPOSE, method="interface")
    [receipt] = ledger.receipts.for_party(w.provider.reviewer, side="provider")["items"]
    assert receipt["receipt"]["batch_id"] == answer.batch_id and receipt["inclusion"] is not None
    assert receipt["receipt"]["profile"] == proof["checkpoint"]["profile"] == profile

    away = tmp_path / "elsewhere"
    away.mkdir()
    shutil.copy(infrastructure.verifier.__file__, away / "verifier.py")
    (away / "ledger.pub").write_text(ledger.integrity.public_key_pem())
    (away / "answer.json").write_text(json.dumps(proof, ensure_ascii=False))
    (away / "receipt.json").write_text(json.dumps(receipt, ensure_ascii=False))
    (away / "checkpoint.json").write_text(json.dumps(msgspec.to_builtins(ledger.integrity.checkpoint_of())))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    def verify(name: str) -> dict:
        done = subprocess.run([sys.executable, "verifier.py", "--public-key", "ledger.pub", "--checkpoint",
                               "checkpoint.json", "--proof", name], cwd=away, env=env, capture_output=True, text=True,
                              timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    derived = verify("answer.json")
    assert derived["decision"]["allowed"] and derived["decision"]["grant_id"] == str(w.grants[("div-elder", w.open)])
    assert derived["profile"] == profile
    got = verify("receipt.json")
    assert got["included"] and got["records_checked"] == 1 and got["receipt"] == answer.batch_id
    assert UUID(got["receipt"]) == UUID(answer.batch_id)
