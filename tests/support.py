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


def read_head(sock: Any) -> bytes:
    """Reads from a socket until the end of an HTTP head (its blank line) or until the peer closes: every byte
    read, which may go on past the head."""
    data = b""
    while b"\r\n\r\n" not in data:
        part = sock.recv(65536)
        if not part:
            break
        data += part
    return data


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


class GrantWorld:
    """Where the random-history properties of grants start: div-provider publishes two entries, `<code>-0`
    restricted and `<code>-1` unconditional (entry i's item codes are `<field>_<i>`), each of `holders` has a
    requester and the Office a platform account. `grants`: the ids of the grants made so far."""

    def __init__(self, rt: Runtime, admin: Principal, clock: Any, *, code: str, fields: tuple[str, ...],
                 holders: tuple[str, ...]) -> None:
        self.rt, self.admin, self.clock = rt, admin, clock
        provider = Division(rt, admin, "div-provider")
        self.entries: list[UUID] = []
        for i, share in enumerate((ShareClass.RESTRICTED, ShareClass.UNCONDITIONAL)):
            extra = {"share_conditions": "仅限核对"} if share == ShareClass.RESTRICTED else {}
            c = content(name=f"资源{i}", share_class=share, data_items=items(*(f"{f}_{i}" for f in fields)), **extra)
            self.entries.append(provider.publish(f"{code}-{i}", c))
        self.requesters = {}
        for h in holders:
            register(rt, admin, h)
            self.requesters[h] = member(rt, admin, h, f"{h}-申请人", Role.REQUESTER)
        self.platform = member(rt, admin, "office", "平台账号", Role.PLATFORM)
        self.grants: list[UUID] = []

    @classmethod
    def once(cls, rt: Runtime, admin: Principal, clock: Any) -> Any:
        """The world of this kind on `rt`, made at the first call: Hypothesis runs every example of a test on
        the one store of its fixture, and each example adds its facts to what the others left."""
        key = f"_world_{cls.__module__}.{cls.__qualname__}"
        world = getattr(rt, key, None)
        if world is None:
            world = cls(rt, admin, clock)
            setattr(rt, key, world)
        return world

    def order(self, holder: str, entry: int, fields: tuple[str, ...], purpose: str, valid_from: date,
              valid_to: date) -> None:
        """`holder`'s requester asks for `fields` of entry number `entry` (internal sharing, by interface), and
        the Office approves and orders it; its new grants join `grants`."""
        rt = self.rt
        r = rt.sharing.submit(
            self.requesters[holder], cmd(), scenario="internal_sharing", reason="核对", purpose=purpose,
            entries=(RequestedEntry(entry_id=self.entries[entry], resource_code="", fields=fields),),
            valid_from=valid_from, valid_to=valid_to, delivery_method="interface")
        rt.sharing.review(self.admin, cmd(), r.aggregate_id, decision="approve")
        order = rt.sharing.issue_order(self.admin, cmd(), r.aggregate_id)
        self.grants += [UUID(g) for g in msgspec.json.decode(order.body)["new_grants"]]

    def change(self, kind: str, gid: UUID) -> None:
        """The Office suspends, resumes or revokes the grant now, or (`use`) the platform uses its first field."""
        rt = self.rt
        if kind == "suspend":
            rt.sharing.suspend(self.admin, cmd(), gid, reason="暂停核查")
        elif kind == "resume":
            rt.sharing.resume(self.admin, cmd(), gid)
        elif kind == "revoke":
            rt.sharing.revoke(self.admin, cmd(), gid, reason="违规使用")
        elif kind == "use":
            s = rt.sharing.load_grant(gid).spec
            rt.sharing.use(self.platform, cmd(), holder=s.holder, entry_id=s.entry_id,
                           fields=tuple(s.fields)[:1], purpose=s.purpose, method=str(s.method))
        else:
            raise ValueError(f"no change {kind!r}")

    def events(self) -> list[Any]:
        """Every event recorded so far, in ledger order, as domain events."""
        out, position = [], 0
        while page := self.rt.ledger.recorder.select_notifications(start=position, limit=500,
                                                                   inclusive_of_start=False):
            out += [self.rt.ledger.mapper.to_domain_event(n) for n in page]
            position = page[-1].id
        return out


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
