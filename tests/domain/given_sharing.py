"""Givens for the sharing context: a small catalog, the people who act, and past events of requests and grants."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, TypeVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.utils import get_topic

from domain.base import Cause, LedgerAggregate
from domain.catalog import entry_id
from domain.catalog_values import DeliveryMethod, ShareClass
from domain.grants import Grant
from domain.organizations import OFFICE_CODE, OrgKind, Role
from domain.sharing import ShareRequest
from domain.sharing_values import (
    GrantKind,
    GrantSpec,
    PublishedEntry,
    RequestedEntry,
    Scenario,
    UsePlan,
    effective_period,
    grant_id,
)
from tests.domain.cast import DIV, OFFICE_ADMIN, OTHER_DIV, REVIEWER, T0, actor
from tests.domain.given import Past, past

A = TypeVar("A", bound=LedgerAggregate)

HEALTH = "prov-health"
HOLDER = OTHER_DIV
REQUESTER = actor("welfare-requester", HOLDER, Role.REQUESTER)
OTHER_REQUESTER = actor("xa-requester", "xa-bureau", Role.REQUESTER)
PROVIDER_REVIEWER = REVIEWER
PLATFORM = actor("exchange", "exchange-platform", Role.PLATFORM)
OFFICE_CATALOG_REVIEWER = actor("office-reviewer", OFFICE_CODE, Role.CATALOG_REVIEWER)

FROM, TO = date(2026, 3, 1), date(2026, 12, 31)
VALID_FROM, VALID_TO = effective_period(FROM, TO)
PURPOSE = "核对低保对象身份"
REASON = "社会救助审核需要核验身份信息"
IFACE, QUERY = DeliveryMethod.INTERFACE, DeliveryMethod.ONLINE_QUERY


def published_entry(
    code: str, share_class: ShareClass, items: tuple[str, ...], *, provider: str = DIV,
    provider_kind: OrgKind = OrgKind.DIVISION, methods: tuple[DeliveryMethod, ...] = (IFACE, QUERY),
    published: bool = True, retired: bool = False,
) -> PublishedEntry:
    return PublishedEntry(
        entry_id=entry_id(code), resource_code=code, provider=provider, provider_kind=provider_kind,
        share_class=share_class, item_codes=items, delivery_methods=methods, published=published, retired=retired,
    )


OPEN = published_entry("SX-MZ-OPEN", ShareClass.UNCONDITIONAL, ("DB_ID", "DB_NAME", "DB_AREA"))
LIMITED = published_entry("SX-MZ-LTD", ShareClass.RESTRICTED, ("R_ID", "R_INCOME"), methods=(IFACE,))
CLOSED = published_entry("SX-MZ-CLOSED", ShareClass.NOT_SHAREABLE, ("N_ID", "N_NOTE"))
DEPT = published_entry("SX-WJ-HEALTH", ShareClass.UNCONDITIONAL, ("H_ID", "H_STATUS"), provider=HEALTH,
                       provider_kind=OrgKind.PROVINCIAL_DEPARTMENT)
DRAFT = published_entry("SX-MZ-DRAFT", ShareClass.UNCONDITIONAL, ("D_ID",), published=False)
GONE = published_entry("SX-MZ-GONE", ShareClass.UNCONDITIONAL, ("G_ID",), retired=True)
CATALOG: dict[UUID, PublishedEntry] = {e.entry_id: e for e in (OPEN, LIMITED, CLOSED, DEPT, DRAFT, GONE)}

PLAN = UsePlan(import_plan="经交换平台接口导入", storage_plan="存于厅数据中心专区", use_plan="仅用于救助审核")

REQUEST_ID = uuid5(NAMESPACE_URL, "test:share-request:1")
ORDER_ID = uuid5(NAMESPACE_URL, "test:implementation-order:1")


def asked(entry: PublishedEntry, *fields: str) -> RequestedEntry:
    """A requested entry; with no fields named, all of the entry's."""
    return RequestedEntry(entry_id=entry.entry_id, resource_code=entry.resource_code,
                          fields=fields or entry.item_codes)


def request_fields(**overrides: Any) -> dict[str, Any]:
    """The keyword arguments of a valid request: the welfare division asks for OPEN by interface."""
    base: dict[str, Any] = dict(
        requester=HOLDER, requester_kind=OrgKind.DIVISION, requester_parent_kind=OrgKind.OFFICE,
        scenario=Scenario.INTERNAL_SHARING, reason=REASON, entries=(asked(OPEN),), purpose=PURPOSE,
        valid_from=FROM, valid_to=TO, delivery_method=IFACE,
    )
    base.update(overrides)
    return base


def replay(aggregate_class: type[A], originator_id: UUID, *history: Past, start: datetime = T0) -> A:
    """The aggregate as the store hands it back: events versioned from 1, one minute apart, before `start`."""
    aggregate: Any = None
    for version, fact in enumerate(history, start=1):
        extra = {"originator_topic": get_topic(aggregate_class)} if version == 1 else {}
        event = fact.event_class(
            originator_id=originator_id, originator_version=version,
            timestamp=start - timedelta(minutes=len(history) - version + 1),
            actor=fact.by, cause=Cause(command=f"given.{fact.event_class.__name__}"), **extra, **fact.fields,
        )
        aggregate = event.mutate(aggregate)
    assert isinstance(aggregate, aggregate_class) and not aggregate.pending_events
    return aggregate


# -- past events of a share request ------------------------------------------------------------

def submitted(**overrides: Any) -> Past:
    fields = request_fields(**overrides)
    return past(ShareRequest.Submitted, REQUESTER, **{k: v for k, v in fields.items()})


def approved(*entries: RequestedEntry, comment: str = "") -> Past:
    return past(ShareRequest.Approved, OFFICE_ADMIN, entries=entries, comment=comment)


def request(*history: Past) -> ShareRequest:
    return replay(ShareRequest, REQUEST_ID, *history)


def approved_request(*entries: RequestedEntry, **overrides: Any) -> ShareRequest:
    """A request for `entries`, approved as asked."""
    entries = entries or (asked(OPEN),)
    return request(submitted(entries=entries, **overrides), approved(*entries))


# -- grants ----------------------------------------------------------------------------------

def spec(
    entry: PublishedEntry = OPEN, *, fields: tuple[str, ...] | None = None, holder: str = HOLDER,
    purpose: str = PURPOSE, method: DeliveryMethod = IFACE, kind: GrantKind | None = None,
    valid_from: datetime = VALID_FROM, valid_to: datetime = VALID_TO, order_id: UUID = ORDER_ID,
    approved_fields: tuple[str, ...] | None = None,
) -> GrantSpec:
    fields = fields if fields is not None else entry.item_codes
    if kind is None:
        kind = GrantKind.SINGLE_USE if entry.share_class == ShareClass.RESTRICTED else GrantKind.REUSABLE
    return GrantSpec(
        grant_id=grant_id(order_id, entry.entry_id), order_id=order_id, request_id=REQUEST_ID, holder=holder,
        provider=entry.provider, entry_id=entry.entry_id, resource_code=entry.resource_code, fields=fields,
        approved_fields=approved_fields if approved_fields is not None else fields, purpose=purpose, method=method,
        valid_from=valid_from, valid_to=valid_to, kind=kind,
    )


def granted(s: GrantSpec) -> Past:
    return past(Grant.Granted, OFFICE_ADMIN, spec=s)


def grant(s: GrantSpec | None = None, *later: Past, start: datetime = T0) -> Grant:
    s = s or spec()
    return replay(Grant, s.grant_id, granted(s), *later, start=start)
