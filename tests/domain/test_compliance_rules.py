"""Violations (第三十八条) given / when / then: raised by the Office or its monitor, confirmed or dismissed,
noticed, reported by the subject organization, accepted or escalated."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from domain.compliance import (
    Evidence,
    EvidenceKind,
    Violation,
    ViolationKind,
    ViolationStatus,
    violation_id,
)
from domain.organizations import Role
from tests.domain.cast import DIV, OFFICE_ADMIN, OTHER_DIV, T0, actor
from tests.domain.given import ctx, event, invalid, past, refused, then
from tests.domain.given_sharing import replay

V = Violation
MONITOR = actor("monitor:compliance", "office", Role.OFFICE_ADMIN)
DIV_ADMIN = actor("div-admin", DIV, Role.OFFICE_ADMIN)
DIV_MANAGER = actor("div-manager", DIV, Role.SYSTEM_MANAGER)
DIV_REQUESTER = actor("div-requester", DIV, Role.REQUESTER)
OTHER_MANAGER = actor("welfare-manager", OTHER_DIV, Role.SYSTEM_MANAGER)
LOG = (Evidence(kind=EvidenceKind.LOG_RECORD, ref="req-1", position=7),)
KEY = "log:req-1"
VID = violation_id(ViolationKind.OUT_OF_CONTROL, DIV, KEY)
DEADLINE = T0 + timedelta(days=30)


def detect(by: Any = MONITOR, **over: Any) -> Violation:
    args: dict[str, Any] = dict(kind="VIO-3", subject=DIV, evidence=LOG, summary="denied: no_grant", key=KEY,
                                monitor="monitor:compliance")
    args.update(over)
    return V.detect(ctx(by), **args)


def candidate() -> Any:
    return past(V.CandidateRaised, MONITOR, kind=ViolationKind.OUT_OF_CONTROL, subject=DIV, evidence=LOG,
                summary="denied: no_grant", key=KEY, monitor="monitor:compliance")


def violation(*later: Any) -> Violation:
    return replay(V, VID, candidate(), *later)


def confirmed() -> Any:
    return past(V.Confirmed, OFFICE_ADMIN, comment="")


def noticed(deadline: Any = DEADLINE) -> Any:
    return past(V.NoticeIssued, OFFICE_ADMIN, deadline=deadline, requirements="补授权或停止调用")


def reported() -> Any:
    return past(V.RectificationReported, DIV_MANAGER, report="已停止调用", late=False)


# -- raising ---------------------------------------------------------------------------------

def test_the_monitor_raises_a_candidate_whose_id_follows_from_the_case() -> None:
    v = detect()
    then(v, event(V.CandidateRaised, by=MONITOR, kind=ViolationKind.OUT_OF_CONTROL, subject=DIV, key=KEY))
    assert v.id == VID and v.status == ViolationStatus.CANDIDATE
    assert detect(key="log:req-2").id != VID


def test_the_office_raises_a_violation_confirmed_at_once() -> None:
    v = V.record(ctx(OFFICE_ADMIN), kind="VIO-5", subject=DIV, summary="未按规定报送",
                 evidence=(Evidence(kind=EvidenceKind.EVENT, ref="x:1"),), key="k")
    then(v, event(V.Raised, by=OFFICE_ADMIN, kind=ViolationKind.OTHER))
    assert v.status == ViolationStatus.CONFIRMED


@pytest.mark.parametrize("who", [DIV_ADMIN, DIV_MANAGER, actor("office-compiler", "office", Role.CATALOG_COMPILER)])
def test_only_the_office_raises(who: Any) -> None:
    with refused("VIO-3"):
        detect(by=who)
    with refused("VIO-3"):
        V.record(ctx(who), kind="VIO-3", subject=DIV, evidence=LOG, summary="s", key="k")


@pytest.mark.parametrize(("kind", "evidence"), [
    ("VIO-1", LOG), ("VIO-2", LOG), ("VIO-3", (Evidence(kind=EvidenceKind.ENTRY, ref="e"),)),
    ("VIO-4", ()), ("VIO-5", ()),
])
def test_each_case_rests_on_its_kind_of_evidence(kind: str, evidence: tuple[Evidence, ...]) -> None:
    with refused(kind):
        detect(kind=kind, evidence=evidence)


def test_a_case_names_its_organization_and_what_happened() -> None:
    with refused("VIO-3"):
        detect(subject=" ")
    with refused("VIO-3"):
        detect(summary="")
    with invalid():
        detect(kind="VIO-9")


# -- the Office decides ------------------------------------------------------------------------

def test_the_office_confirms_or_dismisses_a_candidate() -> None:
    v = violation()
    v.confirm(ctx(OFFICE_ADMIN), comment="属实")
    then(v, event(V.Confirmed, by=OFFICE_ADMIN, comment="属实"))
    d = violation()
    d.dismiss(ctx(OFFICE_ADMIN), reason="平台误报")
    then(d, event(V.Dismissed, reason="平台误报"))
    assert d.status == ViolationStatus.DISMISSED


def test_nobody_else_confirms_dismisses_notices_accepts_or_escalates() -> None:
    v = violation()
    with refused("VIO-3", v):
        v.confirm(ctx(DIV_ADMIN))
    with refused("VIO-3", v):
        v.dismiss(ctx(DIV_MANAGER), reason="x")
    n = violation(confirmed())
    with refused("VIO-3", n):
        n.issue_notice(ctx(DIV_ADMIN), deadline=DEADLINE, requirements="x")
    r = violation(confirmed(), noticed(), reported())
    with refused("VIO-3", r):
        r.accept(ctx(DIV_ADMIN))
    with refused("VIO-3", r):
        r.escalate(ctx(DIV_ADMIN), reason="x")


def test_decisions_apply_only_in_their_state() -> None:
    v = violation(confirmed())
    with invalid(v):
        v.confirm(ctx(OFFICE_ADMIN))
    with invalid(v):
        v.dismiss(ctx(OFFICE_ADMIN), reason="x")
    with invalid(v):
        v.accept(ctx(OFFICE_ADMIN))
    c = violation()
    with invalid(c):
        c.issue_notice(ctx(OFFICE_ADMIN), deadline=DEADLINE, requirements="x")
    with invalid(c):
        c.dismiss(ctx(OFFICE_ADMIN), reason=" ")


def test_a_notice_has_a_future_deadline_and_requirements() -> None:
    v = violation(confirmed())
    with invalid(v):
        v.issue_notice(ctx(OFFICE_ADMIN), deadline=T0 - timedelta(minutes=1), requirements="x")
    with invalid(v):
        v.issue_notice(ctx(OFFICE_ADMIN), deadline=DEADLINE, requirements="")
    v.issue_notice(ctx(OFFICE_ADMIN), deadline=DEADLINE, requirements="补授权")
    then(v, event(V.NoticeIssued, deadline=DEADLINE, requirements="补授权"))
    assert v.deadline == DEADLINE


# -- the subject organization reports; the Office closes -----------------------------------------

def test_the_subject_reports_its_rectification_with_a_designated_role() -> None:
    v = violation(confirmed(), noticed())
    v.report_rectification(ctx(DIV_MANAGER), report="已停止调用")
    then(v, event(V.RectificationReported, by=DIV_MANAGER, late=False))
    late = violation(confirmed(), noticed())
    late.report_rectification(ctx(DIV_MANAGER, at=DEADLINE + timedelta(days=1)), report="已整改")
    then(late, event(V.RectificationReported, late=True))


@pytest.mark.parametrize("who", [OTHER_MANAGER, DIV_REQUESTER, OFFICE_ADMIN])
def test_only_the_subject_reports(who: Any) -> None:
    v = violation(confirmed(), noticed())
    with refused("VIO-3", v):
        v.report_rectification(ctx(who), report="x")


def test_a_report_needs_a_notice_and_says_what_was_done() -> None:
    v = violation(confirmed())
    with invalid(v):
        v.report_rectification(ctx(DIV_MANAGER), report="x")
    n = violation(confirmed(), noticed())
    with invalid(n):
        n.report_rectification(ctx(DIV_MANAGER), report=" ")


def test_the_office_accepts_a_reported_rectification() -> None:
    v = violation(confirmed(), noticed(), reported())
    v.accept(ctx(OFFICE_ADMIN), comment="整改到位")
    then(v, event(V.Accepted, by=OFFICE_ADMIN))
    assert v.status == ViolationStatus.ACCEPTED


def test_escalation_after_a_report_or_after_an_unanswered_deadline() -> None:
    r = violation(confirmed(), noticed(), reported())
    r.escalate(ctx(OFFICE_ADMIN), reason="整改不到位")
    then(r, event(V.Escalated, reason="整改不到位"))
    n = violation(confirmed(), noticed())
    with invalid(n):
        n.escalate(ctx(OFFICE_ADMIN), reason="未整改")
    n.escalate(ctx(OFFICE_ADMIN, at=DEADLINE + timedelta(seconds=1)), reason="逾期未整改")
    then(n, event(V.Escalated))
    c = violation(confirmed())
    with invalid(c):
        c.escalate(ctx(OFFICE_ADMIN), reason="x")
