"""Maintenance in the demo data set: tickets, batch modifications and objections in every state.

Every fact goes through `MaintenanceService` with the persons the rules name. The Office first
designates maintenance persons in two divisions (a maintainer, an approver and a verifier each,
MNT-1); the service unit's existing operator (邵斌, bastion-host role) is designated for batches.

Two phases, like the sharing loader. `load_maintenance_demo` runs between the catalog's two waves:
tickets in every state (declared, rejected, approved, applied, sent back, verified — one verified
after a send-back), batch modifications requested, rejected, executed within window and scope, and
one whose execution before its window was refused and recorded (MNT-2), and objections on grants
the divisions provide: one confirmed with its correcting ticket, one rejected, two left open.
When the clock can be moved, the six-week gap between the waves takes the open ones past their
deadline (QLT-1, overdue); under the wall clock they fall overdue when the deadline passes.
`MaintenanceLoader.late` runs after the gap: one fresh open objection, not yet due, and a ticket
declared for it.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import timedelta
from typing import Any
from uuid import UUID

from application.common import Command, Principal
from application.maintenance import RecordedRefusal
from demo.parts import Services, Store
from domain.catalog import entry_id
from domain.maintenance_values import Attempt, Change, EntryFacts
from domain.organizations import Role
from projections.scope import EVERYTHING

REL, ELD = "sx-mz-div-relief", "sx-mz-div-elderly"
OPERATOR = Principal(person="邵斌", organization="sx-svc-qinyun", roles=frozenset({Role.OPERATOR}))
STAFF = {
    REL: (("冯建", Role.MAINTAINER), ("刘志远", Role.APPROVER), ("何静", Role.VERIFIER)),
    ELD: (("邵华", Role.MAINTAINER), ("魏敏", Role.APPROVER), ("孟凡", Role.VERIFIER)),
}
TICKETS = (  # (division, entry, final state, description, reason)
    (REL, "610000-SHJZ-001", "verified", "两户低保家庭居住区划代码录入为原户籍地", "乡镇核查反馈，入户核实属实"),
    (REL, "610000-SHJZ-001", "resent", "一户保障人口数未随家庭成员死亡注销而减少", "殡葬系统比对发现"),
    (REL, "610000-SHJZ-004", "applied", "三条监测预警处置状态未随处置完成更新", "县级民政局报送处置结果"),
    (REL, "610000-SHJZ-004", "sent_back", "低收入人口类型代码使用了旧版代码表", "代码表升级后清理"),
    (REL, "610000-SHJZ-001", "approved", "保障类别误录为特困供养", "审核确认环节发现"),
    (REL, "610000-SHJZ-004", "declared", "一条监测记录重复登记", "数据质量巡检发现"),
    (ELD, "610000-YLFW-001", "rejected", "机构床位数按年报数据整体调整", "年报口径与备案口径不一致"),
    (ELD, "610000-YLFW-001", "verified", "两家养老机构护理型床位数与备案不一致", "机构变更备案后未同步"),
)


def _digest(seed: str) -> str:
    return "sha256:" + hashlib.sha256(seed.encode("utf-8")).hexdigest()


def _cmd(name: str) -> Command:
    return Command(name=name, request_id="civic-ledger demo")


class MaintenanceLoader:
    def __init__(self, services: Services, store: Store, office: Principal) -> None:
        self.services, self.store = services, store
        self.office = office
        self.m = services.maintenance
        self.people: dict[str, dict[str, Principal]] = {}
        self.tickets: dict[str, list[UUID]] = {}

    def load(self) -> None:
        self._staff()
        for n, spec in enumerate(TICKETS):
            self._ticket(n, *spec)
        self._batches()
        self._objections()

    def late(self) -> None:
        """After the wave gap: one open objection that is not yet due, and the ticket its provider declares."""
        granted = self._grants(REL)
        if granted:
            gid, holder, fields = granted[-1]
            self._object(gid, holder, fields[:1], "本月接收的低保家庭编号与区县台账不一致")
        self._ticket(len(TICKETS), REL, "610000-SHJZ-001", "declared", "低保家庭编号与区县台账不一致", "数据使用方异议")

    # -- persons ---------------------------------------------------------------------------------

    def _staff(self) -> None:
        for org, members in STAFF.items():
            for person, role in members:
                self.services.organizations.assign_role(self.office, _cmd("organization.assign_role"), code=org,
                                                  person=person, role=role)
                self.people.setdefault(org, {})[role] = Principal(person=person, organization=org,
                                                                  roles=frozenset({role}))

    def _who(self, org: str, role: Role) -> Principal:
        return self.people[org][role]

    # -- tickets (MNT-1) ---------------------------------------------------------------------------

    def _ticket(self, n: int, org: str, code: str, state: str, description: str, reason: str) -> UUID:
        facts: EntryFacts = self.m.entry_facts(entry_id(code))
        fields = facts.item_codes[2:4] or facts.item_codes[:1]
        change = Change(fields=fields, record_count=1 + n % 3, before_digest=_digest(f"before:{n}"),
                        description=description, record_refs=tuple(f"rk-{n:03d}-{i}" for i in range(1 + n % 3)))
        tid = self.m.declare(self._who(org, Role.MAINTAINER), _cmd("maintenance.declare"), entry_id=facts.entry_id,
                             change=change, method="system_function", reason=reason).aggregate_id
        assert tid is not None
        self.tickets.setdefault(code, []).append(tid)
        if state == "declared":
            return tid
        approver = self._who(org, Role.APPROVER)
        if state == "rejected":
            self.m.reject(approver, _cmd("maintenance.reject"), tid, reason="调整口径需先经业务处室会商，暂不同意")
            return tid
        self.m.approve(approver, _cmd("maintenance.approve"), tid, comment="同意按申报内容修改")
        if state == "approved":
            return tid
        maintainer, verifier = self._who(org, Role.MAINTAINER), self._who(org, Role.VERIFIER)
        first = _digest(f"after:{n}:1") if state in ("resent", "sent_back") else _digest(f"after:{n}")
        self.m.apply(maintainer, _cmd("maintenance.apply"), tid, applied_at=self.store.now(), after_digest=first,
                     note="通过系统维护功能逐条更正")
        if state == "applied":
            return tid
        if state in ("resent", "sent_back"):
            self.m.recheck(verifier, _cmd("maintenance.recheck"), tid, outcome="send_back", observed_digest=first,
                           comment="抽查发现仍有一条未更正，退回重新修改")
            if state == "sent_back":
                return tid
            first = _digest(f"after:{n}")
            self.m.apply(maintainer, _cmd("maintenance.apply"), tid, applied_at=self.store.now(), after_digest=first,
                         note="补正遗漏记录")
        self.m.recheck(verifier, _cmd("maintenance.recheck"), tid, outcome="verify", observed_digest=first,
                       comment="复核一致")
        return tid

    # -- batch modifications (MNT-2) -------------------------------------------------------------

    def _batches(self) -> None:
        now, maintainer = self.store.now(), self._who(REL, Role.MAINTAINER)
        facts = self.m.entry_facts(entry_id("610000-SHJZ-001"))

        def request(start: timedelta, hours: int, count: int, reason: str) -> UUID:
            bid = self.m.request_batch(
                maintainer, _cmd("batch.request"), system=facts.source_system, entry_ids=[facts.entry_id],
                estimated_records=count, window_from=now + start, window_to=now + start + timedelta(hours=hours),
                reason=reason, description="经堡垒机执行经测试库验证的更新脚本").aggregate_id
            assert bid is not None
            return bid

        request(timedelta(days=2), 4, 5000, "2026年下半年城乡低保标准提高后批量重算月保障金额")
        rejected = request(timedelta(days=3), 4, 90000, "历史数据区划代码批量迁移")
        self.m.review_batch(self.office, _cmd("batch.review"), rejected, decision="reject",
                            reason="范围过大，请分县区分批申请并附测试报告")
        approve = {"decision": "approve", "operator": OPERATOR.person, "operator_org": OPERATOR.organization,
                   "reason": "同意，限窗口内由指定人员通过堡垒机执行"}
        done = request(-timedelta(minutes=30), 6, 1800, "西安市雁塔区行政区划调整后批量更新低保对象所属街道")
        self.m.review_batch(self.office, _cmd("batch.review"), done, **approve)
        for count, session in ((1200, "bh-0001"), (540, "bh-0002")):
            self.m.execute_batch(OPERATOR, _cmd("batch.execute"), done, Attempt(
                system=facts.source_system, entry_ids=(facts.entry_id,), record_count=count, session=session))
        tonight = request(timedelta(hours=10), 3, 300, "特困人员供养标准调整后批量更新")
        self.m.review_batch(self.office, _cmd("batch.review"), tonight, **approve)
        try:
            self.m.execute_batch(OPERATOR, _cmd("batch.execute"), tonight, Attempt(
                system=facts.source_system, entry_ids=(facts.entry_id,), record_count=300, session="bh-0003",
                note="提前执行（窗口外）"))
        except RecordedRefusal:
            pass  # the attempt is on the ledger: a violation candidate (第三十二条)
        else:  # pragma: no cover - the window rule failed
            raise RuntimeError("demo: an execution before its window was not refused")

    # -- objections (QLT-1) --------------------------------------------------------------------------

    def _grants(self, provider: str) -> list[tuple[UUID, str, tuple[str, ...]]]:
        self.store.projector.wait_for(self.store.ledger.max_position(), "sharing")
        rows, _ = self.store.sharing_queries.grants(scope=EVERYTHING, provider=provider, limit=500)
        chosen = [r for r in rows if r.resource_code in self.tickets]
        return [(UUID(r.id), r.holder, tuple(r.fields)) for r in chosen]

    def _requester(self, org: str) -> Principal:
        o = self.services.organizations.find(org)
        assert o is not None
        person = next(p for p, roles in sorted(o.members.items()) if Role.REQUESTER in roles)
        return Principal(person=person, organization=org, roles=frozenset({Role.REQUESTER}))

    def _object(self, gid: UUID, holder: str, fields: tuple[str, ...], text: str) -> UUID:
        oid = self.m.raise_objection(self._requester(holder), _cmd("objection.raise"), grant_id=gid, fields=fields,
                                     description=text).aggregate_id
        assert oid is not None
        return oid

    def _objections(self) -> None:
        texts = ("接收的低保对象居住区划与本地户籍信息不一致", "保障人口数与本地家庭成员信息不符",
                 "监测预警处置状态与县级台账不一致", "部分对象保障类别与本地认定结果不同")
        granted = self._grants(REL)[:4]
        ids = [self._object(gid, holder, fields[-1:], text) for (gid, holder, fields), text in zip(granted, texts, strict=False)]
        if len(ids) < 2:
            return
        code = self.services.maintenance.load_objection(ids[0]).resource_code
        self.m.answer_objection(self._who(REL, Role.APPROVER), _cmd("objection.answer"), ids[0], decision="confirm",
                                ticket_id=self.tickets[code][0], reason="已核实，按维护单更正")
        self.m.answer_objection(self._who(REL, Role.VERIFIER), _cmd("objection.answer"), ids[1], decision="reject",
                                reason="经与源系统核对一致，差异系接收方本地数据未更新")


def load_maintenance_demo(services: Services, store: Store, office: Principal) -> MaintenanceLoader:
    """Loads the first phase (between the catalog's waves); call `.late()` on the result after the wave gap."""
    loader = MaintenanceLoader(services, store, office)
    loader.load()
    return loader


def maintenance_summary(store: Store) -> dict[str, Any]:
    """Tickets, batches and objections by state, and refused executions, from the read model."""
    store.projector.wait_for(store.ledger.max_position(), "maintenance")
    db, now = store.ledger.db, store.now()

    def count(table: str) -> dict[str, int]:
        return {r["status"]: int(r["n"]) for r in db.query(f"SELECT status, COUNT(*) AS n FROM {table} GROUP BY status")}

    objections = Counter(count("objections"))
    overdue, _ = store.maintenance_queries.objections(scope=EVERYTHING, now=now, overdue=True, limit=500)
    refused = db.scalar("SELECT COUNT(*) FROM batch_executions WHERE outcome = 'refused'")
    return {"tickets_by_status": count("maintenance_tickets"), "batches_by_status": count("batch_modifications"),
            "refused_executions": int(refused or 0), "objections_by_status": dict(objections),
            "overdue_objections": len(overdue)}
