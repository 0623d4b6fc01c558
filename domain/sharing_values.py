"""The values of data sharing (requests, orders, grants) and the checks the sharing aggregates share.

The grant-status decision of USE-1 is `domain.grant_status`."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime, time
from uuid import NAMESPACE_URL, UUID, uuid5

import msgspec

from domain.base import BEIJING
from domain.catalog_values import DeliveryMethod, ShareClass
from domain.limits import Text
from domain.organizations import OrgKind
from domain.rules import InvalidTransition, RuleViolation

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


def status_on(status: GrantStatus, valid_to: datetime, at: datetime) -> GrantStatus:
    """The recorded status, or `expired` once valid_to has passed though no sweep recorded it yet."""
    if status not in TERMINAL and at > valid_to:
        return GrantStatus.EXPIRED
    return status


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

    import_plan: Text
    storage_plan: Text
    use_plan: Text

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


# -- checks shared by the sharing aggregates ---------------------------------------------

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
