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


def test_two_signers_in_one_due_period_sign_once(ledger, settings, clock):
    """Two processes' sweeps overlap at a hand-over of the background worker: one checkpoint per period."""
    other = Runtime(settings, clock=clock)
    try:
        register(ledger, ADMIN, "div-early", name="早到处")
        clock.advance(seconds=3601)
        before = len(ledger.integrity.checkpoints())
        # The other process found the period due before this one signed and new events came ...
        assert other.integrity.sign_if_due() is not None
        register(ledger, ADMIN, "div-late", name="迟到处")
        # ... so its check-then-sign races; the check inside the signing transaction refuses the second.
        cp, created = ledger.integrity.create_checkpoint(unless_signed_within=settings.sign_checkpoint_seconds)
        assert not created and cp.tree_size == other.integrity.checkpoint_of().tree_size
        assert len(ledger.integrity.checkpoints()) == before + 1
        # On demand (the Office's POST, the CLI) a newer head is still signed at once.
        assert ledger.integrity.create_checkpoint()[1]
    finally:
        other.close()
