"""SHR-4 … SHR-8 on implementation orders and the grants they create, as given / when / then."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import NAMESPACE_URL, uuid5

import msgspec
import pytest

from domain.catalog_values import ShareClass
from domain.grant_status import GrantState
from domain.grants import Grant
from domain.sharing import ImplementationOrder, ShareRequest
from domain.sharing_values import (
    GrantKind,
    GrantStatus,
    RequestStatus,
    ReusedGrant,
    Scenario,
    UsePlan,
    grant_id,
)
from domain.timeline import KINDS, rules_of
from tests.domain.cast import OFFICE_ADMIN, OTHER_REVIEWER, T0
from tests.domain.given import ctx, event, invalid, refused, then
from tests.domain.given_sharing import (
    CATALOG,
    DEPT,
    HOLDER,
    LIMITED,
    OPEN,
    ORDER_ID,
    PLAN,
    PURPOSE,
    QUERY,
    REQUEST_ID,
    REQUESTER,
    VALID_FROM,
    VALID_TO,
    approved_request,
    asked,
    request,
    spec,
    submitted,
)

NO_PLANS: dict[Any, UsePlan] = {}


def issue(req: ShareRequest, *, by: Any = OFFICE_ADMIN, catalog: Any = CATALOG, plans: Any = NO_PLANS,
          existing: tuple[GrantState, ...] = ()) -> ImplementationOrder:
    return ImplementationOrder.issue(ctx(by), request=req, catalog=catalog, plans=plans, existing_reusable=existing,
                                     id=ORDER_ID)


def existing_state(**overrides: Any) -> GrantState:
    """An active reusable grant of the holder from an earlier order, for OPEN by interface."""
    earlier = uuid5(NAMESPACE_URL, "test:earlier-order")
    s = spec(OPEN, order_id=earlier)
    base = GrantState(
        grant_id=s.grant_id, holder=HOLDER, entry_id=OPEN.entry_id, fields=frozenset(OPEN.item_codes), purpose=PURPOSE,
        method=s.method, valid_from=VALID_FROM, valid_to=VALID_TO, kind=GrantKind.REUSABLE,
        status=GrantStatus.ACTIVE, status_since=T0,
    )
    return msgspec.structs.replace(base, **overrides)


# -- SHR-4 and SHR-5 again when the order is issued: the catalog may have changed -------------------

def test_shr4_an_entry_reclassified_not_shareable_after_approval_is_not_implemented() -> None:
    r = approved_request(asked(OPEN))
    reclassified = {OPEN.entry_id: msgspec.structs.replace(OPEN, share_class=ShareClass.NOT_SHAREABLE)}
    with refused("SHR-4"):
        issue(r, catalog=reclassified)


def test_shr4_an_entry_retired_after_approval_is_not_implemented() -> None:
    r = approved_request(asked(OPEN))
    with refused("SHR-4"):
        issue(r, catalog={OPEN.entry_id: msgspec.structs.replace(OPEN, retired=True)})


def test_shr5_a_field_dropped_from_the_entry_after_approval_is_not_implemented() -> None:
    r = approved_request(asked(OPEN, "DB_ID", "DB_AREA"))
    revised = {OPEN.entry_id: msgspec.structs.replace(OPEN, item_codes=("DB_ID", "DB_NAME"))}
    with refused("SHR-5"):
        issue(r, catalog=revised)


def test_shr5_a_grant_holds_no_field_beyond_those_approved() -> None:
    wide = spec(OPEN, fields=("DB_ID", "DB_NAME"), approved_fields=("DB_ID",))
    with refused("SHR-5"):
        Grant.create(ctx(OFFICE_ADMIN), spec=wide, id=wide.grant_id)


def test_shr5_the_order_grants_exactly_the_approved_fields() -> None:
    r = request(submitted(entries=(asked(OPEN),)))
    r.review(ctx(OFFICE_ADMIN), decision="approve", fields={OPEN.entry_id: ("DB_AREA",)})
    order = issue(r)
    assert [g.fields for g in order.new_grants] == [("DB_AREA",)]


# -- SHR-6: only the Office issues orders and grants; a request is implemented once ---------------

def test_shr6_an_order_issued_by_anyone_but_the_office_is_refused() -> None:
    with refused("SHR-6"):
        issue(approved_request(), by=OTHER_REVIEWER)


def test_shr6_a_grant_created_by_anyone_but_the_office_is_refused() -> None:
    s = spec()
    with refused("SHR-6"):
        Grant.create(ctx(OTHER_REVIEWER), spec=s, id=s.grant_id)


def test_shr6_recording_the_order_on_the_request_is_the_office_s() -> None:
    r = approved_request()
    with refused("SHR-6", r):
        r.record_order(ctx(REQUESTER), order_id=ORDER_ID)


def test_an_order_needs_an_approved_request() -> None:
    with invalid():
        issue(request(submitted()))


def test_a_request_not_approved_gets_no_order_recorded() -> None:
    r = request(submitted())
    with invalid(r):
        r.record_order(ctx(OFFICE_ADMIN), order_id=ORDER_ID)


def test_a_delivery_method_withdrawn_after_approval_is_not_implemented() -> None:
    r = approved_request(asked(OPEN))
    with invalid():
        issue(r, catalog={OPEN.entry_id: msgspec.structs.replace(OPEN, delivery_methods=(QUERY,))})


def test_a_request_whose_period_has_ended_is_not_implemented() -> None:
    r = approved_request()
    with invalid():
        ImplementationOrder.issue(ctx(OFFICE_ADMIN, VALID_TO + timedelta(seconds=1)), request=r, catalog=CATALOG,
                                  plans=NO_PLANS, id=ORDER_ID)


def test_a_request_is_implemented_once() -> None:
    r = approved_request()
    issue(r)
    r.record_order(ctx(OFFICE_ADMIN), order_id=ORDER_ID)
    then(r, event(ShareRequest.OrderIssued, order_id=ORDER_ID))
    assert r.status == RequestStatus.IMPLEMENTED
    with invalid():
        issue(r)


# -- SHR-7: reusable for unconditional data, single use per implementation for restricted ------------------

def test_shr7_restricted_data_gets_a_single_use_grant_per_order() -> None:
    order = issue(approved_request(asked(LIMITED)))
    then(order, event(ImplementationOrder.Issued, by=OFFICE_ADMIN, request_id=REQUEST_ID, holder=HOLDER,
                      reused=()))
    (g,) = order.new_grants
    assert g.kind == GrantKind.SINGLE_USE and g.grant_id == grant_id(ORDER_ID, LIMITED.entry_id)
    assert (g.valid_from, g.valid_to) == (VALID_FROM, VALID_TO) and g.method == "interface"


def test_shr7_restricted_data_is_implemented_again_even_when_a_grant_exists() -> None:
    earlier = existing_state(entry_id=LIMITED.entry_id, fields=frozenset(LIMITED.item_codes),
                             kind=GrantKind.SINGLE_USE)
    order = issue(approved_request(asked(LIMITED)), existing=(earlier,))
    assert [g.kind for g in order.new_grants] == [GrantKind.SINGLE_USE] and order.reused == ()


def test_shr7_unconditional_data_gets_a_reusable_grant() -> None:
    order = issue(approved_request(asked(OPEN)))
    assert [(g.kind, g.fields) for g in order.new_grants] == [(GrantKind.REUSABLE, OPEN.item_codes)]


def test_shr7_an_existing_reusable_grant_that_covers_the_approval_is_reused() -> None:
    earlier = existing_state()
    order = issue(approved_request(asked(OPEN, "DB_ID")), existing=(earlier,))
    then(order, event(ImplementationOrder.Issued, new_grants=(),
                      reused=(ReusedGrant(entry_id=OPEN.entry_id, grant_id=earlier.grant_id, fields=("DB_ID",)),)))


@pytest.mark.parametrize("overrides", [
    pytest.param({"fields": frozenset({"DB_ID"})}, id="narrower-fields"),
    pytest.param({"purpose": "其他用途"}, id="other-purpose"),
    pytest.param({"method": QUERY}, id="other-method"),
    pytest.param({"holder": "xa-bureau"}, id="other-holder"),
    pytest.param({"status": GrantStatus.SUSPENDED}, id="suspended"),
    pytest.param({"status": GrantStatus.REVOKED}, id="revoked"),
    pytest.param({"valid_to": T0}, id="expired-by-date"),
    pytest.param({"valid_to": VALID_TO.replace(month=6, day=30)}, id="ends-before-the-approved-period"),
    pytest.param({"valid_from": VALID_FROM.replace(month=4)}, id="starts-after-the-approved-period"),
    pytest.param({"kind": GrantKind.SINGLE_USE}, id="a-single-use-grant"),
    pytest.param({"entry_id": LIMITED.entry_id}, id="another-entry"),
])
def test_shr7_a_grant_that_does_not_cover_the_approval_is_not_reused(overrides: dict[str, Any]) -> None:
    order = issue(approved_request(asked(OPEN, "DB_ID", "DB_NAME")), existing=(existing_state(**overrides),))
    assert order.reused == ()
    assert [(g.kind, g.fields) for g in order.new_grants] == [(GrantKind.REUSABLE, ("DB_ID", "DB_NAME"))]


def test_shr7_a_mixed_order_reuses_one_entry_and_grants_the_others() -> None:
    order = issue(approved_request(asked(OPEN), asked(LIMITED)), existing=(existing_state(),))
    assert [r.entry_id for r in order.reused] == [OPEN.entry_id]
    assert [(g.entry_id, g.kind) for g in order.new_grants] == [(LIMITED.entry_id, GrantKind.SINGLE_USE)]


def test_shr7_grants_are_created_as_the_order_decided() -> None:
    order = issue(approved_request(asked(OPEN), asked(LIMITED)))
    grants = [Grant.create(ctx(OFFICE_ADMIN), spec=s, id=s.grant_id, decided=order.new_grants) for s in order.new_grants]
    for g, s in zip(grants, order.new_grants, strict=True):
        then(g, event(Grant.Granted, by=OFFICE_ADMIN, spec=s))
        assert g.status == GrantStatus.ACTIVE and GrantState.from_grant(g).kind == s.kind


@pytest.mark.parametrize("broken", [
    pytest.param(lambda s: (s, ORDER_ID), id="under-another-id"),
    pytest.param(lambda s: (msgspec.structs.replace(s, fields=(), approved_fields=()), s.grant_id), id="no-fields"),
    pytest.param(lambda s: (msgspec.structs.replace(s, valid_to=s.valid_from - timedelta(seconds=1)), s.grant_id),
                 id="ends-before-it-starts"),
    pytest.param(lambda s: (msgspec.structs.replace(s, valid_from=s.valid_from.replace(tzinfo=None)), s.grant_id),
                 id="naive-validity"),
])
def test_a_malformed_grant_is_not_created(broken: Any) -> None:
    s, ident = broken(spec())
    with invalid():
        Grant.create(ctx(OFFICE_ADMIN), spec=s, id=ident)


def test_a_grant_the_order_did_not_decide_is_not_created() -> None:
    order = issue(approved_request(asked(OPEN)))
    other = spec(LIMITED)
    with invalid():
        Grant.create(ctx(OFFICE_ADMIN), spec=other, id=other.grant_id, decided=order.new_grants)


# -- SHR-8: another department's data states its import, storage and use plan ---------------------------

def test_shr8_an_order_for_another_department_s_data_without_a_plan_is_refused() -> None:
    with refused("SHR-8") as info:
        issue(approved_request(asked(DEPT), scenario=Scenario.EXTERNAL_EXCHANGE))
    assert info.value.context["missing"] == ["import_plan", "storage_plan", "use_plan"]


@pytest.mark.parametrize("part", ["import_plan", "storage_plan", "use_plan"])
def test_shr8_a_plan_missing_one_part_is_refused_naming_it(part: str) -> None:
    plans = {DEPT.entry_id: msgspec.structs.replace(PLAN, **{part: " "})}
    with refused("SHR-8") as info:
        issue(approved_request(asked(DEPT)), plans=plans)
    assert info.value.context["missing"] == [part]


def test_shr8_the_plan_is_stated_in_the_order() -> None:
    order = issue(approved_request(asked(DEPT), asked(OPEN)), plans={DEPT.entry_id: PLAN})
    assert {g.entry_id: g.use_plan for g in order.new_grants} == {DEPT.entry_id: PLAN, OPEN.entry_id: None}


# -- rule context for auditors ------------------------------------------------------------------------

def test_every_sharing_event_names_its_rules() -> None:
    assert {"share-request", "implementation-order", "grant"} <= set(KINDS)
    for cls in (ShareRequest, ImplementationOrder, Grant):
        events = [v for v in vars(cls).values() if isinstance(v, type) and v.__name__ not in ("Created", "Event")
                  and hasattr(v, "TOPIC") and v.TOPIC.startswith(f"civic-ledger:{cls.__name__}.")]
        assert events and all(rules_of(e.__new__(e)) for e in events), cls.__name__

