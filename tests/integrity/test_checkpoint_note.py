"""Signed checkpoints as C2SP signed notes over HTTP, verified independently of the code that made them.

The Ed25519 note is checked with `cryptography` alone, following c2sp.org/signed-note step by step
(key ID from the key name, 0x0A, 0x01 and the raw key; the signature over the note's text); the SM2
note with the project's verifier and the 0xff type. Both profiles, both stores."""

from __future__ import annotations

import base64
import dataclasses
import hashlib

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key

from bootstrap import Runtime
from infrastructure.config import Settings
from infrastructure.signed_note import SM2_IDENTIFIER, open_note, verifier_key
from infrastructure.verifier import (
    SM2PublicKey,
    VerificationError,
    load_public_key,
    verify_signature,
)
from tests.api.conftest import LiveServer
from tests.integrity.conftest import ADMIN

BASE = "https://ledger.example.org/mz"
ORIGIN = "ledger.example.org/mz"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, public_base_url=BASE)


def split(note: str) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The note's signed text (final newline included) and its (key name, key ID || signature) lines."""
    text, sep, sigs = note.partition("\n\n")
    assert sep and note.endswith("\n")
    lines = []
    for line in sigs.splitlines():
        dash, name, b64 = line.split(" ")
        assert dash == "\u2014"
        lines.append((name, base64.b64decode(b64, validate=True)))
    return (text + "\n").encode(), lines


def test_the_latest_checkpoint_as_a_signed_note_verifies_independently(ledger: Runtime, profile: str):
    office = ledger.issue_token(org="office", person=ADMIN.person, roles=("office_admin",))
    cp = ledger.integrity.checkpoint_of()
    with LiveServer(ledger) as server, server.client(office) as c:
        r = c.get("/ledger/checkpoint")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        by_size = c.get(f"/ledger/checkpoints/{cp.tree_size}", headers={"Accept": "text/plain"})
        assert by_size.headers["content-type"].startswith("text/plain")
        as_json = c.get(f"/ledger/checkpoints/{cp.tree_size}")  # the current format stays the default
        assert as_json.headers["content-type"].startswith("application/json")
        assert as_json.json()["root_hash"] == cp.root_hash
        pem = c.get("/ledger/public-key").text
    text, sigs = split(r.text)
    assert text == f"{ORIGIN}\n{cp.tree_size}\n{base64.b64encode(bytes.fromhex(cp.root_hash)).decode()}\n".encode()
    assert split(by_size.text)[0] == text
    [(name, blob)] = sigs
    assert name == ORIGIN
    key_id, signature = blob[:4], blob[4:]
    if profile == "intl":
        key = load_pem_public_key(pem.encode())
        assert isinstance(key, Ed25519PublicKey)
        raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        assert key_id == hashlib.sha256(ORIGIN.encode() + b"\n" + b"\x01" + raw).digest()[:4]
        key.verify(signature, text)  # raises if it does not verify
        assert r.text == by_size.text  # Ed25519 is deterministic: the same note each time
        with pytest.raises(InvalidSignature):
            key.verify(signature, text.replace(f"\n{cp.tree_size}\n".encode(), f"\n{cp.tree_size + 1}\n".encode()))
        vkey = verifier_key(ORIGIN, key)
        typed = base64.b64encode(bytes([1]) + raw).decode()
        assert vkey == f"{ORIGIN}+{key_id.hex()}+{typed}"
    else:
        key = load_public_key(pem)
        assert isinstance(key, SM2PublicKey)
        assert key_id == hashlib.sha256(ORIGIN.encode() + b"\n" + b"\xff" + SM2_IDENTIFIER + key.raw()).digest()[:4]
        assert verify_signature(key, signature, text)
        assert not verify_signature(key, signature, text.replace(ORIGIN.encode(), b"ledger.example.org/other"))
    opened = open_note(r.text, ORIGIN, load_public_key(pem))
    assert (opened.origin, opened.tree_size, opened.root_hash.hex()) == (ORIGIN, cp.tree_size, cp.root_hash)


def test_a_note_is_refused_when_changed_or_signed_by_another_key(ledger: Runtime, profile: str):
    note = ledger.integrity.checkpoint_note()
    key = load_public_key(ledger.integrity.public_key_pem())
    text, _, sigs = note.partition("\n\n")
    lines = text.split("\n")
    forged = "\n".join([lines[0], str(int(lines[1]) + 1), lines[2]]) + "\n\n" + sigs
    with pytest.raises(VerificationError, match="does not verify"):
        open_note(forged, ORIGIN, key)
    with pytest.raises(VerificationError, match="no signature"):
        open_note(note, "another.example/log", key)  # a key known under another name signed nothing here
    with pytest.raises(VerificationError):
        open_note(text + "\n", ORIGIN, key)


def test_a_tree_head_altered_in_the_store_is_not_signed_again(ledger: Runtime, profile: str):
    cp = ledger.integrity.checkpoint_of()
    with ledger.ledger.db.write() as tx:
        tx.execute("UPDATE ledger_checkpoints SET root_hash = ? WHERE tree_size = ?", ("00" * 32, cp.tree_size))
    office = ledger.issue_token(org="office", person=ADMIN.person, roles=("office_admin",))
    with LiveServer(ledger) as server, server.client(office) as c:
        refused = c.get("/ledger/checkpoint")
        assert refused.status_code == 409, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "does not verify" in refused.json()["detail"]
        assert c.get("/ledger/checkpoints/999", headers={"Accept": "text/plain"}).status_code == 404
