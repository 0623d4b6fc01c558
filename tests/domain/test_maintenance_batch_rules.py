"""MNT-2 on batch modifications: a division requests, the Office approves, the designated operator executes within
scope and window; a refused execution is recorded on its own."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from domain.maintenance import BatchModification
from domain.maintenance_values import BatchStatus, ScopeEntry
from domain.organizations import OrgKind, Role
from domain.rules import RuleViolation
from tests.domain.cast import OFFICE_ADMIN, T0
from tests.domain.given import ctx, event, invalid, past, refused, then
from tests.domain.given_maintenance import (
    APPROVER,
    BATCH_ID,
    ENTRIES,
    ENTRY,
    FOREIGN,
    MAINTAINER,
    OPERATOR,
    OTHER_OPERATOR,
    SECOND,
    SYSTEM,
    WINDOW_FROM,
    WINDOW_TO,
    as_role,
    attempt,
    batch,
    batch_approved,
    requested,
    scope,
)

B = BatchModification


def request(by: Any = MAINTAINER, kind: OrgKind = OrgKind.DIVISION, **overrides: Any) -> BatchModification:
    args: dict[str, Any] = dict(scope=scope(), reason="低保标准调整后批量重算保障金额", description="按新标准批量更新档次")
    args.update(overrides)
    return B.request(ctx(by), division=by.acting_for, division_kind=kind, entries=ENTRIES, id=BATCH_ID, **args)


def approved_batch() -> BatchModification:
    return batch(requested(), batch_approved())


# -- the path -------------------------------------------------------------------------------------

def test_a_division_requests_a_batch_modification() -> None:
    b = request()
    [e] = then(b, event(B.Requested, by=MAINTAINER, division=ENTRY.provider))
    assert e.scope.entries == (ScopeEntry(entry_id=ENTRY.entry_id, resource_code=ENTRY.resource_code),)
    assert b.status == BatchStatus.REQUESTED


def test_the_office_approves_and_designates_the_operator() -> None:
    b = batch()
    b.review(ctx(OFFICE_ADMIN), decision="approve", operator=OPERATOR.person, operator_org=OPERATOR.organization)
    then(b, event(B.Approved, by=OFFICE_ADMIN, operator=OPERATOR.person, operator_org=OPERATOR.organization))


def test_the_office_rejects_with_a_reason() -> None:
    b = batch()
    b.review(ctx(OFFICE_ADMIN), decision="reject", reason="请先在测试库验证")
    then(b, event(B.Rejected, reason="请先在测试库验证"))
    b = batch()
    with invalid(b):
        b.review(ctx(OFFICE_ADMIN), decision="reject")


def test_the_designated_operator_executes_within_scope_and_window() -> None:
    b = approved_batch()
    b.execute(ctx(OPERATOR), attempt(record_count=800))
    then(b, event(B.Executed, by=OPERATOR, number=1))
    b = batch(requested(), batch_approved(), past(B.Executed, OPERATOR, attempt=attempt(record_count=800), number=1))
    b.execute(ctx(OPERATOR), attempt(record_count=400))
    then(b, event(B.Executed, number=2))
    assert b.records_done == 1200


# -- MNT-2: request -------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", [OrgKind.CITY_BUREAU, OrgKind.AFFILIATED_UNIT, OrgKind.PROVINCIAL_DEPARTMENT])
def test_mnt2_only_a_division_requests(kind: OrgKind) -> None:
    with refused("MNT-2"):
        request(kind=kind)


def test_mnt2_the_request_is_made_by_a_maintainer_of_the_division() -> None:
    with refused("MNT-2"):
        request(by=APPROVER)


def test_mnt2_a_division_modifies_only_entries_it_provides() -> None:
    with refused("MNT-2") as info:
        request(scope=scope(entries=(ScopeEntry(entry_id=ENTRY.entry_id, resource_code=""),
                                     ScopeEntry(entry_id=FOREIGN.entry_id, resource_code=""))))
    assert info.value.context["entries"] == [str(FOREIGN.entry_id)]


@pytest.mark.parametrize("overrides", [
    {"reason": ""}, {"scope": scope(entries=())}, {"scope": scope(system=" ")}, {"scope": scope(estimated_records=0)},
], ids=["reason", "entries", "system", "count"])
def test_mnt2_the_request_states_its_scope(overrides: dict[str, Any]) -> None:
    with refused("MNT-2"):
        request(**overrides)


def test_a_window_that_has_ended_is_not_requested() -> None:
    with invalid():
        request(scope=scope(window_from=T0 - timedelta(days=2), window_to=T0 - timedelta(days=1)))


# -- MNT-2: review --------------------------------------------------------------------------------

@pytest.mark.parametrize("who", [APPROVER, as_role(OFFICE_ADMIN, Role.APPROVER)], ids=["division", "office-approver"])
def test_mnt2_only_the_office_approves(who: Any) -> None:
    b = batch()
    with refused("MNT-2", b):
        b.review(ctx(who), decision="approve", operator=OPERATOR.person, operator_org=OPERATOR.organization)


def test_mnt2_the_approval_designates_an_operator() -> None:
    b = batch()
    with refused("MNT-2", b):
        b.review(ctx(OFFICE_ADMIN), decision="approve")


# -- MNT-2: execution -----------------------------------------------------------------------------

LATE, EARLY = WINDOW_TO + timedelta(minutes=1), WINDOW_FROM - timedelta(minutes=1)


@pytest.mark.parametrize(("who", "at", "tried", "reasons"), [
    (OPERATOR, EARLY, attempt(), ["before_window"]),
    (OPERATOR, LATE, attempt(), ["after_window"]),
    (OPERATOR, T0, attempt(system="养老服务信息系统"), ["other_system"]),
    (OPERATOR, T0, attempt(entry_ids=(ENTRY.entry_id, SECOND.entry_id)), ["entry_outside_scope"]),
    (OPERATOR, T0, attempt(record_count=1201), ["over_estimate"]),
    (OTHER_OPERATOR, T0, attempt(), ["not_designated_operator"]),
    (as_role(MAINTAINER, Role.OPERATOR), LATE, attempt(), ["not_designated_operator", "after_window"]),
], ids=["before-window", "after-window", "system", "entry", "count", "other-operator", "two-reasons"])
def test_mnt2_an_execution_outside_scope_or_window_is_refused(who: Any, at: Any, tried: Any, reasons: list[str]) -> None:
    b = approved_batch()
    with refused("MNT-2", b) as info:
        b.execute(ctx(who, at=at), tried)
    assert info.value.context["reasons"] == reasons


def test_mnt2_the_estimate_is_a_ceiling_over_all_executions() -> None:
    b = batch(requested(), batch_approved(), past(B.Executed, OPERATOR, attempt=attempt(record_count=1000), number=1))
    with refused("MNT-2", b) as info:
        b.execute(ctx(OPERATOR), attempt(record_count=201))
    assert info.value.context["reasons"] == ["over_estimate"]


@pytest.mark.parametrize("history", [(requested(),), (requested(), past(B.Rejected, OFFICE_ADMIN, reason="否"))],
                         ids=["requested", "rejected"])
def test_mnt2_a_batch_not_approved_is_not_executed(history: Any) -> None:
    b = batch(*history)
    with refused("MNT-2", b) as info:
        b.execute(ctx(OPERATOR), attempt())
    assert info.value.context["reasons"] == ["not_approved"]


def test_a_refused_execution_is_recorded_as_its_own_event() -> None:
    b = approved_batch()
    with pytest.raises(RuleViolation) as info:
        b.execute(ctx(OPERATOR, at=LATE), attempt())
    b.refuse(ctx(OPERATOR, at=LATE), attempt(), info.value)
    then(b, event(B.ExecutionRefused, by=OPERATOR, rule="MNT-2", reasons=("after_window",), attempt=attempt()))
    assert b.refusals == 1 and b.executions == 0 and b.records_done == 0


def test_an_execution_names_entries_and_records() -> None:
    b = approved_batch()
    with invalid(b):
        b.execute(ctx(OPERATOR), attempt(record_count=0))


def test_the_window_is_inclusive_at_both_ends() -> None:
    for at in (WINDOW_FROM, WINDOW_TO):
        b = approved_batch()
        b.execute(ctx(OPERATOR, at=at), attempt())
        then(b, event(B.Executed))


def test_entries_of_the_scope_are_named_once_with_their_codes() -> None:
    b = request(scope=scope(entries=(ScopeEntry(entry_id=SECOND.entry_id, resource_code=""),) * 2))
    [e] = then(b, event(B.Requested))
    assert e.scope.entries == (ScopeEntry(entry_id=SECOND.entry_id, resource_code=SECOND.resource_code),)
    assert e.scope.system == SYSTEM and e.scope.window_to == WINDOW_TO
