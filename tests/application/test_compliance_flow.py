"""The compliance board through the application layer on both stores: monitors raise each candidate once (on a
second run, after a read-model rebuild, after losing their position), and the Office takes a case to its close;
a refused batch execution is raised as VIO-3 too."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import msgspec
import pytest

from application.common import Forbidden
from application.maintenance import RecordedRefusal
from domain.compliance import ViolationKind, ViolationStatus
from domain.maintenance_values import Attempt
from domain.organizations import OrgKind, Role
from domain.rules import RuleViolation
from projections.compliance import ViolationRow
from projections.scope import EVERYTHING, Scope
from tests.application.access_log_world import World
from tests.support import cmd, member, register


@pytest.fixture
def world(runtime, admin, clock) -> World:
    return World(runtime, admin, clock)


def candidates(rt, kind: str | None = None) -> list[ViolationRow]:
    rt.projector.catch_up_all()
    rows, _ = rt.compliance_queries.violations(scope=EVERYTHING, kind=kind, status="candidate", limit=500)
    return rows


def test_a_denied_access_becomes_one_candidate_the_office_takes_to_rectification(runtime, world, admin, clock):
    rt = runtime
    denied = world.access("div-elder", purpose="其他用途", request_id="req-denied")
    batch = [world.access("div-elder"), denied, world.access("div-elder", method="file")]
    rt.access_log.record(world.platform, cmd(), batch)

    first = rt.monitors.run(clock.now())
    assert (first.raised, first.by_kind) == (1, {"VIO-3": 1})
    assert rt.monitors.run(clock.now()).raised == 0
    rt.projector.rebuild()
    with rt.ledger.db.write() as tx:  # a monitor that lost its position scans everything again
        tx.execute("DELETE FROM monitor_positions")
    assert rt.monitors.run(clock.now()).raised == 0

    [row] = candidates(rt)
    assert (row.kind, row.subject, row.key) == ("VIO-3", "div-elder", "log:req-denied")
    assert {e.kind: e.ref for e in row.evidence}["log_record"] == "req-denied"
    vid = row.id
    elder = member(rt, admin, "div-elder", "整改负责人", Role.SYSTEM_MANAGER)
    rows, _ = rt.compliance_queries.violations(scope=Scope("div-elder"))
    assert rows == []  # a candidate is the Office's work until confirmed

    v = UUID(vid)
    with pytest.raises(Forbidden):
        rt.compliance.confirm(elder, cmd(), v)
    rt.compliance.confirm(admin, cmd(), v, comment="核实属实")
    rt.compliance.issue_notice(admin, cmd(), v, deadline=clock.now() + timedelta(days=30),
                               requirements="按授权用途调用，补办用途变更")
    other = member(rt, admin, "div-welfare", "他人", Role.SYSTEM_MANAGER)
    with pytest.raises(RuleViolation) as refused:
        rt.compliance.report(other, cmd(), v, report="x")
    assert refused.value.rule == "VIO-3"
    rt.compliance.report(elder, cmd(), v, report="已停止以其他用途调用")
    done = rt.compliance.accept(admin, cmd(), v, comment="整改到位")
    assert msgspec.json.decode(done.body)["status"] == ViolationStatus.ACCEPTED

    rt.projector.catch_up_all()
    closed = rt.compliance_queries.violation(vid, EVERYTHING)
    assert closed.status == "accepted" and closed.reported_by == "整改负责人"
    assert [r.id for r in rt.compliance_queries.violations(scope=Scope("div-elder"))[0]] == [vid]
    assert rt.compliance_queries.summary(scope=EVERYTHING, now=clock.now(), org="div-elder")[0].open_violations == 0


def test_a_delivery_under_another_organizations_grant_is_vio4_against_the_grant_holder(runtime, world, clock):
    welfare_grant = world.grants[("div-welfare", world.open)]
    runtime.access_log.record(world.platform, cmd(), [
        world.access("div-elder", grant_id=welfare_grant, request_id="req-proxy"),
        world.access("xa-nobody", request_id="req-nobody"),
    ])
    assert runtime.monitors.run(clock.now()).by_kind == {"VIO-4": 1, "VIO-3": 1}
    kinds = {(r.kind, r.subject, r.key) for r in candidates(runtime)}
    assert kinds == {("VIO-4", "div-welfare", "log:req-proxy"), ("VIO-3", "xa-nobody", "log:req-nobody")}


def test_overdue_objections_and_entries_are_raised_once_per_case_and_cycle(runtime, world, admin, clock):
    rt = runtime
    requester = member(rt, admin, "div-elder", "核对员", Role.REQUESTER)
    rt.maintenance.raise_objection(requester, cmd(), grant_id=world.grants[("div-elder", world.open)],
                                   fields=("A",), description="区划代码与户籍地不符")
    assert rt.monitors.run(clock.now()).raised == 0  # nothing is late yet

    clock.advance(days=40)  # past the objection's 15 days and a monthly cycle plus grace
    run = rt.monitors.run(clock.now())
    assert run.by_kind == {"VIO-2": 1, "VIO-1": 2}
    assert rt.monitors.run(clock.now()).raised == 0
    [vio2] = candidates(rt, ViolationKind.DATA_QUALITY)
    assert vio2.subject == "div-relief" and vio2.evidence[0].kind == "objection"
    line = rt.compliance_queries.summary(scope=EVERYTHING, now=clock.now(), org="div-relief")[0]
    assert (line.candidates, line.overdue_entries, line.overdue_objections) == (3, 2, 1)

    rt.catalog.record_refresh(world.provider.compiler, cmd(), world.open, as_of=clock.now())
    clock.advance(days=40)  # SX-OPEN misses its next cycle; SX-LTD is still late for the same one
    assert rt.monitors.run(clock.now()).by_kind == {"VIO-1": 1}
    keys = sorted(r.key.split(":")[1] for r in candidates(rt, ViolationKind.CATALOG))
    assert keys == sorted([str(world.open), str(world.open), str(world.limited)])


def test_a_refused_batch_execution_becomes_one_vio3_candidate_against_the_division(runtime, world, admin, clock):
    rt, now = runtime, clock.now()
    maintainer = member(rt, admin, "div-relief", "维护员", Role.MAINTAINER)
    register(rt, admin, "svc-ops", OrgKind.SERVICE_UNIT)
    operator = member(rt, admin, "svc-ops", "运维员", Role.OPERATOR)
    bid = rt.maintenance.request_batch(maintainer, cmd(), system="低保信息系统", entry_ids=[world.open],
                                       estimated_records=100, window_from=now + timedelta(hours=1),
                                       window_to=now + timedelta(hours=2), reason="调标", description="批量更新").aggregate_id
    rt.maintenance.review_batch(admin, cmd(), bid, decision="approve", operator="运维员", operator_org="svc-ops")
    early = Attempt(system="低保信息系统", entry_ids=(world.open,), record_count=50, session="bh-1")
    with pytest.raises(RecordedRefusal):
        rt.maintenance.execute_batch(operator, cmd(), bid, early)
    refused_at = rt.maintenance.load_batch(bid).version

    first = rt.monitors.run(clock.now())
    assert (first.raised, first.by_kind) == (1, {"VIO-3": 1})
    assert rt.monitors.run(clock.now()).raised == 0
    [row] = candidates(rt)
    assert (row.kind, row.subject, row.key) == ("VIO-3", "div-relief", f"batch:{bid}:{refused_at}")
    assert [e.kind for e in row.evidence] == ["event"] and "before_window" in row.summary

    clock.advance(hours=1, minutes=30)  # within the window the same attempt executes: nothing more is raised
    rt.maintenance.execute_batch(operator, cmd(), bid, early)
    assert rt.monitors.run(clock.now()).raised == 0
