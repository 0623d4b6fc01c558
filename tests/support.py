"""Builders shared by the tests: organizations, members, entry content, commands."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Any, NamedTuple
from uuid import UUID

import msgspec

from application.common import Command, Principal
from bootstrap import Runtime
from domain.catalog_values import (
    Check,
    DataItem,
    DeliveryMethod,
    EntryContent,
    OpenClass,
    Review,
    ReviewDecision,
    Sensitivity,
    ShareClass,
    UpdateCycle,
)
from domain.organizations import Level, OrgKind, Role
from domain.sharing_values import RequestedEntry

_keys = itertools.count(1)


def cmd(name: str = "test", *, key: str | None = None, expected_version: int | None = None, fp: str = "") -> Command:
    return Command(name=name, idempotency_key=key, expected_version=expected_version, fingerprint=fp)


def register(rt: Runtime, admin: Principal, code: str, kind: OrgKind = OrgKind.DIVISION,
             level: Level = Level.PROVINCE, parent: str | None = "office", name: str | None = None) -> None:
    rt.organizations.register(admin, cmd("org.register"), code=code, name=name or code, kind=kind, level=level,
                              parent=parent)


def member(rt: Runtime, admin: Principal, org: str, person: str, *roles: Role | str) -> Principal:
    for role in roles:
        rt.organizations.assign_role(admin, cmd("org.assign"), code=org, person=person, role=Role(role))
    return Principal(person=person, organization=org, roles=frozenset(str(r) for r in roles))


def items(*codes: str) -> tuple[DataItem, ...]:
    return tuple(DataItem(code=c, name=f"字段{c}", type="string", sensitivity=Sensitivity.INTERNAL) for c in codes)


def content(**overrides: Any) -> EntryContent:
    base = EntryContent(
        name="最低生活保障对象信息", summary="全省城乡低保对象基本信息", category="社会救助", format="结构化数据",
        data_items=items("DB_ID", "DB_NAME", "DB_AREA"),
        share_class=ShareClass.UNCONDITIONAL, open_class=OpenClass.CLOSED,
        delivery_methods=(DeliveryMethod.INTERFACE,), update_cycle=UpdateCycle.MONTHLY, source_system="低保信息系统",
    )
    return msgspec.structs.replace(base, **overrides)


PASS = Review(Check(True, "ok"), Check(True, "ok"), Check(True, "ok"))


def fail(*which: str) -> Review:
    checks = {n: Check(n not in which, "not ok" if n in which else "ok") for n in ("accuracy", "completeness", "compliance")}
    return Review(**checks)


class Division:
    """A division of the Department with a compiler and a reviewer, ready to compile its catalog."""

    def __init__(self, rt: Runtime, admin: Principal, code: str = "div-relief",
                 kind: OrgKind = OrgKind.DIVISION, level: Level = Level.PROVINCE, parent: str | None = "office") -> None:
        register(rt, admin, code, kind, level, parent)
        self.rt, self.admin, self.code = rt, admin, code
        self.compiler = member(rt, admin, code, f"{code}-compiler", Role.CATALOG_COMPILER)
        self.reviewer = member(rt, admin, code, f"{code}-reviewer", Role.CATALOG_REVIEWER)

    def publish(self, code: str, entry: EntryContent | None = None) -> UUID:
        """Drafts, submits, passes the review of and (as the Office) publishes one entry; returns its id."""
        rt = self.rt
        eid: UUID = rt.catalog.draft(self.compiler, cmd(), resource_code=code, content=entry or content()).aggregate_id
        self.republish(eid)
        return eid

    def republish(self, eid: UUID) -> None:
        """Submits, passes the review of and publishes the entry's pending version."""
        rt = self.rt
        rt.catalog.submit(self.compiler, cmd(), eid)
        rt.catalog.review(self.reviewer, cmd(), eid, review=PASS, decision=ReviewDecision.APPROVE)
        rt.catalog.publish(self.admin, cmd(), eid)


class Granted(NamedTuple):
    """What `grant_to_div_elder` made: the provider, its entry, the grant and the USE-1 question it allows."""

    provider: Division
    entry_id: UUID
    grant_id: UUID
    ask: dict[str, Any]


def grant_to_div_elder(rt: Runtime, admin: Principal, today: date, *, days: int = 30,
                       fields: tuple[str, ...] = ("DB_NAME",)) -> Granted:
    """div-relief publishes SX-1; div-elder's requester asks for `fields` of it from `today` for `days` days
    (internal sharing, purpose 核对, by interface), and the Office approves and orders it: one reusable grant.
    The question asks for DB_NAME."""
    provider = Division(rt, admin, "div-relief")
    eid = provider.publish("SX-1")
    register(rt, admin, "div-elder")
    requester = member(rt, admin, "div-elder", "周敏", Role.REQUESTER)
    r = rt.sharing.submit(requester, cmd(), scenario="internal_sharing", reason="核对", purpose="核对",
                          entries=(RequestedEntry(entry_id=eid, resource_code="", fields=fields),),
                          valid_from=today, valid_to=today + timedelta(days=days), delivery_method="interface")
    rt.sharing.review(admin, cmd(), r.aggregate_id, decision="approve")
    [gid] = msgspec.json.decode(rt.sharing.issue_order(admin, cmd(), r.aggregate_id).body)["new_grants"]
    ask = {"holder": "div-elder", "entry_id": eid, "fields": ("DB_NAME",), "purpose": "核对", "method": "interface"}
    return Granted(provider=provider, entry_id=eid, grant_id=UUID(gid), ask=ask)
