"""The projector's own read of the log returns what the library's read returns, and reading ahead hands over
only the page asked for."""

from __future__ import annotations

import dataclasses
import threading
from uuid import uuid4

import pytest
from eventsourcing.persistence import Notification

from infrastructure.log_pages import _notification, read_page
from projections.build import ReadAhead
from tests.projections.test_catalog_projection import random_history


def test_read_page_is_the_library_read_of_the_same_range(runtime, admin):
    random_history(runtime, admin, seed=5, n=12)
    ledger, recorder = runtime.ledger, runtime.ledger.recorder
    head = ledger.max_position()
    catalog = runtime.projector.views["catalog"].topic_names
    cases = [(0, 10_000, None, ()), (0, 7, None, ()), (3, 5, head - 4, ()), (head - 2, 50, None, ()),
             (head, 10, None, ()), (0, 9, head, catalog), (5, 1000, head - 1, catalog), (0, 3, 2, catalog[:1])]
    for start, limit, stop, topics in cases:
        library = recorder.select_notifications(start=start, limit=limit, stop=stop, topics=topics,
                                                inclusive_of_start=False)
        assert read_page(ledger, start, limit, stop, topics) == library, (start, limit, stop, topics)
        text = read_page(ledger, start, limit, stop, topics, text_ids=True)
        assert [(n.id, n.originator_id, n.originator_version, n.topic, n.state) for n in text] == [
            (n.id, str(n.originator_id), n.originator_version, n.topic, n.state) for n in library]
        assert all(type(n.state) is bytes and type(n.originator_id) is str for n in text)
    assert len(read_page(ledger, 0, 10_000)) == head


def test_a_notification_made_directly_is_the_librarys_own():
    oid = uuid4()
    made, library = _notification(7, oid, 2, "t", b"{}"), Notification(id=7, originator_id=oid, originator_version=2,
                                                                       topic="t", state=b"{}")
    assert type(made) is Notification and made == library and hash(made) == hash(library)
    assert dataclasses.astuple(made) == dataclasses.astuple(library) and repr(made) == repr(library)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.id = 8  # type: ignore[misc]


def test_read_ahead_hands_over_only_the_page_asked_for():
    started, release = threading.Event(), threading.Event()

    def read(start: int, size: int) -> list[int]:
        started.set()
        release.wait(5)
        if start < 0:
            raise ValueError("no such page")
        return list(range(start + 1, start + 1 + size))

    with ReadAhead(read) as ahead:
        assert ahead.take(0) is None  # nothing asked for
        ahead.ask(10, 3)
        assert started.wait(5)
        release.set()
        assert ahead.take(10) == [11, 12, 13]
        assert ahead.take(10) is None  # taken once
        ahead.ask(20, 2)
        assert ahead.take(21) is None  # asked from elsewhere: the caller reads the page itself
        ahead.ask(-1, 2)
        assert ahead.take(-1) is None  # a failed read is left to the caller's own read
        ahead.ask(30, 1)  # left pending: the block's end waits for it
