"""Types the API accepts at its edge: date-times always carry their offset (ISO 8601 / RFC 3339).

A date-time without an offset names no instant (the server's local time is nobody's answer), so
every one the API reads, in a query parameter or a body, is refused with 400 naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, get_args

import msgspec
from litestar.params import Parameter, PathParameter, QueryParameter

from application.common import ApplicationError
from domain import limits
from domain.limits import Text

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


MAX_INT64 = limits.MAX_INT64

Position = Annotated[int, QueryParameter(ge=0, le=MAX_INT64, description="A ledger position, size or version (0 … 2^63-1)")]
"""A whole-number query parameter the stores compare with their 64-bit integers."""

PositionPath = Annotated[int, PathParameter(ge=0, le=MAX_INT64, description="A ledger position or size (0 … 2^63-1)")]

OptionalPosition = Annotated[int | None, QueryParameter(ge=0, le=MAX_INT64,
                                                        description="A ledger position, size or version (0 … 2^63-1)")]


# -- the edge contract for query and path parameters -------------------------------------------
# Litestar takes a parameter's constraints from its definition, not from a Meta inside the type,
# so `constrained` copies the Meta of one of the shared aliases (domain.limits) into it: the
# declaration stays the one the bodies and the domain use.


def _meta_of(alias: Any) -> msgspec.Meta:
    return next(m for m in get_args(alias)[1:] if isinstance(m, msgspec.Meta))


def constrained(alias: Any, kind: type[QueryParameter] | type[PathParameter] = QueryParameter,
                *, name: str | None = None, description: str | None = None) -> Any:
    meta = _meta_of(alias)
    bounds = {k: getattr(meta, k) for k in ("pattern", "max_length", "min_length", "ge", "le")
              if getattr(meta, k) is not None}
    return kind(name=name, description=description or meta.description, **bounds)


OrgQuery = Annotated[str | None, constrained(limits.OrgCode)]
"""An organization code in a query (`provider=`, `holder=`, `owner=`, `org=` …)."""
CodeQuery = Annotated[str | None, constrained(limits.Code)]
TextQuery = Annotated[str | None, constrained(limits.ShortText)]
"""Free text (`q=`) and other short strings in a query."""
CursorQuery = Annotated[str | None, QueryParameter(max_length=1_000, description="An opaque cursor from next_cursor")]
OrgPath = Annotated[str, constrained(limits.OrgCode, PathParameter)]
PersonPath = Annotated[str, constrained(limits.PersonName, PathParameter)]
TokenPath = Annotated[str, constrained(limits.Token, PathParameter)]


def position_of(raw: str | None, name: str) -> int | None:
    """The one parser of a ledger position sent as text (headers and the like): 0 … 2^63-1, else 400."""
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 19 or int(text) > MAX_INT64:
        raise ApplicationError(f"{name} is a ledger position: a whole number from 0 to {MAX_INT64}.")
    return int(text)


def plain(value: Any) -> str | None:
    """An enum filter as the plain string the queries compare (None stays None)."""
    return None if value is None else str(value)


# -- types more than one controller shares ---------------------------------------------------------------

Limit = Annotated[int, Parameter(ge=1, le=500, description="Page size")]
"""`limit=` of a listing (the access log's own lists take up to 1,000)."""


class ReasonBody(msgspec.Struct, forbid_unknown_fields=True):
    """A decision that must say why (a refusal, a retirement, a suspension …)."""

    reason: Text


class CommentBody(msgspec.Struct, forbid_unknown_fields=True):
    """A decision that may carry a comment."""

    comment: Text = ""


class EmptyBody(msgspec.Struct, forbid_unknown_fields=True):
    """A command that takes no fields (an empty object, or no body)."""
