"""The one call of the library's private `_insert_tracking`, pinned to the release it was read against."""

from __future__ import annotations

import importlib.metadata
import inspect

import pytest
from eventsourcing.persistence import IntegrityError

from infrastructure.tracking import LIBRARY_VERSION, record_position


def test_the_installed_library_is_the_release_the_wrapper_was_read_against():
    installed = importlib.metadata.version("eventsourcing")
    assert installed == LIBRARY_VERSION, (
        f"eventsourcing {installed} is installed, infrastructure/tracking.py was written against "
        f"{LIBRARY_VERSION}: re-read the tracking recorders' _insert_tracking, then update LIBRARY_VERSION")


def test_the_private_method_still_takes_a_cursor_and_a_tracking(runtime):
    method = runtime.projector.tracking._insert_tracking
    assert list(inspect.signature(method).parameters)[1:] == ["tracking"]


def test_a_position_commits_with_its_transaction_refuses_to_go_back_and_rolls_back_with_it(runtime):
    recorder = runtime.projector.tracking
    with runtime.ledger.db.write() as tx:
        record_position(recorder, tx, "probe", 5)
    assert recorder.max_tracking_id("probe") == 5

    class Abandoned(Exception):
        pass

    with pytest.raises(Abandoned), runtime.ledger.db.write() as tx:
        record_position(recorder, tx, "probe", 9)
        raise Abandoned
    assert recorder.max_tracking_id("probe") == 5, "the position rolled back with its transaction"

    for behind in (5, 3):  # the same position, or an earlier one: another process was first
        with pytest.raises(IntegrityError), runtime.ledger.db.write() as tx:
            record_position(recorder, tx, "probe", behind)
        assert recorder.max_tracking_id("probe") == 5

    with runtime.ledger.db.write() as tx:
        record_position(recorder, tx, "probe", 6)
    assert recorder.max_tracking_id("probe") == 6
