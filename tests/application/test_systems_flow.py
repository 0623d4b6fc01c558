"""Information systems through the application layer on both stores: the lifecycle, CAT-5 against the real
catalog, the Office's queue, SYS-5, decommissioning, idempotency and versions, and a rebuilt projection."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import msgspec
import pytest

from application.common import Forbidden, VersionConflict
from domain.catalog_values import ReviewDecision
from domain.organizations import Level, OrgKind, Role
from domain.rules import InvalidTransition, RuleViolation
from domain.sharing_values import RequestedEntry
from domain.systems_values import ConstructionPlan, ExistingSource, Justification, ProjectEntry
from projections.scope import EVERYTHING, Scope
from tests.support import PASS, Division, cmd, content, items, member, register

PLAN = ConstructionPlan(title="社会救助信息系统（二期）建设方案", summary="救助对象认定与资金发放一体化", document="陕民办〔2026〕1号")
WHY = "户籍地址按救助申请时居住地核实，与公安户籍口径不同"


def justification(**reasons: str) -> Justification:
    return Justification(
        necessity="救助审核需要", feasibility="依托现有平台", relation_to_existing="复用低保目录",
        sharing_fit="经交换平台共享", mechanism="乡镇经办录入", catalog="见项目数据资源目录", funding="省级财政专项",
        duplicate_reasons=reasons,
    )


def body(result) -> dict:
    return msgspec.json.decode(result.body)


def publish(rt, admin, d: Division, code: str, *codes: str) -> UUID:
    eid = rt.catalog.draft(d.compiler, cmd(), resource_code=code, content=content(data_items=items(*codes))).aggregate_id
    rt.catalog.submit(d.compiler, cmd(), eid)
    rt.catalog.review(d.reviewer, cmd(), eid, review=PASS, decision=ReviewDecision.APPROVE)
    rt.catalog.publish(admin, cmd(), eid)
    return eid


@pytest.fixture
def world(runtime, admin):
    """The relief division (with its own published entry) and the police department publishing household addresses."""
    relief = Division(runtime, admin, "div-relief")
    police = Division(runtime, admin, "sx-dept-police", kind=OrgKind.PROVINCIAL_DEPARTMENT, parent=None)
    own = publish(runtime, admin, relief, "SX-MZ-DB", "DB_ID", "DB_NAME", "DB_AREA")
    publish(runtime, admin, police, "SX-GA-HJ", "HJ_ID", "HJ_ADDR")
    manager = member(runtime, admin, "div-relief", "梁宇", Role.SYSTEM_MANAGER)
    return {"relief": relief, "manager": manager, "own_entry": own}


CATALOG = (
    ProjectEntry(resource_code="SX-MZ-DB", name="低保对象信息", item_codes=("DB_ID", "DB_NAME"), existing=True),
    ProjectEntry(resource_code="SX-MZ-JZ", name="救助对象居住信息", item_codes=("JZ_NO", "HJ_ADDR")),
)


def proposed(rt, manager, catalog=CATALOG) -> UUID:
    sid = rt.systems.propose(manager, cmd(), name="社会救助信息系统", plan=PLAN, catalog=catalog).aggregate_id
    assert sid is not None
    return sid


def test_a_provincial_system_from_proposal_to_live_and_through_a_confirmed_upgrade(runtime, admin, world):
    rt, manager = runtime, world["manager"]
    sid = proposed(rt, manager)

    # 第十四条: collecting a datum the police department publishes is refused, naming the source;
    # the division's own entry (DB_ID, DB_NAME) is no duplicate.
    with pytest.raises(RuleViolation) as dup:
        rt.systems.justify(manager, cmd(), sid, justification=justification())
    assert dup.value.rule == "CAT-5" and dup.value.context["existing_source"] == "SX-GA-HJ"
    assert dup.value.context["provider"] == "sx-dept-police" and dup.value.context["item_code"] == "HJ_ADDR"
    filed = body(rt.systems.justify(manager, cmd(), sid, justification=justification(HJ_ADDR=WHY)))
    assert [d["item_code"] for d in filed["duplicates"]] == ["HJ_ADDR"] and filed["state"] == "justified"

    rt.projector.catch_up_all()
    [task] = rt.system_queries.office_queue()[0]
    assert task.task == "review_justification" and [d.item_code for d in task.duplicates_to_accept] == ["HJ_ADDR"]

    with pytest.raises(RuleViolation) as unaccepted:
        rt.systems.review(admin, cmd(), sid, decision="approve")
    assert unaccepted.value.rule == "CAT-5"
    rt.systems.accept_duplicate(admin, cmd(), sid, item_code="HJ_ADDR")
    assert body(rt.systems.review(admin, cmd(), sid, decision="approve", comment="同意建设"))["state"] == "approved"

    with pytest.raises(RuleViolation) as not_connected:
        rt.systems.go_live(manager, cmd(), sid)
    assert (not_connected.value.rule, not_connected.value.article) == ("SYS-2", "第十三条")
    rt.systems.connect(manager, cmd(), sid, platform="exchange", reference="JH-2026-001")
    rt.systems.connect(admin, cmd(), sid, platform="integration", reference="YT-2026-001")
    with pytest.raises(RuleViolation) as untested:
        rt.systems.go_live(manager, cmd(), sid)
    assert (untested.value.rule, untested.value.article) == ("SYS-4", "第三十六条")
    rt.projector.catch_up_all()
    assert [t.task for t in rt.system_queries.office_queue()[0]] == ["compliance_test"]
    rt.systems.record_test(admin, cmd(), sid, passed=False, findings=("JZ_NO 未在目录中登记",))
    with pytest.raises(RuleViolation):
        rt.systems.go_live(manager, cmd(), sid)
    rt.systems.record_test(admin, cmd(), sid, passed=True, findings=())
    assert body(rt.systems.go_live(manager, cmd(), sid))["state"] == "live"

    number = body(rt.systems.file_change(manager, cmd(), sid, kind="upgrade", description="二期升级，新增救助资金接口",
                                         affects_sharing=True))["filing"]
    with pytest.raises(RuleViolation) as early:
        rt.systems.implement_change(manager, cmd(), sid, number)
    assert (early.value.rule, early.value.article) == ("SYS-3", "第十五条")
    rt.projector.catch_up_all()
    assert [(t.task, t.filing) for t in rt.system_queries.office_queue()[0]] == [("confirm_change", number)]
    with pytest.raises(Forbidden):
        rt.systems.confirm_change(manager, cmd(), sid, number)
    rt.systems.confirm_change(admin, cmd(), sid, number, comment="不影响现有共享接口")
    rt.systems.implement_change(manager, cmd(), sid, number)

    rt.projector.catch_up_all()
    row = rt.system_queries.system(sid, EVERYTHING)
    assert row.state == "live" and row.connections == {"exchange": "JH-2026-001", "integration": "YT-2026-001"}
    assert row.last_test_passed is True and row.pending_filings == 0 and row.findings == []
    assert [(f.number, f.state) for f in row.filings] == [(1, "implemented")]
    assert rt.system_queries.office_queue()[0] == [] and rt.system_queries.compliance(scope=EVERYTHING)[0] == []
    timeline = rt.history.timeline(admin, "system", str(sid))
    assert [e.type for e in timeline][-3:] == ["ChangeFiled", "ChangeConfirmed", "ChangeImplemented"]
    assert timeline[0].rules == ["COL-1", "SYS-1"]


def test_sys1_a_system_without_its_project_catalog_is_not_approved(runtime, admin, world):
    rt, manager = runtime, world["manager"]
    sid = proposed(rt, manager, catalog=())
    rt.systems.justify(manager, cmd(), sid, justification=justification())
    with pytest.raises(RuleViolation) as info:
        rt.systems.review(admin, cmd(), sid, decision="approve")
    assert info.value.rule == "SYS-1"
    rt.systems.review(admin, cmd(), sid, decision="reject", comment="缺项目数据资源目录")
    rt.systems.revise_catalog(manager, cmd(), sid, catalog=CATALOG[:1])
    rt.systems.justify(manager, cmd(), sid, justification=justification())
    assert body(rt.systems.review(admin, cmd(), sid, decision="approve"))["state"] == "approved"


def test_an_existing_entry_is_one_of_the_owners_own(runtime, admin, world):
    foreign = (ProjectEntry(resource_code="SX-GA-HJ", name="户籍", item_codes=("HJ_ADDR",), existing=True),)
    with pytest.raises(InvalidTransition):
        proposed(runtime, world["manager"], catalog=foreign)


def test_a_decommissioned_system_flags_its_entries_and_lists_but_keeps_their_grants(runtime, admin, world, clock):
    rt, manager, own = runtime, world["manager"], world["own_entry"]
    register(rt, admin, "div-elder")
    requester = member(rt, admin, "div-elder", "周敏", Role.REQUESTER)
    today = clock.now().date()
    r = rt.sharing.submit(requester, cmd(), scenario="internal_sharing", reason="核对", purpose="核对",
                          entries=(RequestedEntry(entry_id=own, resource_code="", fields=("DB_NAME",)),),
                          valid_from=today, valid_to=date(today.year + 1, 12, 31), delivery_method="interface")
    rt.sharing.review(admin, cmd(), r.aggregate_id, decision="approve")
    [gid] = body(rt.sharing.issue_order(admin, cmd(), r.aggregate_id))["new_grants"]

    sid = rt.systems.register_existing(admin, cmd(), owner="div-relief", name="低保老系统", plan=PLAN,
                                       catalog=CATALOG, in_operation_since=date(2016, 5, 1)).aggregate_id
    number = body(rt.systems.file_change(manager, cmd(), sid, kind="shutdown", description="并入一体化平台后停运",
                                         affects_sharing=True))["filing"]
    rt.systems.confirm_change(admin, cmd(), sid, number)
    done = body(rt.systems.implement_change(manager, cmd(), sid, number))
    assert done["state"] == "decommissioned" and done["flagged_entries"] == ["SX-MZ-DB"]  # SX-MZ-JZ is not catalogued
    assert done["affected_grants"] == [{"grant_id": gid, "entry": "SX-MZ-DB", "holder": "div-elder", "status": "active"}]
    assert rt.sharing.load_grant(UUID(gid)).status == "active"
    rt.projector.catch_up_all()
    assert rt.system_queries.system(sid, EVERYTHING).flagged_entries == ["SX-MZ-DB"]


def test_sys5_lists_falling_short_systems_until_rectified(runtime, admin, world):
    rt, manager = runtime, world["manager"]
    legacy = rt.systems.register_existing(admin, cmd(), owner="div-relief", name="救助老系统", plan=PLAN, catalog=CATALOG,
                                          in_operation_since=date(2016, 5, 1)).aggregate_id
    bare = proposed(rt, manager, catalog=())
    city = Division(rt, admin, "xa-bureau", kind=OrgKind.CITY_BUREAU, level=Level.CITY, parent=None)
    city_manager = member(rt, admin, city.code, "西安管理员", Role.SYSTEM_MANAGER)
    other = rt.systems.propose(city_manager, cmd(), name="西安救助系统", plan=PLAN, catalog=()).aggregate_id
    rt.projector.catch_up_all()
    board = {i.id: i for i in rt.system_queries.compliance(scope=EVERYTHING)[0]}
    assert set(board) == {str(legacy), str(bare), str(other)}
    assert [f.code for f in board[str(legacy)].findings] == [
        "not_connected_exchange", "not_connected_integration", "no_passed_test"]
    assert board[str(legacy)].consequence == "withhold_funding"
    assert board[str(bare)].consequence == "withhold_approval"
    assert {i.id for i in rt.system_queries.compliance(scope=Scope("xa-bureau"))[0]} == {str(other)}
    first, cursor = rt.system_queries.compliance(scope=EVERYTHING, limit=2)
    rest, end = rt.system_queries.compliance(scope=EVERYTHING, limit=2, cursor=cursor)
    assert len(first) == 2 and len(rest) == 1 and end is None

    rt.systems.order_rectification(admin, cmd(), legacy, deadline=date(2026, 6, 30), comment="限期接入并检测")
    with pytest.raises(RuleViolation) as still:
        rt.systems.close_rectification(admin, cmd(), legacy)
    assert still.value.rule == "SYS-5"
    rt.systems.connect(manager, cmd(), legacy, platform="exchange", reference="JH-OLD")
    rt.systems.connect(manager, cmd(), legacy, platform="integration", reference="YT-OLD")
    rt.systems.record_test(admin, cmd(), legacy, passed=True, findings=())
    rt.systems.record_unconfirmed_change(admin, cmd(), legacy, kind="content_change", description="新增采集项",
                                         evidence="巡检发现未备案即上线")
    rt.projector.catch_up_all()
    [row] = [i for i in rt.system_queries.compliance(scope=EVERYTHING)[0] if i.id == str(legacy)]
    assert [f.code for f in row.findings] == ["unconfirmed_change_implemented"]
    assert row.rectification.withhold == "withhold_funding"
    rt.systems.confirm_change(admin, cmd(), legacy, 1, comment="补办备案确认")
    rt.systems.close_rectification(admin, cmd(), legacy, comment="整改完成")
    rt.projector.catch_up_all()
    assert str(legacy) not in {i.id for i in rt.system_queries.compliance(scope=EVERYTHING)[0]}
    assert rt.system_queries.system(legacy, EVERYTHING).rectification is None


def test_idempotent_retry_and_stale_version(runtime, admin, world):
    rt, manager = runtime, world["manager"]
    first = rt.systems.propose(manager, cmd(key="p-1", fp="x"), name="系统", plan=PLAN, catalog=CATALOG)
    again = rt.systems.propose(manager, cmd(key="p-1", fp="x"), name="系统", plan=PLAN, catalog=CATALOG)
    assert again.replayed and again.aggregate_id == first.aggregate_id and again.body == first.body
    rt.projector.catch_up_all()
    assert len(rt.system_queries.systems(scope=EVERYTHING)[0]) == 1
    with pytest.raises(VersionConflict):
        rt.systems.justify(manager, cmd(expected_version=7), first.aggregate_id, justification=justification(HJ_ADDR=WHY))


def test_a_rebuilt_systems_projection_equals_the_live_one(runtime, admin, world):
    test_sys5_lists_falling_short_systems_until_rectified(runtime, admin, world)
    runtime.projector.catch_up_all()
    db = runtime.ledger.db

    def dump() -> dict[str, list[dict]]:
        return {t: db.query(f"SELECT * FROM {t} ORDER BY 1, 2") for t in ("systems", "system_filings")}

    live = dump()
    assert live["systems"] and live["system_filings"]
    runtime.projector.rebuild(["systems"])
    assert dump() == live


def test_an_item_the_owner_publishes_itself_is_no_duplicate_even_if_others_recollected_it(runtime, admin, world):
    rt, police = runtime, Division(runtime, admin, "sx-dept-civil", kind=OrgKind.PROVINCIAL_DEPARTMENT, parent=None)
    recollected = (*items("CV_ID"), msgspec.structs.replace(items("DB_NAME")[0], duplicate_justification="口径不同"))
    eid = rt.catalog.draft(police.compiler, cmd(), resource_code="SX-CV-1",
                           content=content(data_items=recollected)).aggregate_id
    rt.catalog.submit(police.compiler, cmd(), eid)
    rt.catalog.review(police.reviewer, cmd(), eid, review=PASS, decision=ReviewDecision.APPROVE)
    rt.catalog.accept_duplicate(admin, cmd(), eid, item_code="DB_NAME")
    rt.catalog.publish(admin, cmd(), eid)
    new_entry = (ProjectEntry(resource_code="SX-MZ-NEW", name="新目录", item_codes=("DB_NAME", "CV_ID")),)
    assert rt.systems.existing_sources("div-relief", new_entry) == {
        "CV_ID": ExistingSource(resource_code="SX-CV-1", provider="sx-dept-civil")}


def test_the_demo_has_systems_in_every_state_and_loads_once(runtime):
    from api.cli import demo_parts, load_demo
    from demo.systems import load_systems_demo

    load_demo(runtime)
    parts = demo_parts(runtime)
    summary = load_systems_demo(parts.services, parts.store)
    assert set(summary["systems_by_state"]) == {"proposed", "justified", "rejected", "approved", "live",
                                                "decommissioned"}
    assert load_systems_demo(parts.services, parts.store) == summary
    runtime.projector.catch_up_all()
    tasks = {t.task for t in runtime.system_queries.office_queue()[0]}
    assert tasks == {"review_justification", "confirm_change", "compliance_test"}
    board = runtime.system_queries.compliance(scope=EVERYTHING)[0]
    assert {f.code for b in board for f in b.findings} >= {
        "no_project_catalog", "not_connected_exchange", "unconfirmed_change_implemented"}
    [gone] = runtime.system_queries.systems(scope=EVERYTHING, state="decommissioned")[0]
    assert gone.flagged_entries
