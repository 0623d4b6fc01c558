"""Givens for the maintenance context: the persons of a provider, an entry, digests, past events of tickets and batches."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from domain.catalog import entry_id
from domain.maintenance import BatchModification, MaintenanceTicket
from domain.maintenance_values import Attempt, BatchScope, Change, EntryFacts, Method, ScopeEntry
from domain.organizations import Role
from tests.domain.cast import DIV, OFFICE_ADMIN, OTHER_DIV, T0, actor
from tests.domain.given import Past, past
from tests.domain.given_sharing import replay

SYSTEM = "低保信息系统"
ENTRY = EntryFacts(entry_id=entry_id("SX-MZ-001"), resource_code="SX-MZ-001", provider=DIV,
                   item_codes=("DB_ID", "DB_NAME", "DB_AREA"), source_system=SYSTEM)
SECOND = EntryFacts(entry_id=entry_id("SX-MZ-002"), resource_code="SX-MZ-002", provider=DIV,
                    item_codes=("DB_FAMILY",), source_system=SYSTEM)
FOREIGN = EntryFacts(entry_id=entry_id("SX-YL-001"), resource_code="SX-YL-001", provider=OTHER_DIV,
                     item_codes=("YL_ID",), source_system="养老服务信息系统")
ENTRIES = {e.entry_id: e for e in (ENTRY, SECOND, FOREIGN)}

MAINTAINER = actor("维护员甲", DIV, Role.MAINTAINER)
MAINTAINER_2 = actor("维护员乙", DIV, Role.MAINTAINER)
APPROVER = actor("审批人", DIV, Role.APPROVER)
VERIFIER = actor("复核人", DIV, Role.VERIFIER)
OTHER_APPROVER = actor("他处审批人", OTHER_DIV, Role.APPROVER)
SVC_MAINTAINER = actor("技术支持", "svc-unit", Role.MAINTAINER, on_behalf_of=DIV)
OPERATOR = actor("运维员", "svc-unit", Role.OPERATOR)
OTHER_OPERATOR = actor("他人", "svc-unit", Role.OPERATOR)


def as_role(who: Any, role: Role) -> Any:
    """The same person acting under another of their roles."""
    return actor(who.person, who.organization, role, who.on_behalf_of)


BEFORE = "sha256:" + "a" * 64
AFTER = "sha256:" + "b" * 64
WRONG = "sm3:" + "c" * 64

TICKET_ID = uuid5(NAMESPACE_URL, "test:maintenance-ticket:1")
BATCH_ID = uuid5(NAMESPACE_URL, "test:batch-modification:1")


def change(**overrides: Any) -> Change:
    base: dict[str, Any] = dict(fields=("DB_NAME", "DB_AREA"), record_count=2, before_digest=BEFORE,
                                description="两户低保对象的居住区划代码录入错误，按户籍地更正",
                                record_refs=("rk-7f3a", "rk-91c2"))
    base.update(overrides)
    return Change(**base)


# -- past events of a ticket ------------------------------------------------------------------

def declared(**overrides: Any) -> Past:
    fields: dict[str, Any] = dict(organization=DIV, system=SYSTEM, entry_id=ENTRY.entry_id,
                                  resource_code=ENTRY.resource_code, change=change(), method=Method.SYSTEM_FUNCTION,
                                  reason="群众反映信息有误，核实属实", responsible=MAINTAINER.person)
    fields.update(overrides)
    return past(MaintenanceTicket.Declared, MAINTAINER, **fields)


def approved(by: Any = APPROVER) -> Past:
    return past(MaintenanceTicket.Approved, by, comment="同意")


def applied(by: Any = MAINTAINER, *, attempt: int = 1, digest: str = AFTER) -> Past:
    return past(MaintenanceTicket.Applied, by, applied_at=T0 - timedelta(minutes=10), method=Method.SYSTEM_FUNCTION,
                after_digest=digest, attempt=attempt, note="")


def sent_back(by: Any = VERIFIER) -> Past:
    return past(MaintenanceTicket.SentBack, by, observed_digest=WRONG, reason="更正后区划代码仍不一致")


def ticket(*history: Past) -> MaintenanceTicket:
    return replay(MaintenanceTicket, TICKET_ID, *(history or (declared(),)))


# -- batch modifications ------------------------------------------------------------------------

WINDOW_FROM, WINDOW_TO = T0 - timedelta(hours=1), T0 + timedelta(hours=3)


def scope(**overrides: Any) -> BatchScope:
    base: dict[str, Any] = dict(system=SYSTEM, entries=(ScopeEntry(entry_id=ENTRY.entry_id, resource_code=""),),
                                estimated_records=1200, window_from=WINDOW_FROM, window_to=WINDOW_TO)
    base.update(overrides)
    return BatchScope(**base)


def attempt(**overrides: Any) -> Attempt:
    base: dict[str, Any] = dict(system=SYSTEM, entry_ids=(ENTRY.entry_id,), record_count=800, session="bh-2026-0001")
    base.update(overrides)
    return Attempt(**base)


def requested(**overrides: Any) -> Past:
    scoped = scope(entries=(ScopeEntry(entry_id=ENTRY.entry_id, resource_code=ENTRY.resource_code),))
    fields: dict[str, Any] = dict(division=DIV, scope=scoped, reason="低保标准调整后批量重算保障金额",
                                  description="按新标准批量更新DB_AREA对应档次")
    fields.update(overrides)
    return past(BatchModification.Requested, MAINTAINER, **fields)


def batch_approved(operator: Any = OPERATOR) -> Past:
    return past(BatchModification.Approved, OFFICE_ADMIN, operator=operator.person,
                operator_org=operator.organization, comment="同意，限窗口内执行")


def batch(*history: Past) -> BatchModification:
    return replay(BatchModification, BATCH_ID, *(history or (requested(),)))
