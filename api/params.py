"""Types the API accepts at its edge: date-times always carry their offset (ISO 8601 / RFC 3339).

A date-time without an offset names no instant (the server's local time is nobody's answer), so
every one the API reads, in a query parameter or a body, is refused with 400 naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

import msgspec
from litestar.params import QueryParameter

_OFFSET = "An ISO 8601 date-time with its offset, e.g. 2026-03-31T24:00:00+08:00 or 2026-03-31T16:00:00Z."

Instant = Annotated[datetime, msgspec.Meta(tz=True, description=_OFFSET)]
"""A date-time field of a body; msgspec refuses one without an offset."""


@dataclass(frozen=True)
class _WithOffset(QueryParameter):
    """A query parameter that is a date-time with an offset.

    Litestar builds the msgspec constraints of a query parameter from its parameter definition's
    fields that msgspec.Meta also has (a Meta inside the type is dropped there), so this one
    extra field gives the parameter msgspec's own offset check.
    """

    tz: bool | None = True


def instant_query(name: str | None = None) -> _WithOffset:
    """The definition of a date-time query parameter; `name` when it differs from the argument's."""
    return _WithOffset(name=name, description=_OFFSET)


AtQuery = Annotated[datetime | None, instant_query()]
"""`at=`: an instant of effective time — what was in force then (state at a date, grant status at an instant)."""

AsKnownAtQuery = Annotated[datetime | None, instant_query()]
"""`as_known_at=`: an instant of recorded time — what the ledger knew then (now when left out)."""

RecordedAtQuery = Annotated[datetime | None, instant_query()]
"""`at=` on an object's timeline: an instant of recorded time — the object as its events stood then."""


MAX_INT64 = 2**63 - 1

Position = Annotated[int, QueryParameter(ge=0, le=MAX_INT64, description="A ledger position, size or version (0 … 2^63-1)")]
"""A whole-number query parameter the stores compare with their 64-bit integers."""

OptionalPosition = Annotated[int | None, QueryParameter(ge=0, le=MAX_INT64,
                                                        description="A ledger position, size or version (0 … 2^63-1)")]
