"""Maintenance through the application layer on both stores: four steps and a send-back, a refused batch execution
kept on the ledger, objections answered in time and overdue, and the read models that show them."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import msgspec
import pytest

from application.common import Forbidden, Principal
from application.maintenance import RecordedRefusal
from domain.base import day_end, ledger_date
from domain.catalog_values import ReviewDecision
from domain.maintenance import BatchModification
from domain.maintenance_values import Attempt, Change
from domain.organizations import OrgKind, Role
from domain.rules import RuleViolation
from domain.sharing_values import RequestedEntry
from projections.scope import EVERYTHING, Scope
from tests.support import PASS, Division, cmd, content, member, register

BEFORE, AFTER, OTHER = "sha256:" + "1" * 64, "sha256:" + "2" * 64, "sha256:" + "3" * 64


class World:
    """A division with a published entry, its maintenance persons, an operator, and a holder with a grant."""

    def __init__(self, rt, admin: Principal) -> None:
        self.rt, self.admin = rt, admin
        div = Division(rt, admin, "div-relief")
        eid = rt.catalog.draft(div.compiler, cmd(), resource_code="SX-1", content=content()).aggregate_id
        rt.catalog.submit(div.compiler, cmd(), eid)
        rt.catalog.review(div.reviewer, cmd(), eid, review=PASS, decision=ReviewDecision.APPROVE)
        rt.catalog.publish(admin, cmd(), eid)
        self.entry = eid
        self.maintainer = member(rt, admin, "div-relief", "维护员", Role.MAINTAINER)
        self.approver = member(rt, admin, "div-relief", "审批人", Role.APPROVER)
        self.verifier = member(rt, admin, "div-relief", "复核人", Role.VERIFIER)
        register(rt, admin, "svc-ops", OrgKind.SERVICE_UNIT)
        self.operator = member(rt, admin, "svc-ops", "运维员", Role.OPERATOR)
        register(rt, admin, "div-elder")
        self.requester = member(rt, admin, "div-elder", "周敏", Role.REQUESTER)

    def grant(self) -> UUID:
        today = self.rt.today()
        r = self.rt.sharing.submit(self.requester, cmd(), scenario="internal_sharing", reason="核对", purpose="核对",
                                   entries=(RequestedEntry(entry_id=self.entry, resource_code="",
                                                           fields=("DB_NAME", "DB_AREA")),),
                                   valid_from=today, valid_to=today + timedelta(days=90), delivery_method="interface")
        self.rt.sharing.review(self.admin, cmd(), r.aggregate_id, decision="approve")
        [gid] = msgspec.json.decode(self.rt.sharing.issue_order(self.admin, cmd(), r.aggregate_id).body)["new_grants"]
        return UUID(gid)

    def declare(self) -> UUID:
        result = self.rt.maintenance.declare(
            self.maintainer, cmd(), entry_id=self.entry, method="system_function", reason="核实属实",
            change=Change(fields=("DB_AREA",), record_count=1, before_digest=BEFORE, description="区划代码错误"))
        assert result.aggregate_id is not None
        return result.aggregate_id


@pytest.fixture
def world(runtime, admin) -> World:
    return World(runtime, admin)


def test_a_ticket_goes_through_four_steps_after_being_sent_back(world, runtime, clock):
    m = runtime.maintenance
    tid = world.declare()
    m.approve(world.approver, cmd(), tid, comment="同意")
    m.apply(world.maintainer, cmd(), tid, applied_at=clock.now(), after_digest=OTHER)
    m.recheck(world.verifier, cmd(), tid, outcome="send_back", observed_digest=OTHER, comment="仍不一致")
    m.apply(world.maintainer, cmd(), tid, applied_at=clock.now(), after_digest=AFTER)
    m.recheck(world.verifier, cmd(), tid, outcome="verify", observed_digest=AFTER)
    runtime.projector.catch_up_all()
    row = runtime.maintenance_queries.ticket(str(tid), EVERYTHING)
    assert row.status == "verified" and row.attempts == 2 and row.after_digest == AFTER
    assert [s.step for s in row.steps] == ["declared", "approved", "applied", "sent_back", "applied", "verified"]
    archive, _ = runtime.maintenance_queries.archive(scope=EVERYTHING, system="低保信息系统")
    assert [a.ticket_id for a in archive] == [str(tid)] * 6
    assert runtime.maintenance_queries.archive(scope=EVERYTHING, entry_id=str(world.entry))[0] == archive


def test_one_person_with_two_roles_does_not_declare_and_approve(world, runtime, admin):
    both = member(runtime, admin, "div-relief", "维护员", Role.APPROVER)
    tid = world.declare()
    with pytest.raises(RuleViolation) as info:
        runtime.maintenance.approve(Principal(person=both.person, organization="div-relief",
                                              roles=frozenset({"approver"})), cmd(), tid)
    assert info.value.rule == "MNT-1"
    with pytest.raises(Forbidden):
        runtime.maintenance.approve(world.maintainer, cmd(), tid)


def test_queues_show_each_person_what_awaits_them(world, runtime, clock):
    q, m = runtime.maintenance_queries, runtime.maintenance
    tid = str(world.declare())
    runtime.projector.catch_up_all()
    assert [t.id for t in q.ticket_queue(person="审批人", org="div-relief", role="approver")[0]] == [tid]
    assert q.ticket_queue(person="维护员", org="div-relief", role="approver")[0] == []
    m.approve(world.approver, cmd(), UUID(tid))
    m.apply(world.maintainer, cmd(), UUID(tid), applied_at=clock.now(), after_digest=AFTER)
    runtime.projector.catch_up_all()
    assert [t.id for t in q.ticket_queue(person="复核人", org="div-relief", role="verifier")[0]] == [tid]
    assert q.ticket_queue(person="维护员", org="div-relief", role="verifier")[0] == []


def test_a_refused_execution_is_on_the_ledger_and_a_retry_answers_the_same(world, runtime, admin, clock):
    m, now = runtime.maintenance, clock.now()
    division = member(runtime, admin, "div-relief", "维护员", Role.MAINTAINER)
    bid = m.request_batch(division, cmd(), system="低保信息系统", entry_ids=[world.entry], estimated_records=100,
                          window_from=now + timedelta(hours=1), window_to=now + timedelta(hours=2), reason="调标",
                          description="批量更新").aggregate_id
    m.review_batch(admin, cmd(), bid, decision="approve", operator="运维员", operator_org="svc-ops")
    early = Attempt(system="低保信息系统", entry_ids=(world.entry,), record_count=50, session="bh-1")
    for _ in range(2):
        with pytest.raises(RecordedRefusal) as info:
            m.execute_batch(world.operator, cmd(key="exec-1", fp="early"), bid, early)
        assert info.value.rule == "MNT-2" and info.value.context["reasons"] == ["before_window"]
        assert info.value.position is not None
    b = m.load_batch(bid)
    assert b.refusals == 1 and b.version == 3
    assert [type(e).__name__ for e in [runtime.ledger.mapper.to_domain_event(s)
                                       for _, s in runtime.ledger.stored_events_of(bid)]][-1] == "ExecutionRefused"
    clock.advance(hours=1, minutes=30)
    done = msgspec.json.decode(m.execute_batch(world.operator, cmd(), bid, early).body)
    assert done["refused"] is False and done["number"] == 1 and done["records_done"] == 50
    runtime.projector.catch_up_all()
    [refusal], _ = runtime.maintenance_queries.refused_executions(scope=Scope("div-relief"))
    assert refusal.reasons == ["before_window"] and refusal.person == "运维员"
    row = runtime.maintenance_queries.batch(str(bid), EVERYTHING)
    assert [a.outcome for a in row.attempts] == ["refused", "executed"] and row.records_done == 50


def test_the_office_designates_only_a_person_holding_the_operator_role(world, runtime, admin, clock):
    now = clock.now()
    bid = runtime.maintenance.request_batch(
        world.maintainer, cmd(), system="低保信息系统", entry_ids=[world.entry], estimated_records=10,
        window_from=now, window_to=now + timedelta(hours=1), reason="r", description="d").aggregate_id
    with pytest.raises(RuleViolation) as info:
        runtime.maintenance.review_batch(admin, cmd(), bid, decision="approve", operator="维护员",
                                         operator_org="div-relief")
    assert info.value.rule == "MNT-2"
    assert runtime.maintenance.load_batch(bid).status == "requested"
    assert isinstance(runtime.maintenance.load_batch(bid), BatchModification)


def test_objections_answered_in_time_and_overdue(world, runtime, clock):
    m, q = runtime.maintenance, runtime.maintenance_queries
    gid = world.grant()
    first = m.raise_objection(world.requester, cmd(), grant_id=gid, fields=("DB_AREA",),
                              description="区划代码与户籍地不符").aggregate_id
    second = m.raise_objection(world.requester, cmd(), grant_id=gid, fields=("DB_NAME",),
                               description="姓名用字不一致").aggregate_id
    # 15 calendar days: to the end of the 15th day after the day raised, in the ledger's calendar (Beijing)
    raised_on = ledger_date(m.load_objection(first).created_on)
    assert m.load_objection(first).deadline == day_end(raised_on + timedelta(days=15))
    tid = world.declare()
    clock.advance(days=3)
    m.answer_objection(world.approver, cmd(), first, decision="confirm", ticket_id=tid, reason="已申报更正")
    clock.advance(days=13)
    runtime.projector.catch_up_all()
    overdue, _ = q.objections(scope=Scope("div-relief"), now=clock.now(), overdue=True)
    assert [o.id for o in overdue] == [str(second)] and overdue[0].overdue is True
    answered = q.objection(str(first), clock.now(), EVERYTHING)
    assert answered.status == "confirmed" and answered.ticket_id == str(tid) and answered.late is False
    m.answer_objection(world.verifier, cmd(), second, decision="reject", reason="与源系统一致")
    runtime.projector.catch_up_all()
    assert q.objections(scope=EVERYTHING, now=clock.now(), overdue=True)[0] == []
    assert q.objection(str(second), clock.now(), EVERYTHING).late is True


def test_only_the_holder_of_the_grant_objects(world, runtime, admin):
    gid = world.grant()
    register(runtime, admin, "div-other")
    stranger = member(runtime, admin, "div-other", "路人", Role.REQUESTER)
    with pytest.raises(RuleViolation) as info:
        runtime.maintenance.raise_objection(stranger, cmd(), grant_id=gid, fields=("DB_AREA",), description="x")
    assert info.value.rule == "QLT-1"
