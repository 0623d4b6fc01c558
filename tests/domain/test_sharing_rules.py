"""SHR-1 … SHR-6 on share requests: submission, review and withdrawal, as given / when / then."""

from __future__ import annotations

from datetime import date
from typing import Any

import msgspec
import pytest

from domain.organizations import OrgKind, Role
from domain.rules import OutOfRange
from domain.sharing import ShareRequest
from domain.sharing_values import RequestStatus, Scenario
from tests.domain.cast import COMPILER, OFFICE_ADMIN, OTHER_REVIEWER, actor
from tests.domain.given import ctx, event, invalid, past, refused, then
from tests.domain.given_sharing import (
    CATALOG,
    CLOSED,
    DEPT,
    DRAFT,
    FROM,
    GONE,
    HOLDER,
    LIMITED,
    OFFICE_CATALOG_REVIEWER,
    OPEN,
    PURPOSE,
    QUERY,
    REQUEST_ID,
    REQUESTER,
    approved,
    asked,
    request,
    request_fields,
    submitted,
)


def submit(**overrides: Any) -> ShareRequest:
    who = overrides.pop("by", REQUESTER)
    catalog = overrides.pop("catalog", CATALOG)
    return ShareRequest.submit(ctx(who), catalog=catalog, id=REQUEST_ID, **request_fields(**overrides))


# -- the happy path ---------------------------------------------------------------------------

def test_a_requester_submits_a_request() -> None:
    r = submit(entries=(asked(OPEN, "DB_ID", "DB_NAME", "DB_ID"),))
    then(r, event(ShareRequest.Submitted, by=REQUESTER, requester=HOLDER, scenario=Scenario.INTERNAL_SHARING,
                  entries=(asked(OPEN, "DB_ID", "DB_NAME"),), purpose=PURPOSE, valid_from=FROM))
    assert r.status == RequestStatus.SUBMITTED


CONSISTENT = {  # who asks whom in each scenario of 第二十三条
    Scenario.INTERNAL_SHARING: dict(requester_kind=OrgKind.DIVISION, entries=(asked(OPEN),)),
    Scenario.EXTERNAL_EXCHANGE: dict(requester_kind=OrgKind.DIVISION, entries=(asked(DEPT),)),
    Scenario.EXTERNAL_SHARING: dict(requester_kind=OrgKind.PROVINCIAL_DEPARTMENT, entries=(asked(OPEN),)),
}


@pytest.mark.parametrize("scenario", list(Scenario))
def test_shr1_each_of_the_three_scenarios_is_accepted(scenario: Scenario) -> None:
    then(submit(scenario=str(scenario), **CONSISTENT[scenario]), event(ShareRequest.Submitted, scenario=scenario))


@pytest.mark.parametrize("scenario, overrides", [
    pytest.param(Scenario.INTERNAL_SHARING, dict(entries=(asked(DEPT),)), id="internal-for-department-data"),
    pytest.param(Scenario.INTERNAL_SHARING, dict(requester_kind=OrgKind.PROVINCIAL_DEPARTMENT),
                 id="internal-by-a-department"),
    pytest.param(Scenario.EXTERNAL_EXCHANGE, dict(entries=(asked(OPEN),)), id="exchange-for-civil-affairs-data"),
    pytest.param(Scenario.EXTERNAL_EXCHANGE, dict(requester_kind=OrgKind.PROVINCIAL_DEPARTMENT, entries=(asked(DEPT),)),
                 id="exchange-by-a-department"),
    pytest.param(Scenario.EXTERNAL_SHARING, dict(requester_kind=OrgKind.DIVISION), id="external-sharing-by-a-division"),
    pytest.param(Scenario.EXTERNAL_SHARING, dict(requester_kind=OrgKind.PROVINCIAL_DEPARTMENT, entries=(asked(DEPT),)),
                 id="external-sharing-of-department-data"),
])
def test_shr1_a_request_is_the_scenario_it_names(scenario: Scenario, overrides: dict[str, Any]) -> None:
    with refused("SHR-1"):
        submit(scenario=str(scenario), **overrides)


def test_a_service_unit_submits_on_behalf_of_the_requester() -> None:
    unit = actor("svc-person", "svc-digital", Role.REQUESTER, on_behalf_of=HOLDER)
    then(submit(by=unit), event(ShareRequest.Submitted, by=unit, requester=HOLDER))


def test_the_office_approves_as_asked() -> None:
    r = request(submitted(entries=(asked(OPEN), asked(LIMITED))))
    r.review(ctx(OFFICE_ADMIN), decision="approve")
    then(r, event(ShareRequest.Approved, by=OFFICE_ADMIN, entries=(asked(OPEN), asked(LIMITED))))
    assert r.status == RequestStatus.APPROVED


def test_the_office_narrows_the_fields_of_an_entry() -> None:
    r = request(submitted(entries=(asked(OPEN), asked(LIMITED))))
    r.review(ctx(OFFICE_ADMIN), decision="approve", fields={OPEN.entry_id: ("DB_ID",)}, reason="最小必要")
    then(r, event(ShareRequest.Approved, entries=(asked(OPEN, "DB_ID"), asked(LIMITED)), comment="最小必要"))


def test_narrowing_an_entry_to_no_fields_drops_it() -> None:
    r = request(submitted(entries=(asked(OPEN), asked(LIMITED))))
    r.review(ctx(OFFICE_ADMIN), decision="approve", fields={LIMITED.entry_id: ()})
    then(r, event(ShareRequest.Approved, entries=(asked(OPEN),)))


def test_narrowing_everything_away_is_not_an_approval() -> None:
    r = request(submitted())
    with invalid(r):
        r.review(ctx(OFFICE_ADMIN), decision="approve", fields={OPEN.entry_id: ()})


def test_the_office_rejects_with_a_reason() -> None:
    r = request(submitted())
    r.review(ctx(OFFICE_ADMIN), decision="reject", reason="用途不明确")
    then(r, event(ShareRequest.Rejected, reason="用途不明确"))
    assert r.status == RequestStatus.REJECTED


def test_a_rejection_without_a_reason_is_invalid() -> None:
    r = request(submitted())
    with invalid(r):
        r.review(ctx(OFFICE_ADMIN), decision="reject", reason=" ")


@pytest.mark.parametrize("history", [
    pytest.param((submitted(), approved(asked(OPEN))), id="approved"),
    pytest.param((submitted(), past(ShareRequest.Rejected, OFFICE_ADMIN, reason="用途不明确")), id="rejected"),
    pytest.param((submitted(), past(ShareRequest.Withdrawn, REQUESTER)), id="withdrawn"),
])
def test_only_a_submitted_request_is_reviewed(history: Any) -> None:
    r = request(*history)
    with invalid(r):
        r.review(ctx(OFFICE_ADMIN), decision="approve")


def test_an_unknown_decision_is_invalid() -> None:
    r = request(submitted())
    with invalid(r):
        r.review(ctx(OFFICE_ADMIN), decision="defer")


# -- withdrawal ---------------------------------------------------------------------------------

def test_the_requester_withdraws_before_review() -> None:
    r = request(submitted())
    r.withdraw(ctx(REQUESTER))
    then(r, event(ShareRequest.Withdrawn, by=REQUESTER))
    assert r.status == RequestStatus.WITHDRAWN


def test_a_reviewed_request_is_not_withdrawn() -> None:
    r = request(submitted(), approved(asked(OPEN)))
    with invalid(r):
        r.withdraw(ctx(REQUESTER))


def test_a_withdrawn_request_is_not_reviewed() -> None:
    r = request(submitted())
    r.withdraw(ctx(REQUESTER))
    r.collect_events()
    with invalid(r):
        r.review(ctx(OFFICE_ADMIN), decision="approve")


def test_someone_else_may_not_withdraw() -> None:
    r = request(submitted())
    with refused("SHR-3", r):
        r.withdraw(ctx(actor("xa-requester", "xa-bureau", Role.REQUESTER)))


# -- SHR-1: one of the three scenarios ------------------------------------------------------------

@pytest.mark.parametrize("scenario", ["data_trade", "", "INTERNAL_SHARING"])
def test_shr1_an_unknown_scenario_is_refused(scenario: str) -> None:
    with refused("SHR-1"):
        submit(scenario=scenario)


# -- SHR-2: reason, entries, fields and purpose -----------------------------------------------------

@pytest.mark.parametrize(("overrides", "missing"), [
    pytest.param({"reason": "  "}, "reason", id="no-reason"),
    pytest.param({"purpose": ""}, "purpose", id="no-purpose"),
    pytest.param({"entries": ()}, "entries", id="no-entries"),
    pytest.param({"entries": (asked(OPEN), msgspec.structs.replace(asked(LIMITED), fields=()))},
                 "fields of SX-MZ-LTD", id="an-entry-without-fields"),
    pytest.param({"entries": (msgspec.structs.replace(asked(OPEN), fields=(" ",)),)},
                 "fields of SX-MZ-OPEN", id="blank-fields"),
])
def test_shr2_a_request_missing_a_part_is_refused(overrides: dict[str, Any], missing: str) -> None:
    with refused("SHR-2") as info:
        submit(**overrides)
    assert missing in info.value.detail


# -- SHR-3: who may apply ---------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "parent"), [
    pytest.param(OrgKind.MUNICIPAL_GOVERNMENT, None, id="a-municipal-government"),
    pytest.param(OrgKind.CITY_BUREAU, OrgKind.MUNICIPAL_GOVERNMENT, id="a-department-of-a-municipal-government"),
])
def test_shr3_municipal_governments_do_not_apply_directly(kind: OrgKind, parent: OrgKind | None) -> None:
    with refused("SHR-3") as info:
        submit(requester_kind=kind, requester_parent_kind=parent)
    assert "municipal government" in info.value.detail


@pytest.mark.parametrize("kind", [OrgKind.SERVICE_UNIT, OrgKind.OFFICE])
def test_shr3_kinds_not_named_by_article_23_do_not_apply(kind: OrgKind) -> None:
    with refused("SHR-3"):
        submit(requester_kind=kind)


@pytest.mark.parametrize("kind", [OrgKind.AFFILIATED_UNIT, OrgKind.CITY_BUREAU, OrgKind.COUNTY_BUREAU,
                                  OrgKind.PROVINCIAL_DEPARTMENT])
def test_shr3_the_named_requesters_apply(kind: OrgKind) -> None:
    scenario = Scenario.EXTERNAL_SHARING if kind == OrgKind.PROVINCIAL_DEPARTMENT else Scenario.INTERNAL_SHARING
    then(submit(requester_kind=kind, scenario=scenario), event(ShareRequest.Submitted, requester_kind=kind))


@pytest.mark.parametrize("who", [
    pytest.param(actor("xa-requester", "xa-bureau", Role.REQUESTER), id="requester-of-another-org"),
    pytest.param(COMPILER, id="member-without-requester-role"),
    pytest.param(actor("welfare-compiler", HOLDER, Role.CATALOG_COMPILER), id="requester-org-without-role"),
])
def test_shr3_only_a_designated_requester_of_the_org_submits(who: Any) -> None:
    with refused("SHR-3"):
        submit(by=who)


# -- SHR-4: not-shareable and unpublished entries are never granted -----------------------------------

def test_shr4_a_not_shareable_entry_is_refused_naming_it_and_its_fields() -> None:
    with refused("SHR-4") as info:
        submit(entries=(asked(OPEN), asked(CLOSED, "N_ID")))
    assert "SX-MZ-CLOSED" in info.value.detail and "N_ID" in info.value.detail
    assert info.value.context["fields"] == ["N_ID"]


@pytest.mark.parametrize("entry", [pytest.param(DRAFT, id="unpublished"), pytest.param(GONE, id="retired")])
def test_shr4_an_entry_not_in_the_published_catalog_is_refused(entry: Any) -> None:
    with refused("SHR-4") as info:
        submit(entries=(asked(entry),))
    assert entry.resource_code in info.value.detail


def test_shr4_an_unknown_entry_is_refused() -> None:
    with refused("SHR-4"):
        submit(catalog={OPEN.entry_id: OPEN}, entries=(asked(LIMITED),))


# -- SHR-5: fields exist, narrowing only, never more than approved --------------------------------------

def test_shr5_a_field_the_entry_does_not_have_is_refused_naming_it() -> None:
    with refused("SHR-5") as info:
        submit(entries=(asked(OPEN, "DB_ID", "ID_CARD", "PHONE"),))
    assert info.value.context["fields"] == ["ID_CARD", "PHONE"] and "SX-MZ-OPEN" in info.value.detail


def test_shr5_an_approval_may_not_widen_an_entry() -> None:
    r = request(submitted(entries=(asked(OPEN, "DB_ID"),)))
    with refused("SHR-5", r) as info:
        r.review(ctx(OFFICE_ADMIN), decision="approve", fields={OPEN.entry_id: ("DB_ID", "DB_NAME")})
    assert info.value.context["fields"] == ["DB_NAME"]


def test_shr5_an_approval_may_not_add_an_entry() -> None:
    r = request(submitted(entries=(asked(OPEN, "DB_ID"),)))
    with refused("SHR-5", r):
        r.review(ctx(OFFICE_ADMIN), decision="approve", fields={LIMITED.entry_id: ("R_ID",)})


# -- request validity beyond the rules ---------------------------------------------------------------

def test_a_delivery_method_the_entry_does_not_offer_is_invalid() -> None:
    with invalid() as info:
        submit(entries=(asked(LIMITED),), delivery_method=QUERY)
    assert "SX-MZ-LTD" in info.value.detail


def test_an_unknown_delivery_method_is_invalid() -> None:
    with invalid():
        submit(delivery_method="carrier_pigeon")


def test_a_period_ending_before_it_starts_is_invalid() -> None:
    with invalid():
        submit(valid_from=FROM, valid_to=FROM.replace(month=2))


def test_an_entry_asked_twice_is_invalid() -> None:
    with invalid():
        submit(entries=(asked(OPEN, "DB_ID"), asked(OPEN, "DB_NAME")))


# -- SHR-6: only the Office reviews ------------------------------------------------------

@pytest.mark.parametrize("who", [
    pytest.param(OTHER_REVIEWER, id="a-division-reviewer"),
    pytest.param(OFFICE_CATALOG_REVIEWER, id="an-office-member-without-office-admin"),
    pytest.param(actor("impostor", "div-welfare", Role.OFFICE_ADMIN), id="office-admin-role-outside-the-office"),
])
def test_shr6_review_by_anyone_but_the_office_is_refused(who: Any) -> None:
    r = request(submitted())
    with refused("SHR-6", r):
        r.review(ctx(who), decision="approve")




# -- the period lies in the ledger's calendar ---------------------------------------------------

@pytest.mark.parametrize(("field", "value"), [("valid_from", "0001-01-01"), ("valid_to", "9999-12-31")])
def test_a_period_outside_the_ledgers_calendar_is_refused_naming_the_field(field: str, value: str) -> None:
    with pytest.raises(OutOfRange) as refusal:
        submit(**{field: date.fromisoformat(value)})
    assert refusal.value.field == field
