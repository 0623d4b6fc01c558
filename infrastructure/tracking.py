"""A read model's position, recorded in the transaction of the rows it covers.

Exactly-once rests on one thing: a page's rows and the view's tracking record commit together or not at
all. The library records tracking in a caller's transaction only through a private method of its
tracking recorders (`_insert_tracking(cursor, tracking)`), so this module is the one place that calls it,
and `LIBRARY_VERSION` names the release it was read against; a test fails when the installed library is
another one, so that an upgrade re-reads the method before trusting it.

What the method does in that release (single-row tracking, the default on both stores): it upserts the
view's row and refuses to move it backwards or to the same position, raising `IntegrityError`; the
caller's transaction then rolls back with the page's rows.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import Tracking

from infrastructure.sql import Tx

#: The eventsourcing release whose private `_insert_tracking` `record_position` relies on.
LIBRARY_VERSION = "9.5.6"


def record_position(recorder: Any, tx: Tx, name: str, position: int) -> None:
    """Records that the tracked view `name` has applied every event up to `position`, in `tx`.

    Raises the library's `IntegrityError` when the recorded position is already `position` or beyond
    (another process applied the page first)."""
    recorder._insert_tracking(tx.raw, Tracking(name, position))
