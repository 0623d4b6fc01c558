"""USE-1, the grant-status decision: may this holder receive these fields of this entry, for this
purpose and by this method, at this instant?

A grant as the decision needs it (`GrantState`) comes from a live aggregate, a read model row or the
events of history (`grant_states_from_events`); `evaluate` decides over such states and every
refusal lists its `Reason`s with the rule and article.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from domain.base import LedgerAggregate
from domain.catalog_values import DeliveryMethod
from domain.grants import Grant, StatusChange, fold, status_change
from domain.rules import RULES
from domain.sharing_values import GrantKind, GrantStatus, status_on


class Reason(msgspec.Struct, frozen=True):
    """One reason a grant-status query was refused, with its rule and article."""

    rule: str
    article: str
    code: str
    detail: str
    fields: tuple[str, ...] = ()
    grant_id: UUID | None = None


class GrantState(msgspec.Struct, frozen=True):
    """A grant as the status query needs it: the same shape from the aggregate, a read model or history."""

    grant_id: UUID
    holder: str
    entry_id: UUID
    fields: frozenset[str]
    purpose: str
    method: DeliveryMethod
    valid_from: datetime
    valid_to: datetime
    kind: GrantKind
    status: GrantStatus
    status_since: datetime
    consumed_at: datetime | None = None
    provider: str = ""
    resource_code: str = ""

    @classmethod
    def from_grant(cls, grant: Grant) -> GrantState:
        """The state of a live grant aggregate."""
        s = grant.spec
        return cls(
            grant_id=grant.id, holder=s.holder, entry_id=s.entry_id, fields=frozenset(s.fields), purpose=s.purpose,
            method=s.method, valid_from=s.valid_from, valid_to=s.valid_to, kind=s.kind, status=grant.status,
            status_since=grant.status_since, consumed_at=grant.consumed_at, provider=s.provider,
            resource_code=s.resource_code,
        )

    def status_at(self, at: datetime) -> GrantStatus:
        """The recorded status, or `expired` once valid_to has passed though no sweep recorded it yet."""
        return status_on(self.status, self.valid_to, at)


class Decision(msgspec.Struct, frozen=True):
    """The answer of the grant-status query: allowed or not, by which grant, and every reason if not."""

    allowed: bool
    grant_id: UUID | None = None
    kind: GrantKind | None = None
    reasons: tuple[Reason, ...] = ()


def _reason(code: str, detail: str, *, fields: tuple[str, ...] = (), grant: UUID | None = None) -> Reason:
    rule = RULES["USE-1"]
    return Reason(rule=rule.id, article=rule.article, code=code, detail=detail, fields=fields, grant_id=grant)


def refusals(
    g: GrantState, *, fields: tuple[str, ...], purpose: str, method: DeliveryMethod, at: datetime
) -> tuple[Reason, ...]:
    """Every reason this one grant does not allow the access at `at` (empty when it does)."""
    gid, out = g.grant_id, []
    if at < g.valid_from:
        out.append(_reason("not_yet_valid", f"Grant {gid} is valid from {g.valid_from.isoformat()}.", grant=gid))
    if g.status == GrantStatus.EXPIRED or at > g.valid_to:
        out.append(_reason("expired", f"Grant {gid} was valid until {g.valid_to.isoformat()}.", grant=gid))
    if g.status == GrantStatus.SUSPENDED:
        out.append(_reason("suspended", f"Grant {gid} is suspended since {g.status_since.isoformat()}.", grant=gid))
    if g.status == GrantStatus.REVOKED:
        out.append(_reason("revoked", f"Grant {gid} was revoked on {g.status_since.isoformat()}.", grant=gid))
    if g.status == GrantStatus.CONSUMED:
        when = (g.consumed_at or g.status_since).isoformat()
        out.append(_reason("consumed", f"Single-use grant {gid} was used at {when}.", grant=gid))
    missing = tuple(f for f in fields if f not in g.fields)
    if missing:
        out.append(_reason("field_not_granted", f"Grant {gid} does not cover {', '.join(missing)}.",
                           fields=missing, grant=gid))
    if purpose != g.purpose:
        out.append(_reason("other_purpose", f"Grant {gid} is for the purpose {g.purpose!r}, not {purpose!r}.", grant=gid))
    if method != g.method:
        out.append(_reason("other_method", f"Grant {gid} is delivered by {g.method}, not {method}.", grant=gid))
    return tuple(out)


def evaluate(
    grants: Iterable[GrantState], *, holder: str, entry_id: UUID, fields: Iterable[str], purpose: str,
    method: DeliveryMethod | str, at: datetime,
) -> Decision:
    """USE-1 at instant `at`: allowed when one grant of the holder for the entry covers everything asked.

    The statuses are taken as given (compute them as of `at` for a past instant); validity is
    checked exactly against `at`. A refusal lists the reasons of every grant of the holder for
    the entry, so the caller sees all that would have to change.
    """
    return Evaluator(grants, holder=holder, entry_id=entry_id, purpose=purpose, method=method, at=at).decide(fields)


class Evaluator:
    """`evaluate` with everything but the fields settled once: the grants of the holder for the entry in
    order, and those that are valid at `at`, active and for this purpose and method, best first.

    Deciding many accesses of one holder, entry, purpose and method against the same grants at instants
    that compare alike with every validity bound (the access-log batch) asks `decide` once per access.
    """

    __slots__ = ("at", "candidates", "entry_id", "holder", "how", "purpose", "usable", "_allowed")

    def __init__(self, grants: Iterable[GrantState], *, holder: str, entry_id: UUID, purpose: str,
                 method: DeliveryMethod | str, at: datetime) -> None:
        self.holder, self.entry_id, self.purpose, self.at = holder, entry_id, purpose, at
        self.candidates = sorted(
            (g for g in grants if g.holder == holder and g.entry_id == entry_id),
            key=lambda g: (g.valid_from, g.grant_id),  # UUIDs order as their text does
        )
        try:
            self.how: DeliveryMethod | str = DeliveryMethod(method)
        except ValueError:
            self.how = method  # an unknown method matches no grant
        # A reusable grant is preferred so a single-use one is not spent needlessly.
        self.usable = sorted((g for g in self.candidates
                              if _allows(g, fields=(), purpose=purpose, method=self.how, at=at)),  # type: ignore[arg-type]
                             key=lambda g: (g.kind != GrantKind.REUSABLE, g.valid_to, g.grant_id))
        self._allowed: dict[UUID, Decision] = {}

    def decide(self, fields: Iterable[str]) -> Decision:
        wanted = tuple(dict.fromkeys(fields))
        if not self.candidates:
            return Decision(allowed=False, reasons=(_reason(
                "no_grant", f"{self.holder} holds no grant for entry {self.entry_id}.", fields=wanted,
            ),))
        for g in self.usable:
            if all(f in g.fields for f in wanted):
                d = self._allowed.get(g.grant_id)
                if d is None:
                    d = self._allowed[g.grant_id] = Decision(allowed=True, grant_id=g.grant_id, kind=g.kind)
                return d
        # Only a refusal spells out its reasons: the platform asks before every delivery, and most are allowed.
        reasons = [r for g in self.candidates
                   for r in refusals(g, fields=wanted, purpose=self.purpose, method=self.how,  # type: ignore[arg-type]
                                     at=self.at)]
        return Decision(allowed=False, reasons=tuple(reasons))


def _allows(g: GrantState, *, fields: tuple[str, ...], purpose: str, method: DeliveryMethod, at: datetime) -> bool:
    """True exactly when `refusals` finds nothing (the same checks, without building their sentences)."""
    return (g.valid_from <= at <= g.valid_to and g.status == GrantStatus.ACTIVE and purpose == g.purpose
            and method == g.method and all(f in g.fields for f in fields))


def _granted(e: Grant.Granted) -> GrantState:
    s = e.spec
    return GrantState(
        grant_id=e.originator_id, holder=s.holder, entry_id=s.entry_id, fields=frozenset(s.fields), purpose=s.purpose,
        method=s.method, valid_from=s.valid_from, valid_to=s.valid_to, kind=s.kind, status=GrantStatus.ACTIVE,
        status_since=e.timestamp, provider=s.provider, resource_code=s.resource_code,
    )


def grant_states_from_events(events: Iterable[Any], until: datetime,
                             known: datetime | None = None) -> dict[UUID, GrantState]:
    """The grants in force at effective instant `until`, as the given events (recorded by `known`) tell.

    Pass the events the ledger knew (its prefix up to a position); `known` further drops events
    recorded after it. A grant exists from when it was granted; a status change counts from its
    effective instant (a correction's `effective_at`, else when recorded); a validity correction
    counts once known. Expiry by date needs no event: the status query compares valid_to with `until`.
    """
    granted: dict[UUID, Grant.Granted] = {}
    changes: dict[UUID, list[StatusChange]] = {}
    validity: dict[UUID, tuple[datetime, datetime]] = {}
    for e in events:
        if not isinstance(e, LedgerAggregate.Event) or (known is not None and e.timestamp > known):
            continue
        if isinstance(e, Grant.Granted):
            granted[e.originator_id] = e
            changes[e.originator_id] = []
        elif e.originator_id in granted:
            if isinstance(e, Grant.ValidityCorrected):
                validity[e.originator_id] = (e.valid_from, e.valid_to)
                continue
            c = status_change(e, changes[e.originator_id])
            if c is not None:
                changes[e.originator_id].append(c)
    states: dict[UUID, GrantState] = {}
    for gid, g in granted.items():
        if g.timestamp > until:
            continue
        f = fold(g.timestamp, changes[gid], at=until)
        s = _granted(g)
        vf, vt = validity.get(gid, (s.valid_from, s.valid_to))
        states[gid] = msgspec.structs.replace(s, status=f.status, status_since=f.since, consumed_at=f.consumed_at,
                                              valid_from=vf, valid_to=vt)
    return states
