"""MNT-1 on maintenance tickets — declare, approve, apply, re-check by different persons — as given / when / then."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import msgspec
import pytest

from domain.maintenance import MaintenanceTicket
from domain.maintenance_values import Method, Recheck, TicketStatus
from domain.organizations import Role
from tests.domain.cast import T0
from tests.domain.given import ctx, event, invalid, past, refused, then
from tests.domain.given_maintenance import (
    AFTER,
    APPROVER,
    BEFORE,
    ENTRY,
    MAINTAINER,
    MAINTAINER_2,
    OTHER_APPROVER,
    SVC_MAINTAINER,
    SYSTEM,
    TICKET_ID,
    VERIFIER,
    WRONG,
    applied,
    approved,
    as_role,
    change,
    declared,
    sent_back,
    ticket,
)

T = MaintenanceTicket
MADE = T0 - timedelta(seconds=30)


def declare(by: Any = MAINTAINER, **overrides: Any) -> MaintenanceTicket:
    args: dict[str, Any] = dict(entry=ENTRY, change=change(), method=Method.SYSTEM_FUNCTION,
                                reason="群众反映信息有误，核实属实")
    args.update(overrides)
    return T.declare(ctx(by), id=TICKET_ID, **args)


# -- the four steps ---------------------------------------------------------------------------

def test_a_maintainer_declares_a_change_to_the_providers_data() -> None:
    t = declare(change=change(fields=("DB_NAME", "DB_AREA", "DB_NAME")))
    then(t, event(T.Declared, by=MAINTAINER, organization=ENTRY.provider, system=SYSTEM, entry_id=ENTRY.entry_id,
                  method=Method.SYSTEM_FUNCTION, responsible=MAINTAINER.person))
    assert t.change.fields == ("DB_NAME", "DB_AREA") and t.status == TicketStatus.DECLARED


def test_a_service_unit_declares_on_behalf_of_the_provider() -> None:
    then(declare(by=SVC_MAINTAINER, responsible="张丽娟"), event(T.Declared, by=SVC_MAINTAINER, responsible="张丽娟"))


def test_an_approver_of_the_organization_approves() -> None:
    t = ticket()
    t.approve(ctx(APPROVER), comment="同意")
    then(t, event(T.Approved, by=APPROVER, comment="同意"))
    assert t.status == TicketStatus.APPROVED


def test_a_maintainer_applies_the_approved_change_with_its_after_digest() -> None:
    t = ticket(declared(), approved())
    t.apply_change(ctx(MAINTAINER), applied_at=MADE, after_digest=AFTER)
    then(t, event(T.Applied, by=MAINTAINER, applied_at=MADE, method=Method.SYSTEM_FUNCTION, after_digest=AFTER,
                  attempt=1))


def test_a_third_person_verifies_the_change_as_applied() -> None:
    t = ticket(declared(), approved(), applied())
    t.recheck(ctx(VERIFIER), outcome=Recheck.VERIFY, observed_digest=AFTER, comment="抽查两户一致")
    then(t, event(T.Verified, by=VERIFIER, observed_digest=AFTER))
    assert t.status == TicketStatus.VERIFIED


def test_a_recheck_sends_the_change_back_and_it_is_applied_again() -> None:
    t = ticket(declared(), approved(), applied())
    t.recheck(ctx(VERIFIER), outcome=Recheck.SEND_BACK, observed_digest=WRONG, comment="区划代码仍不一致")
    then(t, event(T.SentBack, reason="区划代码仍不一致"))
    t = ticket(declared(), approved(), applied(), sent_back())
    t.apply_change(ctx(MAINTAINER_2), applied_at=T0, after_digest=AFTER)
    then(t, event(T.Applied, by=MAINTAINER_2, attempt=2))


# -- MNT-1: who does each step ------------------------------------------------------------------

@pytest.mark.parametrize("who", [APPROVER, as_role(MAINTAINER, Role.VERIFIER)], ids=["approver", "verifier"])
def test_mnt1_only_a_maintainer_declares(who: Any) -> None:
    with refused("MNT-1"):
        declare(by=who)


def test_mnt1_a_maintainer_of_another_organization_does_not_declare() -> None:
    with refused("MNT-1"):
        declare(by=as_role(OTHER_APPROVER, Role.MAINTAINER))


def test_mnt1_the_declarer_may_not_approve_even_holding_the_approver_role() -> None:
    t = ticket()
    with refused("MNT-1", t):
        t.approve(ctx(as_role(MAINTAINER, Role.APPROVER)))


def test_mnt1_an_approver_of_another_organization_does_not_approve() -> None:
    t = ticket()
    with refused("MNT-1", t):
        t.approve(ctx(OTHER_APPROVER))


def test_mnt1_a_maintainer_does_not_approve() -> None:
    t = ticket()
    with refused("MNT-1", t):
        t.approve(ctx(MAINTAINER_2))


def test_mnt1_the_approver_may_not_apply_the_change_it_approved() -> None:
    t = ticket(declared(), approved())
    with refused("MNT-1", t):
        t.apply_change(ctx(as_role(APPROVER, Role.MAINTAINER)), applied_at=MADE, after_digest=AFTER)


@pytest.mark.parametrize("who", [MAINTAINER, APPROVER, MAINTAINER_2], ids=["declarer", "approver", "applier"])
def test_mnt1_the_rechecker_is_a_third_person(who: Any) -> None:
    t = ticket(declared(), approved(), applied(MAINTAINER_2))
    with refused("MNT-1", t):
        t.recheck(ctx(as_role(who, Role.VERIFIER)), outcome=Recheck.VERIFY, observed_digest=AFTER)


def test_mnt1_a_maintainer_does_not_recheck() -> None:
    t = ticket(declared(), approved(), applied())
    with refused("MNT-1", t):
        t.recheck(ctx(MAINTAINER_2), outcome=Recheck.VERIFY, observed_digest=AFTER)


# -- MNT-1: the order of the steps --------------------------------------------------------------

def test_mnt1_a_change_is_not_applied_before_approval() -> None:
    t = ticket()
    with refused("MNT-1", t):
        t.apply_change(ctx(MAINTAINER), applied_at=MADE, after_digest=AFTER)


def test_mnt1_a_rejected_change_is_not_applied() -> None:
    t = ticket()
    t.reject(ctx(APPROVER), reason="依据不足")
    then(t, event(T.Rejected, reason="依据不足"))
    t = ticket(declared(), past(T.Rejected, APPROVER, reason="依据不足"))
    with refused("MNT-1", t):
        t.apply_change(ctx(MAINTAINER), applied_at=MADE, after_digest=AFTER)


def test_mnt1_a_change_made_before_its_approval_is_refused() -> None:
    t = ticket(declared(), approved())
    with refused("MNT-1", t):
        t.apply_change(ctx(MAINTAINER), applied_at=T0 - timedelta(hours=1), after_digest=AFTER)


def test_mnt1_a_change_is_made_by_the_approved_method() -> None:
    t = ticket(declared(), approved())
    with refused("MNT-1", t):
        t.apply_change(ctx(MAINTAINER), applied_at=MADE, after_digest=AFTER, method=Method.DATA_SCRIPT)


@pytest.mark.parametrize("history", [(declared(),), (declared(), approved())], ids=["declared", "approved"])
def test_mnt1_a_change_is_rechecked_only_after_it_was_applied(history: Any) -> None:
    t = ticket(*history)
    with refused("MNT-1", t):
        t.recheck(ctx(VERIFIER), outcome=Recheck.VERIFY, observed_digest=AFTER)


def test_mnt1_a_recheck_verifies_only_the_digest_recorded_when_applied() -> None:
    t = ticket(declared(), approved(), applied())
    with refused("MNT-1", t):
        t.recheck(ctx(VERIFIER), outcome=Recheck.VERIFY, observed_digest=WRONG)


# -- MNT-1: the content recorded, never the data ---------------------------------------------------

@pytest.mark.parametrize("overrides", [
    {"reason": " "}, {"change": change(description="")}, {"change": change(fields=())}, {"system": " "},
], ids=["reason", "description", "fields", "system"])
def test_mnt1_a_declaration_states_its_content(overrides: dict[str, Any]) -> None:
    entry = msgspec.structs.replace(ENTRY, source_system="") if "system" in overrides else ENTRY
    with refused("MNT-1"):
        declare(entry=entry, **overrides)


def test_mnt1_the_fields_are_data_items_of_the_entry() -> None:
    with refused("MNT-1") as info:
        declare(change=change(fields=("DB_NAME", "DB_PHONE")))
    assert info.value.context["fields"] == ["DB_PHONE"]


@pytest.mark.parametrize("bad", ["张三 低保户", "sha256:" + "A" * 64, "md5:" + "a" * 32])
def test_sec1_digests_are_digests_not_data(bad: str) -> None:
    with refused("SEC-1"):
        declare(change=change(before_digest=bad))
    t = ticket(declared(), approved())
    with refused("SEC-1", t):
        t.apply_change(ctx(MAINTAINER), applied_at=MADE, after_digest=bad)


@pytest.mark.parametrize("refs", [("610102199001011234",), ("rk-1", "13912345678")], ids=["id-number", "mobile"])
def test_sec1_record_references_are_opaque(refs: tuple[str, ...]) -> None:
    with refused("SEC-1"):
        declare(change=change(record_refs=refs))


# -- not rules: state conflicts -----------------------------------------------------------------------

def test_a_verified_ticket_is_not_applied_again() -> None:
    t = ticket(declared(), approved(), applied(), past(T.Verified, VERIFIER, observed_digest=AFTER, comment=""))
    with invalid(t):
        t.apply_change(ctx(MAINTAINER), applied_at=MADE, after_digest=AFTER)


def test_a_change_is_not_recorded_as_made_in_the_future() -> None:
    t = ticket(declared(), approved())
    with invalid(t):
        t.apply_change(ctx(MAINTAINER), applied_at=T0 + timedelta(hours=1), after_digest=AFTER)


def test_a_rejection_and_a_send_back_state_why() -> None:
    t = ticket()
    with invalid(t):
        t.reject(ctx(APPROVER), reason="")
    t = ticket(declared(), approved(), applied())
    with invalid(t):
        t.recheck(ctx(VERIFIER), outcome=Recheck.SEND_BACK, observed_digest=WRONG, comment=" ")


def test_digests_are_kept_as_given() -> None:
    assert declare().change.before_digest == BEFORE
