"""The values of data sharing, the grant-status decision of USE-1, and the checks the sharing aggregates share."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING
from uuid import NAMESPACE_URL, UUID, uuid5

import msgspec

from domain.base import BEIJING as BEIJING  # re-exported: the sharing modules import it from here
from domain.base import Context
from domain.catalog_values import DeliveryMethod, ShareClass
from domain.organizations import OFFICE_CODE, OrgKind, Role
from domain.rules import RULES, InvalidTransition, RuleViolation

if TYPE_CHECKING:
    from domain.grants import Grant

#: Dates of the Measures are Beijing dates (domain.base.BEIJING, the ledger's calendar); a grant's
#: validity runs from the start of its first day to the end of its last day there, kept as UTC instants.


def effective_period(valid_from: date, valid_to: date) -> tuple[datetime, datetime]:
    """The instants a dated period covers: 00:00 of the first day to the last microsecond of the last, UTC+8."""
    start = datetime.combine(valid_from, time.min, BEIJING)
    end = datetime.combine(valid_to, time.max, BEIJING)
    return start.astimezone(UTC), end.astimezone(UTC)


def grant_id(order_id: UUID, entry_id: UUID) -> UUID:
    """A grant id derives from its order and entry: one order grants an entry at most once."""
    return uuid5(NAMESPACE_URL, f"civic-ledger:grant:{order_id}:{entry_id}")


class Scenario(enum.StrEnum):
    """The three scenarios of 第二十三条."""

    INTERNAL_SHARING = "internal_sharing"
    EXTERNAL_EXCHANGE = "external_exchange"
    EXTERNAL_SHARING = "external_sharing"


class RequestStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    IMPLEMENTED = "implemented"


class RequestDecision(enum.StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class GrantKind(enum.StrEnum):
    """`reusable` for unconditional data; `single_use` for restricted data (按次单独实施)."""

    REUSABLE = "reusable"
    SINGLE_USE = "single_use"


class GrantStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    EXPIRED = "expired"
    CONSUMED = "consumed"


TERMINAL = frozenset({GrantStatus.REVOKED, GrantStatus.EXPIRED, GrantStatus.CONSUMED})


class RequestedEntry(msgspec.Struct, frozen=True):
    """One catalog entry of a request (or of an approval) with the fields asked for it."""

    entry_id: UUID
    resource_code: str
    fields: tuple[str, ...]


class PublishedEntry(msgspec.Struct, frozen=True):
    """What the application tells the domain about a catalog entry as it now stands."""

    entry_id: UUID
    resource_code: str
    provider: str
    provider_kind: OrgKind
    share_class: ShareClass
    item_codes: tuple[str, ...]
    delivery_methods: tuple[DeliveryMethod, ...]
    published: bool = True
    retired: bool = False


class UsePlan(msgspec.Struct, frozen=True):
    """导入、存储和使用方案: how data from another department is imported, stored and used (SHR-8)."""

    import_plan: str
    storage_plan: str
    use_plan: str

    def missing(self) -> tuple[str, ...]:
        parts = (("import_plan", self.import_plan), ("storage_plan", self.storage_plan), ("use_plan", self.use_plan))
        return tuple(name for name, text in parts if not text.strip())


class GrantSpec(msgspec.Struct, frozen=True):
    """What an implementation order decided to grant for one entry."""

    grant_id: UUID
    order_id: UUID
    request_id: UUID
    holder: str
    provider: str
    entry_id: UUID
    resource_code: str
    fields: tuple[str, ...]
    approved_fields: tuple[str, ...]
    purpose: str
    method: DeliveryMethod
    valid_from: datetime
    valid_to: datetime
    kind: GrantKind
    use_plan: UsePlan | None = None


class ReusedGrant(msgspec.Struct, frozen=True):
    """An entry of an order served by a reusable grant the holder already has (SHR-7)."""

    entry_id: UUID
    grant_id: UUID
    fields: tuple[str, ...]
    use_plan: UsePlan | None = None


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
        if self.status not in TERMINAL and at > self.valid_to:
            return GrantStatus.EXPIRED
        return self.status


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
    wanted = tuple(dict.fromkeys(fields))
    candidates = sorted(
        (g for g in grants if g.holder == holder and g.entry_id == entry_id),
        key=lambda g: (g.valid_from, g.grant_id),  # UUIDs order as their text does
    )
    if not candidates:
        return Decision(allowed=False, reasons=(_reason(
            "no_grant", f"{holder} holds no grant for entry {entry_id}.", fields=wanted,
        ),))
    try:
        how = DeliveryMethod(method)
    except ValueError:
        how = method  # type: ignore[assignment]  # an unknown method matches no grant
    allowing = [g for g in candidates if _allows(g, fields=wanted, purpose=purpose, method=how, at=at)]
    if allowing:
        # A reusable grant is preferred so a single-use one is not spent needlessly.
        best = min(allowing, key=lambda g: (g.kind != GrantKind.REUSABLE, g.valid_to, g.grant_id))
        return Decision(allowed=True, grant_id=best.grant_id, kind=best.kind)
    # Only a refusal spells out its reasons: the platform asks before every delivery, and most are allowed.
    reasons = [r for g in candidates for r in refusals(g, fields=wanted, purpose=purpose, method=how, at=at)]
    return Decision(allowed=False, reasons=tuple(reasons))


def _allows(g: GrantState, *, fields: tuple[str, ...], purpose: str, method: DeliveryMethod, at: datetime) -> bool:
    """True exactly when `refusals` finds nothing (the same checks, without building their sentences)."""
    return (g.valid_from <= at <= g.valid_to and g.status == GrantStatus.ACTIVE and purpose == g.purpose
            and method == g.method and all(f in g.fields for f in fields))



# -- checks shared by the sharing aggregates ---------------------------------------------

def is_office(ctx: Context) -> bool:
    return ctx.actor.organization == OFFICE_CODE and ctx.actor.role == Role.OFFICE_ADMIN


def require_office(ctx: Context, what: str) -> None:
    if not is_office(ctx):
        raise RuleViolation("SHR-6", f"Only the Office (office_admin) {what}.")


def check_shareable(entry_id: UUID, fields: tuple[str, ...], pe: PublishedEntry | None) -> PublishedEntry:
    """SHR-4 and SHR-5 for one entry against the catalog as it now stands."""
    if pe is None or not pe.published or pe.retired:
        state = "unknown" if pe is None else ("retired" if pe.retired else "not published")
        raise RuleViolation(
            "SHR-4", f"Entry {pe.resource_code if pe else entry_id} is {state}; only published entries are shared "
            f"(fields {', '.join(fields)}).", entry_id=str(entry_id), fields=list(fields),
        )
    if pe.share_class == ShareClass.NOT_SHAREABLE:
        raise RuleViolation(
            "SHR-4", f"Entry {pe.resource_code} is not shareable (非共享); its fields {', '.join(fields)} are never granted.",
            entry_id=str(entry_id), resource_code=pe.resource_code, fields=list(fields),
        )
    unknown = tuple(f for f in fields if f not in pe.item_codes)
    if unknown:
        raise RuleViolation(
            "SHR-5", f"Entry {pe.resource_code} has no data items {', '.join(unknown)}.",
            entry_id=str(entry_id), resource_code=pe.resource_code, fields=list(unknown),
        )
    return pe

def check_method(pe: PublishedEntry, method: DeliveryMethod) -> None:
    if method not in pe.delivery_methods:
        offered = ", ".join(pe.delivery_methods) or "none"
        raise InvalidTransition(
            f"Entry {pe.resource_code} is not delivered by {method} (offered: {offered}).",
            entry_id=str(pe.entry_id), method=str(method),
        )
