"""A small sharing world for access-log tests: one provider, two entries, two holders with grants, the platform."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec

from domain.access_log import Access
from domain.catalog_values import ReviewDecision, ShareClass
from domain.organizations import Role
from domain.sharing_values import RequestedEntry
from tests.support import PASS, Division, cmd, content, items, member, register

PURPOSE = "高龄津贴资格核对"
_ids = itertools.count(1)


class World:
    """div-relief provides OPEN (unconditional) and LIMITED (restricted); div-elder and div-welfare hold grants."""

    def __init__(self, rt: Any, admin: Any, clock: Any, holders: tuple[str, ...] = ("div-elder", "div-welfare")) -> None:
        self.rt, self.admin, self.clock = rt, admin, clock
        self.provider = Division(rt, admin, "div-relief")
        self.open = self._entry("SX-OPEN", "", ShareClass.UNCONDITIONAL)
        self.limited = self._entry("SX-LTD", "L", ShareClass.RESTRICTED, share_conditions="仅限核对")
        self.platform = member(rt, admin, "office", "交换平台", Role.PLATFORM)
        self.grants: dict[tuple[str, UUID], UUID] = {}
        for h in holders:
            register(rt, admin, h)
            requester = member(rt, admin, h, f"{h}-申请人", Role.REQUESTER)
            today = clock.now().date()
            r = rt.sharing.submit(requester, cmd(), scenario="internal_sharing", reason="核对", purpose=PURPOSE,
                                  entries=(RequestedEntry(entry_id=self.open, resource_code="", fields=("A", "B")),
                                           RequestedEntry(entry_id=self.limited, resource_code="", fields=("LA",))),
                                  valid_from=today, valid_to=today + timedelta(days=30), delivery_method="interface")
            rt.sharing.review(admin, cmd(), r.aggregate_id, decision="approve")
            for gid in msgspec.json.decode(rt.sharing.issue_order(admin, cmd(), r.aggregate_id).body)["new_grants"]:
                g = rt.sharing.load_grant(UUID(gid))
                self.grants[(h, g.spec.entry_id)] = g.id
        rt.projector.catch_up_all()
        clock.advance(hours=1)

    def _entry(self, code: str, prefix: str, share: ShareClass, **extra: Any) -> UUID:
        rt, p = self.rt, self.provider
        c = content(name=code, share_class=share, data_items=items(*(prefix + f for f in "ABC")), **extra)
        eid: UUID = rt.catalog.draft(p.compiler, cmd(), resource_code=code, content=c).aggregate_id
        rt.catalog.submit(p.compiler, cmd(), eid)
        rt.catalog.review(p.reviewer, cmd(), eid, review=PASS, decision=ReviewDecision.APPROVE)
        rt.catalog.publish(self.admin, cmd(), eid)
        return eid

    def access(self, holder: str = "div-elder", entry: UUID | None = None, *, at: datetime | None = None,
               fields: tuple[str, ...] | None = None, purpose: str = PURPOSE, method: str = "interface",
               request_id: str | None = None, **over: Any) -> Access:
        return Access(
            **{"request_id": request_id or f"req-{next(_ids)}", "holder": holder, "provider": "div-relief",
               "entry_id": entry or self.open,
               "fields": fields or (("LA",) if entry == self.limited else ("A",)), "purpose": purpose, "method": method,
               "record_count": 10, "accessed_at": at or self.clock.now() - timedelta(minutes=5), **over},
        )
