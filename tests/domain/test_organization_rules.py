"""ORG-1 and ORG-2 as given / when / then: who registers, who assigns roles, when a service unit acts."""

from __future__ import annotations

from datetime import date

import pytest

from domain.base import Actor
from domain.organizations import (
    OFFICE_CODE,
    Authorisation,
    Level,
    Organization,
    OrgKind,
    Role,
    organization_id,
)
from tests.domain.cast import (
    COMPILER,
    DIV,
    OFFICE_ADMIN,
    OFFICE_REVIEWER,
    OTHER_DIV,
    OTHER_REVIEWER,
    REVIEWER,
    actor,
)
from tests.domain.given import Past, ctx, event, given, invalid, past, refused, then

SERVICE = "svc-digital"
JAN_1, JUN_30, DEC_31 = date(2026, 1, 1), date(2026, 6, 30), date(2026, 12, 31)


def registered(code: str, kind: OrgKind = OrgKind.DIVISION, level: Level = Level.PROVINCE,
               parent: str | None = OFFICE_CODE) -> Past:
    return past(Organization.Registered, OFFICE_ADMIN, code=code, name=f"{code} 名称", kind=kind, level=level,
                parent=parent)


def authorised(serves: str = DIV, valid_from: date = JAN_1, valid_to: date = DEC_31) -> Past:
    grant = Authorisation(serves=serves, valid_from=valid_from, valid_to=valid_to, scope="目录编制")
    return past(Organization.ServiceAuthorised, actor("div-head", serves, Role.OFFICE_ADMIN), authorisation=grant)


def service_unit(*history: Past) -> Organization:
    return given(Organization, registered(SERVICE, OrgKind.SERVICE_UNIT), *history)


def register(who: Actor, code: str = DIV, kind: OrgKind = OrgKind.DIVISION) -> Organization:
    return Organization.register(ctx(who), code=code, name="社会救助处", kind=kind, level=Level.PROVINCE,
                                 parent=OFFICE_CODE)


# -- ORG-1: the Office registers organizations and assigns roles ------------------------------

def test_office_registers_a_division() -> None:
    org = register(OFFICE_ADMIN)
    then(org, event(Organization.Registered, by=OFFICE_ADMIN, code=DIV, kind=OrgKind.DIVISION, parent=OFFICE_CODE))
    assert org.id == organization_id(DIV)


@pytest.mark.parametrize("who", [
    pytest.param(actor("div-head", DIV, Role.OFFICE_ADMIN), id="office_admin-role-of-a-division"),
    pytest.param(OFFICE_REVIEWER, id="office-member-without-office_admin"),
])
def test_org1_registration_by_anyone_but_the_office_admin_is_refused(who: Actor) -> None:
    with refused("ORG-1"):
        register(who, OTHER_DIV)


def test_office_assigns_a_role_to_a_member() -> None:
    org = given(Organization, registered(DIV))
    org.assign_role(ctx(OFFICE_ADMIN), person="alice", role=Role.CATALOG_COMPILER)
    then(org, event(Organization.RoleAssigned, by=OFFICE_ADMIN, person="alice", role=Role.CATALOG_COMPILER))
    assert org.holds("alice", Role.CATALOG_COMPILER)


def test_org1_role_assignment_by_a_non_office_actor_is_refused() -> None:
    org = given(Organization, registered(DIV))
    with refused("ORG-1", org):
        org.assign_role(ctx(REVIEWER), person="alice", role=Role.CATALOG_COMPILER)


def test_org1_role_revocation_by_a_non_office_actor_is_refused() -> None:
    org = given(Organization, registered(DIV),
                past(Organization.RoleAssigned, OFFICE_ADMIN, person="alice", role=Role.CATALOG_COMPILER))
    with refused("ORG-1", org):
        org.revoke_role(ctx(COMPILER), person="alice", role=Role.CATALOG_COMPILER)


def test_org1_office_admin_role_outside_the_office_is_refused() -> None:
    org = given(Organization, registered(DIV))
    with refused("ORG-1", org):
        org.assign_role(ctx(OFFICE_ADMIN), person="alice", role=Role.OFFICE_ADMIN)


def test_office_admin_role_inside_the_office_is_assigned() -> None:
    office = given(Organization, registered(OFFICE_CODE, OrgKind.OFFICE, parent=None))
    office.assign_role(ctx(OFFICE_ADMIN), person="bob", role=Role.OFFICE_ADMIN)
    then(office, event(Organization.RoleAssigned, person="bob", role=Role.OFFICE_ADMIN))


def test_revoking_a_role_not_held_is_an_invalid_transition() -> None:
    org = given(Organization, registered(DIV))
    with invalid(org):
        org.revoke_role(ctx(OFFICE_ADMIN), person="alice", role=Role.CATALOG_COMPILER)


# -- ORG-2: a service unit acts within a dated authorisation from the served organization -----

def test_served_organization_authorises_its_service_unit() -> None:
    unit = service_unit()
    grantor = actor("div-head", DIV, Role.OFFICE_ADMIN)
    unit.authorise_service(ctx(grantor), serves=DIV, valid_from=JAN_1, valid_to=DEC_31, scope="目录编制")
    then(unit, event(Organization.ServiceAuthorised, by=grantor,
                     authorisation=Authorisation(DIV, JAN_1, DEC_31, "目录编制")))


def test_office_authorises_a_service_unit_for_a_division() -> None:
    unit = service_unit()
    unit.authorise_service(ctx(OFFICE_ADMIN), serves=DIV, valid_from=JAN_1, valid_to=DEC_31, scope="运维")
    then(unit, event(Organization.ServiceAuthorised, by=OFFICE_ADMIN))


def test_org2_authorisation_of_an_organization_that_is_not_a_service_unit_is_refused() -> None:
    org = given(Organization, registered(OTHER_DIV))
    with refused("ORG-2", org):
        org.authorise_service(ctx(OFFICE_ADMIN), serves=DIV, valid_from=JAN_1, valid_to=DEC_31, scope="运维")


def test_org2_authorisation_granted_by_a_third_organization_is_refused() -> None:
    unit = service_unit()
    with refused("ORG-2", unit):
        unit.authorise_service(ctx(OTHER_REVIEWER), serves=DIV, valid_from=JAN_1, valid_to=DEC_31, scope="运维")


def test_org2_an_office_member_without_office_admin_does_not_authorise_for_another_organization() -> None:
    """"(or the Office)" is the Office's office_admin, as everywhere (decision 0018), not any member of it."""
    unit = service_unit()
    with refused("ORG-2", unit):
        unit.authorise_service(ctx(OFFICE_REVIEWER), serves=DIV, valid_from=JAN_1, valid_to=DEC_31, scope="运维")
    unit = service_unit(authorised())
    with refused("ORG-2", unit):
        unit.withdraw_service(ctx(OFFICE_REVIEWER), serves=DIV, effective=JUN_30)


def test_authorisation_ending_before_it_starts_is_an_invalid_transition() -> None:
    unit = service_unit()
    with invalid(unit):
        unit.authorise_service(ctx(OFFICE_ADMIN), serves=DIV, valid_from=DEC_31, valid_to=JAN_1, scope="运维")


@pytest.mark.parametrize("on", [JAN_1, JUN_30, DEC_31], ids=["first-day", "inside", "last-day"])
def test_service_unit_acts_inside_its_dated_window(on: date) -> None:
    unit = service_unit(authorised())
    unit.check_acts_for(DIV, on)
    assert unit.may_act_for(DIV, on)


@pytest.mark.parametrize("on", [date(2025, 12, 31), date(2027, 1, 1)], ids=["before", "after"])
def test_org2_acting_outside_the_dated_window_is_refused(on: date) -> None:
    unit = service_unit(authorised())
    with refused("ORG-2") as info:
        unit.check_acts_for(DIV, on)
    assert info.value.context == {"organization": SERVICE, "serves": DIV}


def test_org2_acting_for_an_organization_that_gave_no_authorisation_is_refused() -> None:
    unit = service_unit(authorised(serves=DIV))
    with refused("ORG-2"):
        unit.check_acts_for(OTHER_DIV, JUN_30)


def test_an_organization_always_acts_for_itself() -> None:
    given(Organization, registered(DIV)).check_acts_for(DIV, JUN_30)


def test_org2_withdrawal_shortens_the_window() -> None:
    unit = service_unit(authorised())
    unit.withdraw_service(ctx(OFFICE_ADMIN), serves=DIV, effective=JUN_30)
    then(unit, event(Organization.ServiceAuthorisationWithdrawn, serves=DIV, effective=JUN_30))
    unit.check_acts_for(DIV, JUN_30)
    with refused("ORG-2"):
        unit.check_acts_for(DIV, date(2026, 7, 1))


def test_org2_withdrawal_replayed_from_history_shortens_the_window() -> None:
    withdrawn = past(Organization.ServiceAuthorisationWithdrawn, OFFICE_ADMIN, serves=DIV, effective=JUN_30)
    unit = service_unit(authorised(), authorised(serves=OTHER_DIV), withdrawn)
    assert [a.valid_to for a in unit.authorisations] == [JUN_30, DEC_31]
    with refused("ORG-2"):
        unit.check_acts_for(DIV, date(2026, 7, 1))
    unit.check_acts_for(OTHER_DIV, date(2026, 7, 1))


def test_org2_withdrawal_by_a_third_organization_is_refused() -> None:
    unit = service_unit(authorised())
    with refused("ORG-2", unit):
        unit.withdraw_service(ctx(OTHER_REVIEWER), serves=DIV, effective=JUN_30)


def test_withdrawing_an_authorisation_never_given_is_an_invalid_transition() -> None:
    unit = service_unit(authorised(serves=DIV))
    with invalid(unit):
        unit.withdraw_service(ctx(OFFICE_ADMIN), serves=OTHER_DIV, effective=JUN_30)
