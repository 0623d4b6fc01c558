"""COL-1, SYS-1 … SYS-5 and CAT-5 at collection time, on an information system, as given / when / then."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import NAMESPACE_URL, uuid5

import msgspec
import pytest

from domain.organizations import Level, Role
from domain.systems import InformationSystem
from domain.systems_values import (
    JUSTIFICATION_PARTS,
    ChangeKind,
    ComplianceTest,
    ConstructionPlan,
    DuplicateCollection,
    ExistingSource,
    FilingState,
    Justification,
    Platform,
    ProjectEntry,
    SystemState,
    check_approvable,
)
from tests.domain.cast import CITY, COMPILER, DIV, OFFICE_ADMIN, OFFICE_REVIEWER, TODAY, actor
from tests.domain.given import Past, ctx, event, invalid, past, refused, then
from tests.domain.given_sharing import replay

IS = InformationSystem
SYSTEM_ID = uuid5(NAMESPACE_URL, "test:system:1")
MANAGER = actor("relief-manager", DIV, Role.SYSTEM_MANAGER)
OTHER_MANAGER = actor("welfare-manager", "div-welfare", Role.SYSTEM_MANAGER)
CITY_MANAGER = actor("xa-manager", CITY, Role.SYSTEM_MANAGER)

PLAN = ConstructionPlan(title="社会救助信息系统（二期）建设方案", summary="救助对象认定与资金发放一体化", document="陕民办〔2026〕1号")
CATALOG = (
    ProjectEntry(resource_code="SX-MZ-JZ-001", name="救助对象信息", item_codes=("JZ_ID", "JZ_NAME", "HJ_ADDR")),
    ProjectEntry(resource_code="SX-MZ-JZ-002", name="救助资金发放", item_codes=("FF_AMOUNT",)),
)
POLICE_SOURCE = ExistingSource(resource_code="SX-GA-HJ-001", provider="sx-dept-police")
HELD_ELSEWHERE = {"HJ_ADDR": POLICE_SOURCE}
WHY = "户籍地址需按救助申请时的居住地核实，与公安户籍地址口径不同"


def justification(**overrides: Any) -> Justification:
    base = Justification(
        necessity="救助审核需要", feasibility="依托现有平台", relation_to_existing="复用低保目录",
        sharing_fit="经交换平台共享", mechanism="乡镇经办录入", catalog="见项目数据资源目录", funding="省级财政专项",
    )
    return msgspec.structs.replace(base, **overrides)


# -- the past of a system ------------------------------------------------------------------------

def proposed(*, by=MANAGER, owner: str = DIV, level: Level = Level.PROVINCE, catalog=CATALOG) -> Past:
    return past(IS.Proposed, by, name="社会救助信息系统", owner=owner, level=level, plan=PLAN, catalog=catalog)


def justified(*duplicates: DuplicateCollection, by=MANAGER, **overrides: Any) -> Past:
    return past(IS.JustificationFiled, by, justification=justification(**overrides), duplicates=duplicates)


def duplicate(item: str = "HJ_ADDR") -> DuplicateCollection:
    return DuplicateCollection(item_code=item, project_entry="SX-MZ-JZ-001", existing_source=POLICE_SOURCE.resource_code,
                               source_provider=POLICE_SOURCE.provider, reason=WHY)


def approved() -> Past:
    return past(IS.Approved, OFFICE_ADMIN, comment="同意建设")


def connected(platform: Platform, *, by=MANAGER) -> Past:
    return past(IS.Connected, by, platform=platform, reference=f"{platform}-0001")


def checked(passed: bool = True) -> Past:
    return past(IS.ComplianceTested, OFFICE_ADMIN,
                test=ComplianceTest(passed=passed, tested_on=TODAY, findings=() if passed else ("目录缺项",)))


def went_live() -> Past:
    return past(IS.WentLive, MANAGER, on=TODAY)


def filed(number: int = 1, kind: ChangeKind = ChangeKind.UPGRADE, *, confirm: bool = True) -> Past:
    return past(IS.ChangeFiled, MANAGER, filing=number, kind=kind, description="升级至二期", affects_sharing=confirm,
                needs_confirmation=confirm)


def system(*history: Past) -> InformationSystem:
    return replay(InformationSystem, SYSTEM_ID, *history)


def ready(*, owner_manager=MANAGER, **proposal: Any) -> tuple[Past, ...]:
    """Proposed, justified and approved: ready to connect."""
    return proposed(by=owner_manager, **proposal), justified(by=owner_manager), approved()


def live(**proposal: Any) -> tuple[Past, ...]:
    return (*ready(**proposal), connected(Platform.EXCHANGE), connected(Platform.INTEGRATION), checked(), went_live())


def propose(by=MANAGER, **overrides: Any) -> InformationSystem:
    fields: dict[str, Any] = dict(id=SYSTEM_ID, name="社会救助信息系统", owner=DIV, level=Level.PROVINCE, plan=PLAN,
                                  catalog=CATALOG)
    fields.update(overrides)
    return InformationSystem.propose(ctx(by), **fields)


# -- proposal (第十一条) -----------------------------------------------------------------------------

def test_a_system_manager_proposes_with_a_plan_and_a_project_catalog() -> None:
    s = propose()
    then(s, event(IS.Proposed, by=MANAGER, owner=DIV, level=Level.PROVINCE, plan=PLAN, catalog=CATALOG))
    assert s.state == SystemState.PROPOSED


@pytest.mark.parametrize("who", [OTHER_MANAGER, COMPILER], ids=["another-organization", "not-a-system-manager"])
def test_col1_only_the_owners_system_manager_proposes(who) -> None:
    with refused("COL-1"):
        propose(by=who)


def test_sys1_a_proposal_without_a_plan_summary_is_refused() -> None:
    with refused("SYS-1") as info:
        propose(plan=ConstructionPlan(title="方案", summary=" "))
    assert info.value.context["missing"] == ["summary"]


def test_a_project_catalog_entry_lists_its_items_once() -> None:
    with invalid():
        propose(catalog=(ProjectEntry(resource_code="X", name="x", item_codes=("A", "A")),))


# -- justification: COL-1 and one datum, one source (第十一条, 第十四条) --------------------------------

def test_a_complete_justification_is_filed() -> None:
    s = system(proposed())
    s.justify(ctx(MANAGER), justification=justification(), existing_sources={})
    then(s, event(IS.JustificationFiled, justification=justification(), duplicates=()))
    assert s.state == SystemState.JUSTIFIED


@pytest.mark.parametrize("part", JUSTIFICATION_PARTS)
def test_col1_a_justification_lacking_any_of_the_seven_parts_is_refused(part: str) -> None:
    s = system(proposed())
    with refused("COL-1", s) as info:
        s.justify(ctx(MANAGER), justification=justification(**{part: "  "}), existing_sources={})
    assert info.value.context["missing"] == [part]


def test_cat5_collecting_an_item_another_organization_publishes_is_refused_naming_the_source() -> None:
    s = system(proposed())
    with refused("CAT-5", s) as info:
        s.justify(ctx(MANAGER), justification=justification(), existing_sources=HELD_ELSEWHERE)
    assert info.value.context == {"item_code": "HJ_ADDR", "existing_source": "SX-GA-HJ-001",
                                  "provider": "sx-dept-police"}
    assert "SX-GA-HJ-001" in info.value.detail and info.value.article == "第十四条"


def test_cat5_a_stated_reason_files_the_duplicate_for_the_office_to_judge() -> None:
    s = system(proposed())
    s.justify(ctx(MANAGER), justification=justification(duplicate_reasons={"HJ_ADDR": WHY}),
              existing_sources=HELD_ELSEWHERE)
    then(s, event(IS.JustificationFiled, duplicates=(duplicate(),)))


def test_only_the_office_accepts_a_duplicate_collection() -> None:
    s = system(proposed(), justified(duplicate()))
    with refused("CAT-5", s):
        s.accept_duplicate(ctx(OFFICE_REVIEWER), item_code="HJ_ADDR")
    s.accept_duplicate(ctx(OFFICE_ADMIN), item_code="HJ_ADDR")
    then(s, event(IS.DuplicateCollectionAccepted, item_code="HJ_ADDR", existing_source="SX-GA-HJ-001"))


def test_an_item_not_filed_as_a_duplicate_is_not_accepted() -> None:
    s = system(proposed(), justified())
    with invalid(s):
        s.accept_duplicate(ctx(OFFICE_ADMIN), item_code="JZ_ID")


def test_a_justification_under_review_is_not_filed_again() -> None:
    s = system(proposed(), justified())
    with invalid(s):
        s.justify(ctx(MANAGER), justification=justification(), existing_sources={})


# -- the Office's review (SYS-1, COL-1, CAT-5) ---------------------------------------------------------

def test_the_office_approves_a_complete_proposal() -> None:
    s = system(proposed(), justified())
    s.review(ctx(OFFICE_ADMIN), decision="approve", comment="同意", existing_sources={})
    then(s, event(IS.Approved, by=OFFICE_ADMIN, comment="同意"))
    assert s.state == SystemState.APPROVED


def test_sys1_only_the_office_reviews() -> None:
    s = system(proposed(), justified())
    with refused("SYS-1", s):
        s.review(ctx(MANAGER), decision="approve", existing_sources={})


def test_sys1_a_system_without_a_project_catalog_is_not_approved() -> None:
    s = system(proposed(catalog=()), justified())
    with refused("SYS-1", s) as info:
        s.review(ctx(OFFICE_ADMIN), decision="approve", existing_sources={})
    assert "project data catalog" in info.value.detail and info.value.article == "第十二条"


def test_col1_approval_needs_a_filed_justification_with_seven_parts() -> None:
    with refused("COL-1"):
        check_approvable("x", PLAN, CATALOG, None, {}, {})
    with refused("COL-1"):
        check_approvable("x", PLAN, CATALOG, justification(funding=""), {}, {})


def test_cat5_a_duplicate_the_office_has_not_accepted_blocks_approval() -> None:
    s = system(proposed(), justified(duplicate()))
    with refused("CAT-5", s) as info:
        s.review(ctx(OFFICE_ADMIN), decision="approve", existing_sources=HELD_ELSEWHERE)
    assert info.value.context["existing_source"] == "SX-GA-HJ-001"


def test_cat5_an_accepted_duplicate_is_approved() -> None:
    s = system(proposed(), justified(duplicate()),
               past(IS.DuplicateCollectionAccepted, OFFICE_ADMIN, item_code="HJ_ADDR", existing_source="SX-GA-HJ-001"))
    s.review(ctx(OFFICE_ADMIN), decision="approve", existing_sources=HELD_ELSEWHERE)
    then(s, event(IS.Approved))


def test_cat5_a_source_published_after_filing_is_caught_at_review() -> None:
    s = system(proposed(), justified())
    with refused("CAT-5", s):
        s.review(ctx(OFFICE_ADMIN), decision="approve", existing_sources=HELD_ELSEWHERE)


def test_a_rejection_states_its_reasons_and_the_owner_may_justify_again() -> None:
    s = system(proposed(), justified())
    with invalid(s):
        s.review(ctx(OFFICE_ADMIN), decision="reject", comment="", existing_sources={})
    s.review(ctx(OFFICE_ADMIN), decision="reject", comment="经费来源不明确", existing_sources={})
    then(s, event(IS.Rejected, reasons="经费来源不明确"))
    s.justify(ctx(MANAGER), justification=justification(funding="省级财政专项（已批复）"), existing_sources={})
    then(s, event(IS.JustificationFiled))
    assert s.state == SystemState.JUSTIFIED


# -- connection, test, go-live (SYS-2, SYS-4) -----------------------------------------------------------

def test_connections_are_recorded_once_each_after_approval() -> None:
    s = system(*ready())
    s.connect(ctx(MANAGER), platform="exchange", reference="JH-0001")
    then(s, event(IS.Connected, platform=Platform.EXCHANGE, reference="JH-0001"))
    with invalid(s):
        s.connect(ctx(MANAGER), platform="exchange", reference="JH-0002")
    under_review = system(proposed(), justified())
    with invalid(under_review):
        under_review.connect(ctx(MANAGER), platform="exchange", reference="JH-0001")


def test_sys2_another_organization_does_not_record_a_connection() -> None:
    s = system(*ready())
    with refused("SYS-2", s):
        s.connect(ctx(OTHER_MANAGER), platform="integration", reference="YT-1")


def test_sys4_only_the_office_records_a_compliance_test_and_a_failure_states_findings() -> None:
    s = system(*ready())
    with refused("SYS-4", s):
        s.record_test(ctx(MANAGER), passed=True, findings=(), tested_on=TODAY)
    with invalid(s):
        s.record_test(ctx(OFFICE_ADMIN), passed=False, findings=(" ",), tested_on=TODAY)
    s.record_test(ctx(OFFICE_ADMIN), passed=False, findings=("数据项与目录不一致",), tested_on=TODAY)
    then(s, event(IS.ComplianceTested, test=ComplianceTest(passed=False, tested_on=TODAY,
                                                            findings=("数据项与目录不一致",))))


@pytest.mark.parametrize(("history", "rule"), [
    pytest.param((connected(Platform.INTEGRATION), checked()), "SYS-2", id="no-exchange-connection"),
    pytest.param((connected(Platform.EXCHANGE), checked()), "SYS-4", id="no-integration-connection"),
    pytest.param((connected(Platform.EXCHANGE), connected(Platform.INTEGRATION)), "SYS-4", id="no-test"),
    pytest.param((connected(Platform.EXCHANGE), connected(Platform.INTEGRATION), checked(False)), "SYS-4",
                 id="failed-test"),
    pytest.param((connected(Platform.EXCHANGE), connected(Platform.INTEGRATION), checked(), checked(False)), "SYS-4",
                 id="last-test-failed"),
])
def test_go_live_is_refused_until_both_connections_and_a_passed_test(history, rule: str) -> None:
    s = system(*ready(), *history)
    with refused(rule, s):
        s.go_live(ctx(MANAGER), on=TODAY)


def test_go_live_with_both_connections_and_a_passed_test() -> None:
    s = system(*ready(), connected(Platform.EXCHANGE), connected(Platform.INTEGRATION), checked(False), checked())
    s.go_live(ctx(MANAGER), on=TODAY)
    then(s, event(IS.WentLive, on=TODAY))
    assert s.state == SystemState.LIVE and s.findings() == ()


# -- change filings (SYS-3, 第十五条) ----------------------------------------------------------------------

@pytest.mark.parametrize(("owner", "manager", "level", "affects", "needs"), [
    pytest.param(DIV, MANAGER, Level.PROVINCE, True, True, id="provincial-affecting-sharing"),
    pytest.param(DIV, MANAGER, Level.PROVINCE, False, False, id="provincial-not-affecting"),
    pytest.param(CITY, CITY_MANAGER, Level.CITY, True, False, id="city-affecting-sharing"),
])
def test_sys3_a_filing_needs_confirmation_for_a_provincial_change_affecting_sharing(
    owner, manager, level, affects, needs,
) -> None:
    s = system(*live(owner=owner, level=level, owner_manager=manager))
    assert s.file_change(ctx(manager), kind="upgrade", description="升级", affects_sharing=affects) == 1
    then(s, event(IS.ChangeFiled, filing=1, kind=ChangeKind.UPGRADE, affects_sharing=affects, needs_confirmation=needs))


def test_sys3_shutting_down_a_connected_system_always_affects_sharing() -> None:
    s = system(*live())
    s.file_change(ctx(MANAGER), kind="shutdown", description="停运", affects_sharing=False)
    then(s, event(IS.ChangeFiled, affects_sharing=True, needs_confirmation=True))


def test_sys3_changes_are_filed_by_the_owners_manager_for_a_live_system() -> None:
    s = system(*live())
    with refused("SYS-3", s):
        s.file_change(ctx(OTHER_MANAGER), kind="upgrade", description="升级", affects_sharing=True)
    building = system(*ready())
    with invalid(building):
        building.file_change(ctx(MANAGER), kind="upgrade", description="升级", affects_sharing=True)


def test_sys3_a_provincial_change_affecting_sharing_is_not_implemented_before_confirmation() -> None:
    s = system(*live(), filed())
    with refused("SYS-3", s) as info:
        s.implement_change(ctx(MANAGER), filing=1, on=TODAY)
    assert info.value.article == "第十五条"


def test_sys3_implemented_after_the_office_confirms() -> None:
    s = system(*live(), filed())
    with refused("SYS-3", s):
        s.confirm_change(ctx(MANAGER), filing=1)
    s.confirm_change(ctx(OFFICE_ADMIN), filing=1, comment="同意")
    s.implement_change(ctx(MANAGER), filing=1, on=TODAY)
    then(s, event(IS.ChangeConfirmed, filing=1), event(IS.ChangeImplemented, filing=1, on=TODAY))
    assert s.filings[1].state == FilingState.IMPLEMENTED


def test_a_change_needing_no_confirmation_is_implemented_at_once() -> None:
    s = system(*live(), filed(confirm=False))
    s.implement_change(ctx(MANAGER), filing=1, on=TODAY)
    then(s, event(IS.ChangeImplemented))


def test_a_declined_change_is_not_implemented() -> None:
    s = system(*live(), filed(), past(IS.ChangeDeclined, OFFICE_ADMIN, filing=1, reason="影响共享"))
    with invalid(s):
        s.implement_change(ctx(MANAGER), filing=1, on=TODAY)


def test_a_confirmed_shutdown_decommissions_and_flags_the_entries() -> None:
    s = system(*live(), filed(kind=ChangeKind.SHUTDOWN), past(IS.ChangeConfirmed, OFFICE_ADMIN, filing=1, comment=""))
    s.implement_change(ctx(MANAGER), filing=1, on=TODAY, entries_to_flag=("SX-MZ-JZ-001",))
    then(s, event(IS.ChangeImplemented), event(IS.Decommissioned, entries_flagged=("SX-MZ-JZ-001",)))
    assert s.state == SystemState.DECOMMISSIONED


# -- SYS-5 (第三十七条) ---------------------------------------------------------------------------------

def codes(s: InformationSystem) -> list[str]:
    return [f.code for f in s.findings()]


def test_sys5_an_existing_system_registered_by_the_office_is_judged_like_a_live_one() -> None:
    with refused("SYS-5"):
        InformationSystem.register_existing(ctx(MANAGER), id=SYSTEM_ID, name="旧系统", owner=DIV,
                                            level=Level.PROVINCE, plan=PLAN, catalog=CATALOG,
                                            in_operation_since=date(2015, 1, 1))
    s = InformationSystem.register_existing(ctx(OFFICE_ADMIN), id=SYSTEM_ID, name="旧系统", owner=DIV,
                                            level=Level.PROVINCE, plan=PLAN, catalog=CATALOG,
                                            in_operation_since=date(2015, 1, 1))
    assert s.state == SystemState.LIVE and s.legacy
    assert codes(s) == ["not_connected_exchange", "not_connected_integration", "no_passed_test"]
    assert [f.rule for f in s.findings()] == ["SYS-2", "SYS-4", "SYS-4"]


def test_sys5_proposals_without_catalog_or_justification_are_listed() -> None:
    assert codes(system(proposed(catalog=()))) == ["no_project_catalog", "no_justification"]
    assert codes(system(proposed(), justified(duplicate()))) == ["duplicate_not_accepted"]
    assert codes(system(*ready())) == []


def test_sys5_a_change_found_implemented_without_confirmation_is_listed_until_confirmed() -> None:
    s = system(*live(), filed())
    with refused("SYS-5", s):
        s.record_unconfirmed_change(ctx(MANAGER), kind="upgrade", description="", evidence="x", filing=1)
    s.record_unconfirmed_change(ctx(OFFICE_ADMIN), kind="upgrade", description="", evidence="巡检发现已上线", filing=1)
    assert codes(s) == ["unconfirmed_change_implemented"]
    s.confirm_change(ctx(OFFICE_ADMIN), filing=1, comment="补办确认")
    assert codes(s) == [] and s.filings[1].state == FilingState.IMPLEMENTED
    then(s, event(IS.UnconfirmedChangeFound, filing=1, kind=ChangeKind.UPGRADE), event(IS.ChangeConfirmed))


def test_sys5_rectification_is_ordered_for_a_falling_short_system_and_closed_once_it_complies() -> None:
    s = system(*ready(), connected(Platform.EXCHANGE), connected(Platform.INTEGRATION), checked(), went_live(),
               checked(False))
    s.order_rectification(ctx(OFFICE_ADMIN), deadline=date(2026, 6, 30), comment="限期整改")
    [ordered] = then(s, event(IS.RectificationOrdered, withhold="withhold_funding"))
    assert [f.code for f in ordered.findings] == ["no_passed_test"]
    with refused("SYS-5", s):
        s.close_rectification(ctx(OFFICE_ADMIN))
    s.record_test(ctx(OFFICE_ADMIN), passed=True, findings=(), tested_on=TODAY)
    s.close_rectification(ctx(OFFICE_ADMIN), comment="整改完成")
    then(s, event(IS.ComplianceTested), event(IS.RectificationClosed))


def test_a_compliant_system_has_nothing_to_rectify() -> None:
    s = system(*live())
    with invalid(s):
        s.order_rectification(ctx(OFFICE_ADMIN), deadline=date(2026, 6, 30))


def test_sys5_a_proposal_falling_short_has_its_approval_withheld() -> None:
    s = system(proposed(catalog=()), justified())
    s.order_rectification(ctx(OFFICE_ADMIN), deadline=date(2026, 6, 30))
    then(s, event(IS.RectificationOrdered, withhold="withhold_approval"))
