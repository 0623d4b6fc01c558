"""共享授权: the grants implementation orders create, their lifecycle and their status on the effective-time axis.

What a grant allows (USE-1) is decided in `domain.grant_status`."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from domain.base import Context, LedgerAggregate, check_calendar
from domain.organizations import Role, is_office, require_office
from domain.rules import InvalidTransition, RuleViolation
from domain.sharing_values import (
    TERMINAL,
    GrantKind,
    GrantSpec,
    GrantStatus,
    PublishedEntry,
    check_shareable,
    status_on,
)
from domain.time_axes import require_backdating_office


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
            g._change(self)

    class SuspendedForCatalog(LedgerAggregate.Event):
        TOPIC = "civic-ledger:Grant.SuspendedForCatalog"
        reason: str

        def apply(self, g: Grant) -> None:
            g._change(self)

    class Resumed(LedgerAggregate.Event):
        TOPIC = "civic-ledger:Grant.Resumed"

        def apply(self, g: Grant) -> None:
            g._change(self)

    class Revoked(LedgerAggregate.Event):
        TOPIC = "civic-ledger:Grant.Revoked"
        reason: str

        def apply(self, g: Grant) -> None:
            g._change(self)

    class Expired(LedgerAggregate.Event):
        TOPIC = "civic-ledger:Grant.Expired"

        def apply(self, g: Grant) -> None:
            g._change(self)

    class Consumed(LedgerAggregate.Event):
        TOPIC = "civic-ledger:Grant.Consumed"
        at: datetime

        def apply(self, g: Grant) -> None:
            g._change(self)

    # -- corrections with an earlier effective time (TIME-1 … TIME-3); each names what it corrects

    class SuspensionBackdated(LedgerAggregate.Event):
        """The grant was suspended with effect from `effective_at`, learned later (a correction)."""

        TOPIC = "civic-ledger:Grant.SuspensionBackdated"
        effective_at: datetime
        reason: str
        corrects: str
        corrects_version: int

        def apply(self, g: Grant) -> None:
            g._change(self)

    class RevocationBackdated(LedgerAggregate.Event):
        """The grant was revoked with effect from `effective_at`, learned later (a correction)."""

        TOPIC = "civic-ledger:Grant.RevocationBackdated"
        effective_at: datetime
        reason: str
        corrects: str
        corrects_version: int

        def apply(self, g: Grant) -> None:
            g._change(self)

    class ValidityCorrected(LedgerAggregate.Event):
        """The grant's validity was recorded too wide: it really ran from `valid_from` to `valid_to`."""

        TOPIC = "civic-ledger:Grant.ValidityCorrected"
        valid_from: datetime
        valid_to: datetime
        reason: str
        corrects: str
        corrects_version: int

        def apply(self, g: Grant) -> None:
            g.spec = msgspec.structs.replace(g.spec, valid_from=self.valid_from, valid_to=self.valid_to)
            g.validity_version = self.originator_version

    def __init__(self, spec: GrantSpec, **_: Any) -> None:
        self.spec = spec
        self.status = GrantStatus.ACTIVE
        self.status_since: datetime = self.created_on  # set by the library from the event's timestamp
        self.consumed_at: datetime | None = None
        self.suspended_by_catalog = False
        self.changes: list[StatusChange] = []
        self.validity_version = 1

    def _change(self, e: LedgerAggregate.Event) -> None:
        """Adds a status change to the grant's effective timeline and takes the status it leads to now."""
        change = status_change(e, self.changes)
        assert change is not None
        self.changes.append(change)
        f = fold(self.created_on, self.changes)
        self.status, self.status_since, self.suspended_by_catalog = f.status, f.since, f.by_catalog
        self.consumed_at = f.consumed_at

    @classmethod
    def create(
        cls, ctx: Context, *, spec: GrantSpec, id: UUID, decided: Collection[GrantSpec] | None = None,  # noqa: A002
    ) -> Grant:
        """Creates a grant as its implementation order decided it; `decided` are the order's new grants."""
        require_office(ctx, "SHR-6", "issues implementation orders and the grants they create")
        if id != spec.grant_id:
            raise InvalidTransition(f"Grant {spec.grant_id} is created under its own id, not {id}.")
        if decided is not None and spec not in decided:
            raise InvalidTransition(f"Order {spec.order_id} did not decide grant {spec.grant_id}.")
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

    def suspend(self, ctx: Context, reason: str, *, effective_at: datetime | None = None) -> None:
        """Suspends now, or with effect from an earlier instant (a back-dated correction, TIME-1 … TIME-3)."""
        self._require_office_or_provider(ctx, "suspended")
        if effective_at is not None and effective_at != ctx.at:
            at = self._check_backdating(ctx, effective_at, GrantStatus.ACTIVE)
            if not reason.strip():
                raise InvalidTransition("A suspension states its reason.")
            self._record(self.SuspensionBackdated, ctx, effective_at=effective_at, reason=reason,
                         corrects="status", corrects_version=at.version)
            return
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

    def revoke(self, ctx: Context, reason: str, *, effective_at: datetime | None = None) -> None:
        """Revokes now, or with effect from an earlier instant (a back-dated correction, TIME-1 … TIME-3)."""
        require_office(ctx, "SHR-6", "revokes grants")
        if effective_at is not None and effective_at != ctx.at:
            at = self._check_backdating(ctx, effective_at, GrantStatus.ACTIVE, GrantStatus.SUSPENDED)
            if not reason.strip():
                raise InvalidTransition("A revocation states its reason.")
            self._record(self.RevocationBackdated, ctx, effective_at=effective_at, reason=reason,
                         corrects="status", corrects_version=at.version)
            return
        self._require_status(ctx, GrantStatus.ACTIVE, GrantStatus.SUSPENDED)
        if not reason.strip():
            raise InvalidTransition("A revocation states its reason.")
        self._record(self.Revoked, ctx, reason=reason)

    def correct_validity(self, ctx: Context, *, valid_from: datetime, valid_to: datetime, reason: str) -> None:
        """Corrects a validity recorded too wide; the corrected period lies within it and its changed ends are past."""
        require_backdating_office(ctx, "corrects a grant's validity")
        if valid_from.tzinfo is None or valid_to.tzinfo is None or valid_to < valid_from:
            raise InvalidTransition("A grant's validity is a timezone-aware period that ends after it starts.")
        check_calendar(valid_from=valid_from, valid_to=valid_to)
        old_from, old_to = self.spec.valid_from, self.spec.valid_to
        changed = [name for name, new, old in (("valid_from", valid_from, old_from), ("valid_to", valid_to, old_to))
                   if new != old]
        if not changed:
            raise InvalidTransition("The corrected validity is the one recorded; there is nothing to correct.")
        if valid_from < old_from or valid_to > old_to:
            raise RuleViolation(
                "TIME-2", f"A correction never widens the validity it corrects ({old_from.isoformat()} to "
                f"{old_to.isoformat()}); a longer period is a new request.", grant_id=str(self.id),
            )
        for name, new in (("valid_from", valid_from), ("valid_to", valid_to)):
            if name in changed and new > ctx.at:
                raise RuleViolation("TIME-3", f"The corrected {name} {new.isoformat()} is in the future; a correction "
                                    "only dates what already happened.", field=name)
        if not reason.strip():
            raise InvalidTransition("A correction states its reason.")
        self._record(self.ValidityCorrected, ctx, valid_from=valid_from, valid_to=valid_to, reason=reason,
                     corrects=",".join(changed), corrects_version=self.validity_version)

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

    def _check_backdating(self, ctx: Context, effective_at: datetime, *allowed: GrantStatus) -> Folded:
        """TIME-1 … TIME-3 for a status correction, then the grant's state at that instant as now known."""
        require_backdating_office(ctx, "back-dates a grant's suspension or revocation")
        if effective_at.tzinfo is None:
            raise InvalidTransition("An effective time carries its offset.")
        check_calendar(effective_at=effective_at)
        if effective_at > ctx.at:
            raise RuleViolation("TIME-3", f"{effective_at.isoformat()} is in the future; a correction only dates "
                                "what already happened.", effective_at=effective_at.isoformat())
        start = max(self.spec.valid_from, self.created_on)
        if effective_at < start:
            raise RuleViolation(
                "TIME-2", f"Grant {self.id} was granted on {self.created_on.isoformat()}, valid from "
                f"{self.spec.valid_from.isoformat()}; a correction takes effect no earlier than {start.isoformat()}.",
                effective_at=effective_at.isoformat(),
            )
        then = fold(self.created_on, self.changes, at=effective_at)
        status = GrantStatus.EXPIRED if then.status not in TERMINAL and effective_at > self.spec.valid_to else then.status
        if status not in allowed:
            raise InvalidTransition(f"At {effective_at.isoformat()} the grant was already {status}.")
        return then

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
        return status_on(self.status, self.spec.valid_to, at)


class StatusChange(msgspec.Struct, frozen=True):
    """One change of a grant's status on the effective-time axis; `seq` is its version (recorded order)."""

    effective: datetime
    seq: int
    status: GrantStatus
    by_catalog: bool = False
    consumed_at: datetime | None = None
    backdated: bool = False


class Folded(msgspec.Struct, frozen=True):
    status: GrantStatus
    since: datetime
    by_catalog: bool
    consumed_at: datetime | None
    version: int


_STATUS_OF: dict[type[Any], GrantStatus] = {
    Grant.Suspended: GrantStatus.SUSPENDED,
    Grant.SuspendedForCatalog: GrantStatus.SUSPENDED,
    Grant.SuspensionBackdated: GrantStatus.SUSPENDED,
    Grant.Resumed: GrantStatus.ACTIVE,
    Grant.Revoked: GrantStatus.REVOKED,
    Grant.RevocationBackdated: GrantStatus.REVOKED,
    Grant.Expired: GrantStatus.EXPIRED,
    Grant.Consumed: GrantStatus.CONSUMED,
}

STATUS_EVENTS = tuple(_STATUS_OF)
BACKDATED = (Grant.SuspensionBackdated, Grant.RevocationBackdated)


def status_change(e: Any, earlier: Iterable[StatusChange]) -> StatusChange | None:
    """The change a status event makes, at its effective instant (None for other events).

    A correction takes effect at its `effective_at`; every other change when it was recorded, kept
    in recorded order (never before an earlier ordinary change, whatever the clocks said).
    """
    status = _STATUS_OF.get(type(e))
    if status is None:
        return None
    backdated = isinstance(e, BACKDATED)
    effective = e.effective_at if backdated else max([e.timestamp, *(c.effective for c in earlier if not c.backdated)])
    return StatusChange(effective=effective, seq=e.originator_version, status=status,
                        by_catalog=isinstance(e, Grant.SuspendedForCatalog),
                        consumed_at=e.at if isinstance(e, Grant.Consumed) else None, backdated=backdated)


def fold(granted_at: datetime, changes: Iterable[StatusChange], at: datetime | None = None) -> Folded:
    """A grant's status at effective instant `at` (None: after every change), from the changes known.

    Changes count in effective order; an ended grant (revoked, expired, consumed) stays ended, so a
    revocation back-dated before a later resumption or use is not undone by it.
    """
    state = Folded(GrantStatus.ACTIVE, granted_at, False, None, 1)
    for c in sorted(changes, key=lambda c: (c.effective, c.seq)):
        if at is not None and c.effective > at:
            break
        if state.status in TERMINAL:
            break
        # "suspended by the catalog" holds only while that suspension lasts (the read model's by_catalog)
        state = Folded(c.status, c.effective, c.by_catalog and c.status == GrantStatus.SUSPENDED,
                       c.consumed_at or state.consumed_at, c.seq)
    return state
