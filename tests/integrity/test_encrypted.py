"""With at-rest encryption (SEC-1) the chain covers the stored, encrypted bytes: verifying needs no cipher key.
The payloads are AES-GCM under the intl profile and SM4-GCM under sm."""

from __future__ import annotations

import dataclasses

from eventsourcing.cryptography import AESCipher

from application.runtime import Runtime
from infrastructure.config import Settings
from infrastructure.transcoding import SM4Cipher
from infrastructure.verifier import verify_bundle
from tests.integrity.conftest import ADMIN, Store, public_key, trusted
from tests.support import register


def test_an_encrypted_ledger_verifies_without_the_cipher_key(settings: Settings, clock, profile: str):
    key = AESCipher.create_key(16)
    secret = dataclasses.replace(settings, cipher_key=key)
    rt = Runtime(secret, clock=clock)
    try:
        rt.init(admin=ADMIN.person)
        register(rt, ADMIN, "div-relief", name="社会救助处")
        rt.integrity.create_checkpoint()
    finally:
        rt.close()

    auditor = Runtime(settings, clock=clock)  # no cipher key
    try:
        store = Store(auditor)
        assert all("社会救助处".encode() not in store.state(p) for p in store.positions())
        # the profile's cipher reads the stored bytes, the other one's refuses them
        mine, other = SM4Cipher({"CIPHER_KEY": key}), AESCipher({"CIPHER_KEY": key})
        if profile == "intl":
            mine, other = other, mine
        last = store.state(store.positions()[-1])
        assert "社会救助处".encode() in mine.decrypt(last)
        try:
            other.decrypt(last)
        except Exception:  # noqa: BLE001 - each cipher raises its own kind of error on a wrong tag
            pass
        else:
            raise AssertionError("the other profile's cipher decrypted the payload")
        assert auditor.integrity.verify().ok
        bundle = auditor.integrity.proof(None, store.positions()[-1])
        assert verify_bundle(bundle, public_key(auditor), trusted(auditor))
        store.flip_byte(store.positions()[-1])
        assert auditor.integrity.verify().first_break.position == store.positions()[-1]
    finally:
        auditor.close()
