"""QLT-1 on objections: raised by the grant's holder on fields received, answered by the provider within the deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, uuid5

import pytest

from domain.base import BEIJING, day_end, ledger_date
from domain.catalog_values import ShareClass
from domain.grant_status import GrantState
from domain.maintenance import MaintenanceTicket
from domain.objections import Objection, ObjectionStatus
from domain.organizations import Role
from tests.domain.cast import DIV, T0, actor
from tests.domain.given import ctx, event, invalid, past, refused, then
from tests.domain.given_maintenance import APPROVER, MAINTAINER, VERIFIER, declared, ticket
from tests.domain.given_sharing import REQUESTER, grant, published_entry, replay, spec

O = Objection  # noqa: E741
OBJECTION_ID = uuid5(NAMESPACE_URL, "test:objection:1")
# The grant's entry is the one the maintenance givens' tickets maintain (SX-MZ-001 of DIV).
ENTRY = published_entry("SX-MZ-001", ShareClass.UNCONDITIONAL, ("DB_ID", "DB_NAME", "DB_AREA"))
GRANT = GrantState.from_grant(grant(spec(ENTRY)))
DEADLINE = day_end(ledger_date(T0) + timedelta(days=15))


def lodge(by: Any = REQUESTER, **overrides: Any) -> Objection:
    args: dict[str, Any] = dict(grant=GRANT, fields=("DB_AREA",), description="接收的区划代码与户籍地不符",
                                deadline_days=15)
    args.update(overrides)
    return O.lodge(ctx(by), id=OBJECTION_ID, **args)


def raised() -> Any:
    return past(O.Raised, REQUESTER, objector=GRANT.holder, provider=DIV, grant_id=GRANT.grant_id,
                entry_id=GRANT.entry_id, resource_code=GRANT.resource_code, fields=("DB_AREA",),
                description="接收的区划代码与户籍地不符", deadline=DEADLINE)


def objection(*later: Any) -> Objection:
    return replay(O, OBJECTION_ID, raised(), *later)


def test_the_holder_raises_an_objection_with_a_deadline() -> None:
    o = lodge(fields=("DB_AREA", "DB_NAME", "DB_AREA"))
    # 15 calendar days in the ledger's calendar: to the end of the 15th Beijing day after the day raised
    then(o, event(O.Raised, by=REQUESTER, objector=GRANT.holder, provider=DIV, fields=("DB_AREA", "DB_NAME"),
                  deadline=day_end(ledger_date(T0) + timedelta(days=15))))
    assert o.status == ObjectionStatus.OPEN
    assert lodge(deadline_days=5).deadline == day_end(ledger_date(T0) + timedelta(days=5))


def test_the_deadline_counts_beijing_days_whatever_the_utc_date() -> None:
    """Raised at 01:30 Beijing on 3 March (17:30 UTC on 2 March), 5 days run to the end of 8 March, Beijing."""
    late = datetime(2026, 3, 2, 17, 30, tzinfo=UTC)
    o = O.lodge(ctx(REQUESTER, at=late), id=OBJECTION_ID, grant=GRANT, fields=("DB_AREA",),
                description="接收的区划代码与户籍地不符", deadline_days=5)
    assert o.deadline == datetime(2026, 3, 8, 23, 59, 59, 999999, tzinfo=BEIJING)
    assert o.deadline.astimezone(UTC) == datetime(2026, 3, 8, 15, 59, 59, 999999, tzinfo=UTC)


def test_the_provider_confirms_and_links_the_correcting_ticket() -> None:
    o = objection()
    t = ticket()
    o.confirm(ctx(APPROVER), ticket=t, comment="已申报更正")
    then(o, event(O.Confirmed, by=APPROVER, ticket_id=t.id, late=False))
    assert o.status == ObjectionStatus.CONFIRMED


def test_the_provider_rejects_with_a_reason() -> None:
    o = objection()
    o.reject(ctx(VERIFIER), reason="经核对与源系统一致")
    then(o, event(O.Rejected, reason="经核对与源系统一致", late=False))


# -- QLT-1 -------------------------------------------------------------------------------------

@pytest.mark.parametrize("who", [
    actor("他人", "div-other", Role.REQUESTER),
    actor("提供方", DIV, Role.MAINTAINER),
    actor(REQUESTER.person, REQUESTER.organization, Role.APPROVER),
], ids=["stranger", "provider", "holder-wrong-role"])
def test_qlt1_only_the_holder_of_the_grant_objects(who: Any) -> None:
    with refused("QLT-1"):
        lodge(by=who)


def test_qlt1_an_objection_concerns_fields_the_grant_delivered() -> None:
    narrow = GrantState.from_grant(grant(spec(ENTRY, fields=("DB_NAME",))))
    with refused("QLT-1") as info:
        lodge(grant=narrow, fields=("DB_NAME", "DB_AREA"))
    assert info.value.context["fields"] == ["DB_AREA"]


@pytest.mark.parametrize("overrides", [{"fields": ()}, {"description": " "}], ids=["fields", "description"])
def test_qlt1_an_objection_states_fields_and_description(overrides: dict[str, Any]) -> None:
    with refused("QLT-1"):
        lodge(**overrides)


def test_sec1_an_objection_carries_no_identity_number() -> None:
    with refused("SEC-1"):
        lodge(description="身份证号610102199001011234的区划错误")


def test_qlt1_the_correcting_ticket_is_the_providers_on_the_same_entry() -> None:
    other_entry = replay(MaintenanceTicket, uuid5(NAMESPACE_URL, "t2"),
                         declared(entry_id=uuid5(NAMESPACE_URL, "e2"), resource_code="SX-MZ-009"))
    other_org = replay(MaintenanceTicket, uuid5(NAMESPACE_URL, "t3"), declared(organization="div-other"))
    for t in (other_entry, other_org):
        o = objection()
        with refused("QLT-1", o):
            o.confirm(ctx(APPROVER), ticket=t)


def test_qlt1_a_rejected_ticket_corrects_nothing() -> None:
    o = objection()
    with refused("QLT-1", o):
        o.confirm(ctx(APPROVER), ticket=ticket(declared(), past(MaintenanceTicket.Rejected, APPROVER, reason="否")))


def test_qlt1_the_provider_answers() -> None:
    o = objection()
    with refused("QLT-1", o):
        o.reject(ctx(REQUESTER), reason="no")
    with refused("QLT-1", o):
        o.reject(ctx(MAINTAINER), reason=" ")


def test_qlt1_past_its_deadline_an_open_objection_is_overdue_and_a_late_answer_says_so() -> None:
    o = objection()
    assert not o.overdue_at(DEADLINE) and o.overdue_at(DEADLINE + timedelta(seconds=1))
    o.reject(ctx(MAINTAINER, at=DEADLINE + timedelta(days=1)), reason="经核对与源系统一致")
    then(o, event(O.Rejected, late=True))
    assert not o.overdue_at(DEADLINE + timedelta(days=2))


def test_an_objection_is_answered_once() -> None:
    o = objection(past(O.Rejected, MAINTAINER, reason="一致", late=False))
    with invalid(o):
        o.confirm(ctx(APPROVER), ticket=ticket())


def test_qlt1_a_confirmation_after_the_deadline_is_recorded_as_late() -> None:
    o = objection()
    t = ticket()
    o.confirm(ctx(APPROVER, at=DEADLINE + timedelta(minutes=1)), ticket=t)
    then(o, event(O.Confirmed, ticket_id=t.id, late=True))
