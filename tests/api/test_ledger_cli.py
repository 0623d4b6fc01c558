"""The integrity commands for real, as subprocesses; the auditor's check runs on a copy of the verifier alone."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import infrastructure.verifier
from infrastructure.config import Settings
from tests.conftest import database_url


@pytest.fixture
def settings(backend: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url(backend, tmp_path), signing_key=str(tmp_path / "keys" / "ledger.pem"))


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CIVIC_LEDGER_DATABASE_URL": settings.database_url,
           "CIVIC_LEDGER_SIGNING_KEY": str(settings.signing_key)}
    return subprocess.run([sys.executable, "-m", "api.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def auditor_machine(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Only the copied verifier, the public key and the files: no project on the path."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "verifier.py", *args], cwd=tmp, env=env, capture_output=True, text=True,
                          timeout=60, check=False)


def test_an_auditor_verifies_a_checkpoint_and_proof_on_another_machine(settings, tmp_path):
    init = cli(settings, "init")
    assert init.returncode == 0, init.stderr
    assert Path(str(settings.signing_key)).is_file()
    assert cli(settings, "token", "create", "--org", "office", "--person", "审计员", "--role", "auditor").returncode == 0
    first = cli(settings, "checkpoint")
    assert first.returncode == 0, first.stderr
    assert cli(settings, "token", "create", "--org", "office", "--person", "王敏", "--role", "auditor").returncode == 0
    second = cli(settings, "checkpoint")
    assert second.returncode == 0, second.stderr
    first_cp, second_cp = json.loads(first.stdout), json.loads(second.stdout)
    assert second_cp["tree_size"] > first_cp["tree_size"]

    away = tmp_path / "auditor"
    away.mkdir()
    shutil.copy(infrastructure.verifier.__file__, away / "verifier.py")
    (away / "ledger.pub").write_text(cli(settings, "public-key").stdout)
    (away / "checkpoint.json").write_text(json.dumps(first_cp))
    proof = cli(settings, "proof", "2", "--since", str(first_cp["tree_size"]))
    assert proof.returncode == 0, proof.stderr
    (away / "proof.json").write_text(proof.stdout)

    ok = auditor_machine(away, "--public-key", "ledger.pub", "--checkpoint", "checkpoint.json", "--proof", "proof.json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["event"]["position"] == 2
    same = cli(settings, "verify-proof", "--public-key", str(away / "ledger.pub"), "--proof", str(away / "proof.json"))
    assert same.returncode == 0, same.stderr

    forged = json.loads(proof.stdout)
    forged["event"]["originator_version"] += 1
    (away / "forged.json").write_text(json.dumps(forged))
    bad = auditor_machine(away, "--public-key", "ledger.pub", "--checkpoint", "checkpoint.json", "--proof", "forged.json")
    assert bad.returncode == 1 and "FAILED" in bad.stderr


def test_verify_exits_non_zero_and_names_the_position(settings):
    assert cli(settings, "init").returncode == 0
    assert cli(settings, "checkpoint").returncode == 0
    clean = cli(settings, "verify")
    assert clean.returncode == 0, clean.stderr
    assert json.loads(clean.stdout)["ok"] is True and "verify" in clean.stderr  # the progress bar

    from bootstrap import Runtime

    rt = Runtime(settings)
    try:
        col, table = rt.ledger.position_column, rt.ledger.events_table
        with rt.ledger.db.write() as tx:
            tx.execute(f"DELETE FROM {table} WHERE {col} = ?", (1,))
    finally:
        rt.close()
    broken = cli(settings, "verify", "--quiet")
    assert broken.returncode == 1
    assert json.loads(broken.stdout)["first_break"]["kind"] == "missing"
    assert "first break at position 1: missing" in broken.stderr
