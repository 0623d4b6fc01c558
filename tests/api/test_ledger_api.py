"""Integrity over HTTP: the Office signs checkpoints, auditors fetch proofs and verify, others are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from infrastructure.config import Settings
from infrastructure.verifier import load_public_key, verify_bundle
from tests.api.test_catalog_api import org, token
from tests.conftest import database_url


@pytest.fixture
def settings(backend: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url(backend, tmp_path), signing_key=str(tmp_path / "signing-key.pem"))


def test_checkpoints_proofs_and_verify_over_http(server, runtime, admin_token):
    office = server.client(admin_token)
    for code in ("div-relief", "div-elder", "div-child"):
        org(office, code)
    first = office.post("/ledger/checkpoints")
    assert first.status_code == 201, first.text
    again = office.post("/ledger/checkpoints")
    assert again.status_code == 200 and again.json() == first.json()
    org(office, "div-welfare")
    second = office.post("/ledger/checkpoints").json()
    assert second["tree_size"] > first.json()["tree_size"]

    auditor = server.client(token(runtime, "office", "审计员", "auditor"))
    listed = auditor.get("/ledger/checkpoints", params={"limit": 1})
    assert listed.status_code == 200
    assert [c["tree_size"] for c in listed.json()["items"]] == [second["tree_size"]]
    assert listed.json()["next_before"] == second["tree_size"]
    older = auditor.get("/ledger/checkpoints", params={"before": second["tree_size"]}).json()["items"]
    assert older == [first.json()]

    pem = server.client().get("/ledger/public-key")
    assert pem.status_code == 200 and pem.text.startswith("-----BEGIN PUBLIC KEY-----")
    proof = auditor.get("/ledger/proofs/2", params={"since": first.json()["tree_size"]})
    assert proof.status_code == 200, proof.text
    summary = verify_bundle(proof.json(), load_public_key(pem.text), first.json())
    assert summary["event"]["position"] == 2 and summary["consistent_with"] == first.json()["tree_size"]

    report = auditor.get("/ledger/verify")
    assert report.status_code == 200 and report.json()["ok"] is True
    assert report.json()["checkpoints"] == 2

    assert auditor.get("/ledger/proofs/999999").status_code == 404
    assert auditor.post("/ledger/checkpoints").status_code == 403
    compiler = server.client(token(runtime, "div-relief", "编目员", "catalog_compiler"))
    assert compiler.get("/ledger/verify").status_code == 403
    assert compiler.get("/ledger/proofs/2").status_code == 403
    assert compiler.get("/ledger/checkpoints").status_code == 200
    assert server.client().get("/ledger/checkpoints").status_code == 401


def test_verify_over_http_names_a_tampered_event(server, runtime, admin_token):
    office = server.client(admin_token)
    org(office, "div-relief")
    assert office.post("/ledger/checkpoints").status_code == 201
    col, table = runtime.ledger.position_column, runtime.ledger.events_table
    with runtime.ledger.db.write() as tx:
        tx.execute(f"UPDATE {table} SET state = ? WHERE {col} = ?", (b"{}", 2))
    body = office.get("/ledger/verify").json()
    assert body["ok"] is False
    assert body["first_break"]["kind"] == "altered" and body["first_break"]["position"] == 2
