"""The background sweep signs a checkpoint when events came and the latest one is old enough."""

from __future__ import annotations

from pathlib import Path

import msgspec

from bootstrap import Runtime
from infrastructure.config import Settings
from infrastructure.verifier import verify_checkpoint
from tests.conftest import database_url
from tests.integrity.conftest import ADMIN
from tests.support import register


def test_a_checkpoint_is_signed_once_an_hour_while_events_come(ledger, clock):
    first = ledger.integrity.checkpoint_of()                # the fixture's, covering its eight events
    assert ledger.integrity.sign_if_due() is None           # not an hour old yet
    register(ledger, ADMIN, "div-new", name="新设处")
    assert ledger.integrity.sign_if_due() is None
    clock.advance(seconds=3601)
    due = ledger.integrity.sign_if_due()
    assert due is not None and due.tree_size == first.tree_size + 1
    verify_checkpoint(msgspec.to_builtins(due), ledger.integrity.public_key())   # raises if it does not verify
    clock.advance(seconds=7200)
    assert ledger.integrity.sign_if_due() is None           # nothing new to sign


def test_without_a_signing_key_or_with_signing_off_nothing_is_signed(backend, tmp_path: Path, clock):
    for settings in (Settings(database_url=database_url(backend, tmp_path), signing_key=str(tmp_path / "none.pem")),
                     Settings(database_url=database_url(backend, tmp_path / "off"),
                              signing_key=str(tmp_path / "key.pem"), sign_checkpoint_seconds=0)):
        rt = Runtime(settings, clock=clock)
        try:
            if not settings.sign_checkpoint_seconds:
                rt.init(admin=ADMIN.person)  # a key exists, but signing is off (without init: no key at all)
            clock.advance(seconds=7200)
            assert rt.integrity.sign_if_due() is None
            assert rt.integrity.checkpoints() == []
        finally:
            rt.close()
