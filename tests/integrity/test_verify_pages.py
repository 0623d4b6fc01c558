"""The walk judges a page whole when its store and chain agree, and event by event when they do not: the
report must not depend on where the pages fall. Each tamper is walked in pages of two positions (whole
pages before the break, the break's page, pages after it) and in one page, on both stores and profiles."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from application.ledger_verify import walk
from bootstrap import Runtime
from tests.integrity.conftest import Store


def report_in_pages(rt: Runtime, page: int) -> dict[str, Any]:
    checkpoints = [msgspec.to_builtins(c) for c in reversed(rt.integrity.checkpoints(limit=1000))]
    report = msgspec.to_builtins(walk(rt.ledger, checkpoints, rt.integrity.public_key(), page=page))
    return {k: v for k, v in report.items() if k not in ("seconds", "events_per_second")}


TAMPERS: dict[str, Callable[[Store, list[int]], None]] = {
    "untouched": lambda store, ps: None,
    "altered": lambda store, ps: store.flip_byte(ps[5]),
    "missing": lambda store, ps: store.delete(ps[4]),
    "reordered": lambda store, ps: store.swap(ps[3], ps[6]),
    "inserted": lambda store, ps: store.insert(0),
    "unchained": lambda store, ps: store.insert(None),
}


@pytest.mark.parametrize("tamper", sorted(TAMPERS))
def test_the_report_is_the_same_whatever_the_pages(ledger: Runtime, store: Store, tamper: str):
    TAMPERS[tamper](store, store.positions())
    whole = report_in_pages(ledger, 5000)
    assert whole["ok"] == (tamper in ("untouched", "unchained"))
    assert whole["unchained"] == (tamper == "unchained")
    if not whole["ok"]:
        assert whole["first_break"]["kind"] == tamper
    for page in (1, 2, 3):
        assert report_in_pages(ledger, page) == whole, page
