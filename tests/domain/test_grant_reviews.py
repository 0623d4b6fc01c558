"""A revision's impact on live grants, and the Office's re-review of each, as given / when / then."""

from __future__ import annotations

from datetime import timedelta

import msgspec

from domain.catalog_values import DeliveryMethod, ShareClass
from domain.grant_reviews import GrantReview, ReviewOutcome, ReviewStatus, impact_of, review_id
from domain.grant_status import GrantState
from domain.sharing_values import GrantStatus
from tests.domain.cast import OFFICE_ADMIN, T0
from tests.domain.given import ctx, event, invalid, refused, then
from tests.domain.given_sharing import PROVIDER_REVIEWER, VALID_TO, grant, spec
from tests.support import content, items

BEFORE = content(data_items=items("DB_ID", "DB_NAME", "DB_AREA"))
NAMES = GrantState.from_grant(grant(spec(fields=("DB_NAME",))))
AREAS = GrantState.from_grant(grant(spec(fields=("DB_AREA",), holder="div-other")))


def revised(**over) -> object:  # noqa: ANN003
    return msgspec.structs.replace(BEFORE, **over)


def test_removing_a_field_affects_only_the_grants_holding_it() -> None:
    [hit] = impact_of(BEFORE, revised(data_items=items("DB_ID", "DB_NAME")), [NAMES, AREAS], T0)
    assert (hit.grant_id, hit.fields_removed, hit.how, hit.suspended) == (AREAS.grant_id, ("DB_AREA",),
                                                                          ("fields_removed",), False)


def test_tightening_the_share_class_affects_every_live_grant_loosening_none() -> None:
    tighter = impact_of(BEFORE, revised(share_class=ShareClass.RESTRICTED, share_conditions="仅限核对"),
                        [NAMES, AREAS], T0)
    assert [i.how for i in tighter] == [("reclassified",)] * 2
    restricted = revised(share_class=ShareClass.RESTRICTED, share_conditions="仅限核对")
    assert impact_of(restricted, BEFORE, [NAMES, AREAS], T0) == ()
    closed = impact_of(BEFORE, revised(share_class=ShareClass.NOT_SHAREABLE, legal_basis="法律规定"), [NAMES], T0)
    assert closed[0].suspended and closed[0].share_class_to == ShareClass.NOT_SHAREABLE


def test_withdrawing_the_grant_s_delivery_method_affects_it() -> None:
    [hit] = impact_of(BEFORE, revised(delivery_methods=(DeliveryMethod.ONLINE_QUERY,)), [NAMES], T0)
    assert hit.how == ("method_withdrawn",) and hit.method_withdrawn == "interface"
    assert impact_of(BEFORE, revised(delivery_methods=(DeliveryMethod.INTERFACE, DeliveryMethod.BATCH_DOWNLOAD)),
                     [NAMES], T0) == ()


def test_ended_grants_and_a_first_publication_are_not_affected() -> None:
    gone = msgspec.structs.replace(AREAS, status=GrantStatus.REVOKED)
    narrower = revised(data_items=items("DB_ID"))
    assert impact_of(BEFORE, narrower, [gone], T0) == ()
    assert impact_of(BEFORE, narrower, [AREAS], VALID_TO + timedelta(microseconds=1)) == ()  # expired by date
    assert impact_of(None, narrower, [AREAS], T0) == ()


def opened():  # noqa: ANN201
    [impact] = impact_of(BEFORE, revised(data_items=items("DB_ID", "DB_NAME")), [AREAS], T0)
    r = GrantReview.open(ctx(OFFICE_ADMIN), impact=impact, grant=AREAS, entry_id=AREAS.entry_id,
                         resource_code=AREAS.resource_code, entry_version=2)
    then(r, event(GrantReview.Opened, grant_id=AREAS.grant_id, entry_version=2, impact=impact))
    assert r.id == review_id(AREAS.grant_id, 2)
    return r


def test_the_office_closes_a_re_review_with_its_decision() -> None:
    r = opened()
    assert r.close(ctx(OFFICE_ADMIN, T0 + timedelta(days=1)), decision="keep", comment="持有方不再使用该字段") == "keep"
    then(r, event(GrantReview.Closed, by=OFFICE_ADMIN, decision=ReviewOutcome.KEEP, comment="持有方不再使用该字段"))
    assert r.status == ReviewStatus.CLOSED


def test_shr6_only_the_office_closes_a_re_review() -> None:
    r = opened()
    with refused("SHR-6", r):
        r.close(ctx(PROVIDER_REVIEWER), decision="keep", comment="x")


def test_a_closed_re_review_is_not_closed_again_and_a_decision_states_why() -> None:
    r = opened()
    with invalid(r):
        r.close(ctx(OFFICE_ADMIN), decision="keep", comment=" ")
    with invalid(r):
        r.close(ctx(OFFICE_ADMIN), decision="narrow", comment="x")
    r.close(ctx(OFFICE_ADMIN), decision="revoke", comment="字段停止提供")
    r.collect_events()
    with invalid(r):
        r.close(ctx(OFFICE_ADMIN), decision="keep", comment="再次")
