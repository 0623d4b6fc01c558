"""The shapes of what the API answers, as the served OpenAPI document declares them (decision 0016).

A write answers the application's answer Struct of its use case (`EntryAnswer`, `GrantAnswer` …) and
the handlers declare it as their return type; the idempotent replay of a write sends the first answer's
stored bytes, which are that same Struct encoded, so the declaration holds for both. A read of a read
model answers the view's row, declared as an open object (`Row`); a list answers a `Page` of them.
Every refusal is a `Problem` (RFC 9457); `api.openapi.declare_contract` adds the problem responses,
the bearer scheme and the response headers to every operation once, when the app is built.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import msgspec

from application.integrity import Checkpoint
from application.webhooks import Delivery, Subscription

T = TypeVar("T")

Row = dict[str, Any]
"""A read model's row as the view keeps it (its columns differ by view)."""


class Page(msgspec.Struct, Generic[T]):
    """A page of a list. Ask for the next with `cursor=<next_cursor>`; none when this is the last.

    `position` is the ledger position the page stands on (send it back as X-Min-Position to read at least
    that fresh); a list read `at`/`as_known_at` also carries the cut it was read at."""

    items: list[T]
    next_cursor: str | None = None
    position: int | None = None


class CheckpointPage(msgspec.Struct):
    """Signed tree heads, newest first; the next page with `before=<next_before>`."""

    items: list[Checkpoint]
    next_before: int | None = None


class SubscriptionList(msgspec.Struct):
    items: list[Subscription]


class DeliveryPage(msgspec.Struct):
    """Delivery attempts, oldest first; the next page with `after=<next>`."""

    items: list[Delivery]
    next: int


class FieldError(msgspec.Struct):
    """One offending field of a request: its name as sent (`path`, `body`, a dotted body path …) and why."""

    field: str
    message: str


class Problem(msgspec.Struct):
    """An error answer (application/problem+json, RFC 9457). A rule's refusal names the rule and its article
    (`type` is then `urn:civic-ledger:rule:<rule>`); a malformed request lists its `errors`."""

    type: str
    title: str
    status: int
    detail: str
    rule: str | None = None
    article: str | None = None
    errors: list[FieldError] | None = None
    context: dict[str, Any] | None = None
