"""共享授权: the grants implementation orders create, their lifecycle, and their states from history (USE-1)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import msgspec

from domain.base import Context, LedgerAggregate
from domain.organizations import Role
from domain.rules import InvalidTransition, RuleViolation
from domain.sharing_values import (
    TERMINAL,
    GrantKind,
    GrantSpec,
    GrantState,
    GrantStatus,
    PublishedEntry,
    check_shareable,
    is_office,
    require_office,
)

if TYPE_CHECKING:
    from domain.sharing import ImplementationOrder


class Grant(LedgerAggregate):
    """共享授权: the right an implementation order gives a holder to receive fields of one entry."""

    TOPIC = "civic-ledger:Grant"

    class Created(LedgerAggregate.Created):
        TOPIC = "civic-ledger:Grant.Created"
    KIND = "grant"

    class Granted(Created):
        TOPIC = "civic-ledger:Grant.Granted"
        spec: GrantSpec

    class Suspended(LedgerAggregate.Event):
        TOPIC = "civic-ledger:Grant.Suspended"
        reason: str

        def apply(self, g: Grant) -> None:
            g._set(GrantStatus.SUSPENDED, self.timestamp)
            g.suspended_by_catalog = False

    class SuspendedForCatalog(LedgerAggregate.Event):
        TOPIC = "civic-ledger:Grant.SuspendedForCatalog"
        reason: str

        def apply(self, g: Grant) -> None:
            g._set(GrantStatus.SUSPENDED, self.timestamp)
            g.suspended_by_catalog = True

    class Resumed(LedgerAggregate.Event):
        TOPIC = "civic-ledger:Grant.Resumed"

        def apply(self, g: Grant) -> None:
            g._set(GrantStatus.ACTIVE, self.timestamp)
            g.suspended_by_catalog = False

    class Revoked(LedgerAggregate.Event):
        TOPIC = "civic-ledger:Grant.Revoked"
        reason: str

        def apply(self, g: Grant) -> None:
            g._set(GrantStatus.REVOKED, self.timestamp)

    class Expired(LedgerAggregate.Event):
        TOPIC = "civic-ledger:Grant.Expired"

        def apply(self, g: Grant) -> None:
            g._set(GrantStatus.EXPIRED, self.timestamp)

    class Consumed(LedgerAggregate.Event):
        TOPIC = "civic-ledger:Grant.Consumed"
        at: datetime

        def apply(self, g: Grant) -> None:
            g._set(GrantStatus.CONSUMED, self.timestamp)
            g.consumed_at = self.at

    def __init__(self, spec: GrantSpec, **_: Any) -> None:
        self.spec = spec
        self.status = GrantStatus.ACTIVE
        self.status_since: datetime = self.created_on  # set by the library from the event's timestamp
        self.consumed_at: datetime | None = None
        self.suspended_by_catalog = False

    def _set(self, status: GrantStatus, at: datetime) -> None:
        self.status = status
        self.status_since = at

    @classmethod
    def create(
        cls, ctx: Context, *, spec: GrantSpec, id: UUID, order: ImplementationOrder | None = None,  # noqa: A002
    ) -> Grant:
        require_office(ctx, "issues implementation orders and the grants they create")
        if id != spec.grant_id:
            raise InvalidTransition(f"Grant {spec.grant_id} is created under its own id, not {id}.")
        if order is not None and spec not in order.new_grants:
            raise InvalidTransition(f"Order {order.id} did not decide grant {spec.grant_id}.")
        wider = tuple(f for f in spec.fields if f not in spec.approved_fields)
        if wider:
            raise RuleViolation("SHR-5", f"A grant holds no field beyond those approved: {', '.join(wider)}.",
                                fields=list(wider))
        if not spec.fields:
            raise InvalidTransition("A grant covers at least one field.")
        if spec.valid_from.tzinfo is None or spec.valid_to.tzinfo is None or spec.valid_to < spec.valid_from:
            raise InvalidTransition("A grant's validity is a timezone-aware period that ends after it starts.")
        return cls._start(cls.Granted, ctx, id=id, spec=spec)

    # -- lifecycle -------------------------------------------------------------------------

    def suspend(self, ctx: Context, reason: str) -> None:
        self._require_office_or_provider(ctx, "suspended")
        self._require_status(ctx, GrantStatus.ACTIVE)
        if not reason.strip():
            raise InvalidTransition("A suspension states its reason.")
        self._record(self.Suspended, ctx, reason=reason)

    def resume(self, ctx: Context, *, entry: PublishedEntry | None = None) -> None:
        """Lifts a suspension; one caused by the catalog needs the entry shareable again (SHR-4)."""
        self._require_office_or_provider(ctx, "resumed")
        self._require_status(ctx, GrantStatus.SUSPENDED)
        if self.suspended_by_catalog:
            check_shareable(self.spec.entry_id, self.spec.fields, entry)
        self._record(self.Resumed, ctx)

    def revoke(self, ctx: Context, reason: str) -> None:
        require_office(ctx, "revokes grants")
        self._require_status(ctx, GrantStatus.ACTIVE, GrantStatus.SUSPENDED)
        if not reason.strip():
            raise InvalidTransition("A revocation states its reason.")
        self._record(self.Revoked, ctx, reason=reason)

    def expire(self, ctx: Context) -> None:
        """Recorded by the sweep once valid_to has passed; the status query never waits for it."""
        if self.status in TERMINAL:
            raise InvalidTransition(f"The grant is already {self.status}.")
        if ctx.at <= self.spec.valid_to:
            raise InvalidTransition(f"The grant is valid until {self.spec.valid_to.isoformat()}.")
        self._record(self.Expired, ctx)

    def consume(self, ctx: Context, at: datetime) -> None:
        """The first allowed access at `at` uses up a single-use grant (按次单独实施)."""
        if not (is_office(ctx) or ctx.actor.role == Role.PLATFORM):
            raise RuleViolation("USE-1", "The use of a grant is recorded by the exchange platform.")
        if self.spec.kind != GrantKind.SINGLE_USE:
            raise InvalidTransition("Only a single-use grant is consumed.")
        self._require_status(ctx, GrantStatus.ACTIVE)
        if not (self.spec.valid_from <= at <= self.spec.valid_to) or at > ctx.at:
            raise InvalidTransition(f"The access at {at.isoformat()} is outside the grant's validity or in the future.")
        self._record(self.Consumed, ctx, at=at)

    def suspend_for_catalog(self, ctx: Context, reason: str) -> None:
        """Suspends the grant because its entry was retired or became not shareable; a no-op when ended."""
        self._require_office_or_provider(ctx, "suspended")
        if self.status_at(ctx.at) in TERMINAL or self.suspended_by_catalog:
            return
        self._record(self.SuspendedForCatalog, ctx, reason=reason)

    # -- helpers ---------------------------------------------------------------------------

    def _require_office_or_provider(self, ctx: Context, what: str) -> None:
        provider = ctx.actor.acting_for == self.spec.provider and ctx.actor.role == Role.CATALOG_REVIEWER
        if not (is_office(ctx) or provider):
            raise RuleViolation(
                "SHR-6", f"Grants are {what} by the Office or by the provider's catalog reviewer.",
                provider=self.spec.provider,
            )

    def _require_status(self, ctx: Context, *allowed: GrantStatus) -> None:
        now = self.status_at(ctx.at)
        if now not in allowed:
            raise InvalidTransition(f"This needs a grant that is {' or '.join(allowed)}; it is {now}.")

    def status_at(self, at: datetime) -> GrantStatus:
        return self.state.status_at(at)

    @property
    def state(self) -> GrantState:
        """This grant as the status query sees it (USE-1)."""
        return GrantState.from_grant(self)


def _granted(e: Grant.Granted) -> GrantState:
    s = e.spec
    return GrantState(
        grant_id=e.originator_id, holder=s.holder, entry_id=s.entry_id, fields=frozenset(s.fields), purpose=s.purpose,
        method=s.method, valid_from=s.valid_from, valid_to=s.valid_to, kind=s.kind, status=GrantStatus.ACTIVE,
        status_since=e.timestamp, provider=s.provider, resource_code=s.resource_code,
    )


_STATUS_OF: dict[type[Any], GrantStatus] = {
    Grant.Suspended: GrantStatus.SUSPENDED,
    Grant.SuspendedForCatalog: GrantStatus.SUSPENDED,
    Grant.Resumed: GrantStatus.ACTIVE,
    Grant.Revoked: GrantStatus.REVOKED,
    Grant.Expired: GrantStatus.EXPIRED,
    Grant.Consumed: GrantStatus.CONSUMED,
}


def grant_states_from_events(events: Iterable[Any], until: datetime) -> dict[UUID, GrantState]:
    """The grants as they stood at instant `until`, folded from their events in recorded order.

    A status change counts from its event's timestamp; events of other aggregates are skipped.
    Expiry by date needs no event: the status query compares valid_to with its instant.
    """
    states: dict[UUID, GrantState] = {}
    for e in events:
        if not isinstance(e, LedgerAggregate.Event) or e.timestamp > until:
            continue
        if isinstance(e, Grant.Granted):
            states[e.originator_id] = _granted(e)
            continue
        status = _STATUS_OF.get(type(e))
        before = states.get(e.originator_id)
        if status is None or before is None:
            continue
        consumed_at = e.at if isinstance(e, Grant.Consumed) else before.consumed_at
        states[e.originator_id] = msgspec.structs.replace(
            before, status=status, status_since=e.timestamp, consumed_at=consumed_at,
        )
    return states
