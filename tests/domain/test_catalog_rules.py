"""CAT-1 … CAT-6 and the one-datum-one-source index, as given / when / then on the domain alone."""

from __future__ import annotations

from typing import Any

import pytest

from domain.catalog import CatalogEntry, entry_id
from domain.catalog_values import DataItem, ShareClass, VersionState
from domain.organizations import Level
from tests.domain.cast import (
    CITY,
    CITY_COMPILER,
    CITY_REVIEWER,
    CODE,
    COMPILER,
    DIV,
    OFFICE_ADMIN,
    OFFICE_REVIEWER,
    OTHER_COMPILER,
    OTHER_REVIEWER,
    REVIEWER,
    T0,
    TODAY,
    actor,
)
from tests.domain.given import ctx, event, invalid, past, refused, then
from tests.domain.given_catalog import (
    APPROVE,
    NONE_ELSEWHERE,
    RETURN,
    accepted,
    approved,
    drafted,
    entry,
    live,
    publish,
    published,
    retired,
    reviewed,
    revision_started,
    submitted,
)
from tests.support import PASS, content, fail, items

# -- the happy path ---------------------------------------------------------------------------

def test_compiler_drafts_an_entry_of_its_provider() -> None:
    e = CatalogEntry.draft(ctx(COMPILER), resource_code=CODE, provider=DIV, provider_level=Level.PROVINCE,
                           content=content())
    then(e, event(CatalogEntry.Drafted, by=COMPILER, resource_code=CODE, provider=DIV, content=content()))
    assert e.id == entry_id(CODE) and e.status == "drafted" and e.pending.compiler == COMPILER.person


def test_submit_review_publish_records_one_event_each() -> None:
    e = entry(drafted())
    e.submit(ctx(COMPILER), existing_sources=NONE_ELSEWHERE)
    e.review(ctx(REVIEWER), review=PASS, decision=APPROVE)
    publish(e)
    then(e, event(CatalogEntry.Submitted, by=COMPILER, version=1),
         event(CatalogEntry.Reviewed, by=REVIEWER, version=1, review=PASS, decision=APPROVE),
         event(CatalogEntry.Published, by=OFFICE_ADMIN, version=1, published_on=TODAY, content=content()))
    assert e.status == "published" and e.current.reviewer == REVIEWER.person


# -- CAT-1: published only after a review that passed all three checks ------------------------

@pytest.mark.parametrize("check", ["accuracy", "completeness", "compliance"])
def test_cat1_approving_with_a_failed_check_is_refused(check: str) -> None:
    e = entry(drafted(), submitted())
    with refused("CAT-1", e) as info:
        e.review(ctx(REVIEWER), review=fail(check), decision=APPROVE)
    assert info.value.context == {"failed": [check]}


def test_cat1_returning_with_failed_checks_is_recorded() -> None:
    e = entry(drafted(), submitted())
    e.review(ctx(REVIEWER), review=fail("accuracy", "compliance"), decision=RETURN)
    then(e, event(CatalogEntry.Reviewed, decision=RETURN, review=fail("accuracy", "compliance")))
    assert e.status == "returned"


@pytest.mark.parametrize("history", [
    pytest.param((drafted(),), id="drafted"),
    pytest.param((drafted(), submitted()), id="submitted"),
], )
def test_cat1_publishing_without_approval_is_refused(history: tuple[Any, ...]) -> None:
    e = entry(*history)
    with refused("CAT-1", e):
        publish(e)


@pytest.mark.parametrize(("review", "decision"), [
    pytest.param(fail("completeness"), RETURN, id="returned"),
    pytest.param(PASS, RETURN, id="returned-with-all-checks-passed"),
    pytest.param(fail("compliance"), APPROVE, id="approval-on-record-with-a-failed-check"),
])
def test_cat1_a_version_not_approved_with_every_check_passed_is_not_published(review: Any, decision: Any) -> None:
    e = entry(drafted(), submitted(), reviewed(review=review, decision=decision))
    with refused("CAT-1", e):
        publish(e)


def test_cat1_publishing_with_nothing_pending_is_refused() -> None:
    e = entry(*live())
    with refused("CAT-1", e):
        publish(e)


# -- CAT-2: designated compiler and reviewer of the provider, never the same person ------------

@pytest.mark.parametrize("who", [
    pytest.param(OTHER_COMPILER, id="compiler-of-another-org"),
    pytest.param(REVIEWER, id="reviewer-of-the-provider"),
])
def test_cat2_drafting_by_anyone_but_a_compiler_of_the_provider_is_refused(who: Any) -> None:
    with refused("CAT-2"):
        CatalogEntry.draft(ctx(who), resource_code=CODE, provider=DIV, provider_level=Level.PROVINCE,
                           content=content())


def test_cat2_a_service_unit_compiles_on_behalf_of_the_provider() -> None:
    unit = actor("svc-compiler", "svc-digital", COMPILER.role, on_behalf_of=DIV)
    e = CatalogEntry.draft(ctx(unit), resource_code=CODE, provider=DIV, provider_level=Level.PROVINCE,
                           content=content())
    then(e, event(CatalogEntry.Drafted, by=unit, provider=DIV))


def test_cat2_revising_a_draft_of_another_org_is_refused() -> None:
    e = entry(drafted())
    with refused("CAT-2", e):
        e.revise_draft(ctx(OTHER_COMPILER), content=content(summary="改"))


def test_cat2_submitting_by_a_non_compiler_is_refused() -> None:
    e = entry(drafted())
    with refused("CAT-2", e):
        e.submit(ctx(REVIEWER), existing_sources=NONE_ELSEWHERE)


def test_cat2_reviewer_who_compiled_the_version_is_refused() -> None:
    e = entry(drafted(), submitted())
    self_review = actor(COMPILER.person, DIV, REVIEWER.role)
    with refused("CAT-2", e):
        e.review(ctx(self_review), review=PASS, decision=APPROVE)


def test_cat2_reviewer_who_compiled_a_revision_is_refused() -> None:
    other_compiler = actor("div-compiler-2", DIV, COMPILER.role)
    e = entry(*live(), revision_started(by=other_compiler), submitted(2, by=other_compiler))
    with refused("CAT-2", e):
        e.review(ctx(actor("div-compiler-2", DIV, REVIEWER.role)), review=PASS, decision=APPROVE)


SECOND_COMPILER = actor("div-compiler-2", DIV, COMPILER.role)
SECOND_AS_REVIEWER = actor(SECOND_COMPILER.person, DIV, REVIEWER.role)


def test_cat2_reviewer_who_revised_the_draft_is_refused() -> None:
    e = entry(drafted(), past(CatalogEntry.DraftRevised, SECOND_COMPILER, version=1, content=content(summary="改")),
              submitted())
    with refused("CAT-2", e):
        e.review(ctx(SECOND_AS_REVIEWER), review=PASS, decision=APPROVE)


def test_cat2_reviewer_who_revised_a_returned_revision_is_refused() -> None:
    e = entry(*live(), revision_started(), submitted(2), reviewed(2, review=fail("accuracy"), decision=RETURN),
              past(CatalogEntry.DraftRevised, SECOND_COMPILER, version=2, content=content(summary="改")),
              submitted(2))
    with refused("CAT-2", e):
        e.review(ctx(SECOND_AS_REVIEWER), review=PASS, decision=APPROVE)


def test_cat2_reviewer_who_submitted_the_version_is_refused() -> None:
    e = entry(drafted(), submitted(by=SECOND_COMPILER))
    with refused("CAT-2", e):
        e.review(ctx(SECOND_AS_REVIEWER), review=PASS, decision=APPROVE)


def test_cat2_a_compiler_of_an_earlier_version_reviews_the_next_one() -> None:
    e = entry(drafted(), past(CatalogEntry.DraftRevised, SECOND_COMPILER, version=1, content=content()),
              submitted(), reviewed(), published(), revision_started(), submitted(2))
    e.review(ctx(SECOND_AS_REVIEWER), review=PASS, decision=APPROVE)
    then(e, event(CatalogEntry.Reviewed, by=SECOND_AS_REVIEWER, version=2))
    assert e.pending.compilers == (COMPILER.person,)


def test_cat2_every_compiler_of_a_version_is_recorded_once() -> None:
    e = entry(drafted(), past(CatalogEntry.DraftRevised, SECOND_COMPILER, version=1, content=content()),
              past(CatalogEntry.DraftRevised, COMPILER, version=1, content=content()), submitted())
    assert e.pending.compiler == COMPILER.person
    assert e.pending.compilers == (COMPILER.person, SECOND_COMPILER.person)


@pytest.mark.parametrize("who", [
    pytest.param(OTHER_REVIEWER, id="reviewer-of-another-org"),
    pytest.param(actor("div-head", DIV, COMPILER.role), id="provider-member-without-reviewer-role"),
])
def test_cat2_review_by_someone_not_designated_is_refused(who: Any) -> None:
    e = entry(drafted(), submitted())
    with refused("CAT-2", e):
        e.review(ctx(who), review=PASS, decision=APPROVE)


def test_cat2_the_office_reviews_any_provider() -> None:
    e = entry(drafted(), submitted())
    e.review(ctx(OFFICE_ADMIN), review=PASS, decision=APPROVE)
    then(e, event(CatalogEntry.Reviewed, by=OFFICE_ADMIN, decision=APPROVE))


# -- "the Office" is its office_admin in every catalog check (decision 0018) ---------------------

def test_the_office_reviews_publishes_and_retires_another_providers_entry() -> None:
    e = entry(drafted(provider=CITY, level=Level.CITY, by=CITY_COMPILER), submitted(by=CITY_COMPILER))
    e.review(ctx(OFFICE_ADMIN), review=PASS, decision=APPROVE)
    publish(e, OFFICE_ADMIN)
    e.retire(ctx(OFFICE_ADMIN), reason="停止采集")
    then(e, event(CatalogEntry.Reviewed, by=OFFICE_ADMIN), event(CatalogEntry.Published, by=OFFICE_ADMIN),
         event(CatalogEntry.Retired, by=OFFICE_ADMIN))


@pytest.mark.parametrize("act", ["review", "publish", "retire", "record_refresh"])
def test_an_office_member_without_office_admin_is_not_the_office_for_another_providers_entry(act: str) -> None:
    """The Office's catalog reviewer once counted as the Office to review and publish a city entry, yet
    not to retire it; any member of the Office could record its data refresh. The Office is office_admin."""
    city = {"provider": CITY, "level": Level.CITY, "by": CITY_COMPILER}
    if act == "review":
        e = entry(drafted(**city), submitted(by=CITY_COMPILER))
        with refused("CAT-2", e):
            e.review(ctx(OFFICE_REVIEWER), review=PASS, decision=APPROVE)
    elif act == "publish":
        e = entry(*approved(**city))
        with refused("CAT-2", e):
            publish(e, OFFICE_REVIEWER)
    elif act == "retire":
        e = entry(*live(**city))
        with refused("CAT-2", e):
            e.retire(ctx(OFFICE_REVIEWER), reason="停止采集")
    else:
        e = entry(*live(**city))
        with refused("CAT-2", e):
            e.record_refresh(ctx(OFFICE_REVIEWER), as_of=T0)


def test_cat2_city_reviewer_publishes_a_city_entry() -> None:
    e = entry(*approved(provider=CITY, level=Level.CITY, by=CITY_COMPILER))
    publish(e, CITY_REVIEWER)
    then(e, event(CatalogEntry.Published, by=CITY_REVIEWER, version=1))


@pytest.mark.parametrize("who", [
    pytest.param(CITY_COMPILER, id="compiler-of-the-provider"),
    pytest.param(OTHER_REVIEWER, id="reviewer-of-another-org"),
])
def test_cat2_publishing_a_city_entry_by_a_non_reviewer_is_refused(who: Any) -> None:
    e = entry(*approved(provider=CITY, level=Level.CITY, by=CITY_COMPILER))
    with refused("CAT-2", e):
        publish(e, who)


def test_cat2_retiring_by_someone_not_designated_is_refused() -> None:
    e = entry(*live(provider=CITY, level=Level.CITY, by=CITY_COMPILER))
    with refused("CAT-2", e):
        e.retire(ctx(CITY_COMPILER), reason="停止采集")


def test_cat2_recording_a_data_refresh_for_another_provider_is_refused() -> None:
    e = entry(*live())
    with refused("CAT-2", e):
        e.record_refresh(ctx(OTHER_REVIEWER), as_of=T0)


# -- CAT-3: provincial entries are published by the Office ------------------------------------

def test_cat3_provincial_entry_published_by_a_division_reviewer_is_refused() -> None:
    e = entry(*approved())
    with refused("CAT-3", e):
        publish(e, REVIEWER)


def test_cat3_provincial_entry_published_by_the_office() -> None:
    e = entry(*approved())
    publish(e, OFFICE_ADMIN)
    then(e, event(CatalogEntry.Published, by=OFFICE_ADMIN))


def test_cat3_retiring_a_published_provincial_entry_by_a_non_office_actor_is_refused() -> None:
    e = entry(*live())
    with refused("CAT-3", e):
        e.retire(ctx(REVIEWER), reason="停止采集")


def test_cat3_the_office_retires_a_published_provincial_entry() -> None:
    e = entry(*live())
    e.retire(ctx(OFFICE_ADMIN), reason="停止采集")
    then(e, event(CatalogEntry.Retired, by=OFFICE_ADMIN, reason="停止采集"))
    assert e.status == "retired"


def test_cat3_provider_reviewer_retires_an_unpublished_provincial_draft() -> None:
    e = entry(drafted())
    e.retire(ctx(REVIEWER), reason="重复编目")
    then(e, event(CatalogEntry.Retired, by=REVIEWER))


# -- CAT-4: restricted needs share conditions; not_shareable needs a legal basis --------------

RESTRICTED_BARE = content(share_class=ShareClass.RESTRICTED, share_conditions="  ")
NOT_SHAREABLE_BARE = content(share_class=ShareClass.NOT_SHAREABLE, legal_basis=None)
BARE = [pytest.param(RESTRICTED_BARE, id="restricted-without-conditions"),
        pytest.param(NOT_SHAREABLE_BARE, id="not_shareable-without-legal-basis")]


@pytest.mark.parametrize("body", BARE)
def test_cat4_drafting_is_refused(body: Any) -> None:
    with refused("CAT-4"):
        CatalogEntry.draft(ctx(COMPILER), resource_code=CODE, provider=DIV, provider_level=Level.PROVINCE,
                           content=body)


@pytest.mark.parametrize("body", BARE)
def test_cat4_revising_a_draft_is_refused(body: Any) -> None:
    e = entry(drafted())
    with refused("CAT-4", e):
        e.revise_draft(ctx(COMPILER), content=body)


@pytest.mark.parametrize("body", BARE)
def test_cat4_revising_a_published_entry_is_refused(body: Any) -> None:
    e = entry(*live())
    with refused("CAT-4", e):
        e.revise(ctx(COMPILER), content=body)


def test_cat4_restricted_with_conditions_and_not_shareable_with_basis_are_drafted() -> None:
    restricted = content(share_class=ShareClass.RESTRICTED, share_conditions="仅用于低保审核")
    e = entry(drafted())
    e.revise_draft(ctx(COMPILER), content=restricted)
    closed = content(share_class=ShareClass.NOT_SHAREABLE, legal_basis="《中华人民共和国个人信息保护法》")
    e.revise_draft(ctx(COMPILER), content=closed)
    then(e, event(CatalogEntry.DraftRevised, content=restricted), event(CatalogEntry.DraftRevised, content=closed))


# -- CAT-5: one datum, one source -------------------------------------------------------------

ELSEWHERE = {"ID_CARD": "SX-OTHER-1"}
JUSTIFIED = DataItem(code="ID_CARD", name="身份证号", type="string", duplicate_justification="核验需要本地副本")
UNJUSTIFIED = DataItem(code="ID_CARD", name="身份证号", type="string")
WITH_JUSTIFIED = content(data_items=(*items("DB_NAME"), JUSTIFIED))
WITH_UNJUSTIFIED = content(data_items=(*items("DB_NAME"), UNJUSTIFIED))


def test_cat5_submitting_an_item_another_entry_provides_without_justification_is_refused() -> None:
    e = entry(drafted(WITH_UNJUSTIFIED))
    with refused("CAT-5", e) as info:
        e.submit(ctx(COMPILER), existing_sources=ELSEWHERE)
    assert info.value.context == {"item_code": "ID_CARD", "existing_source": "SX-OTHER-1"}


def test_cat5_submitting_with_a_justification_is_recorded() -> None:
    e = entry(drafted(WITH_JUSTIFIED))
    e.submit(ctx(COMPILER), existing_sources=ELSEWHERE)
    then(e, event(CatalogEntry.Submitted, version=1))


def test_cat5_publishing_without_office_acceptance_is_refused() -> None:
    e = entry(*approved(WITH_JUSTIFIED))
    with refused("CAT-5", e):
        publish(e, OFFICE_ADMIN, ELSEWHERE)


@pytest.mark.parametrize("who", [
    pytest.param(REVIEWER, id="provider-reviewer"),
    pytest.param(OFFICE_REVIEWER, id="office-member-without-office_admin"),
])
def test_cat5_acceptance_by_a_non_office_actor_is_refused(who: Any) -> None:
    e = entry(drafted(WITH_JUSTIFIED), submitted())
    with refused("CAT-5", e):
        e.accept_duplicate_source(ctx(who), item_code="ID_CARD", existing_source="SX-OTHER-1")


def test_cat5_acceptance_of_an_item_without_justification_is_refused() -> None:
    e = entry(drafted(WITH_UNJUSTIFIED), submitted())
    with refused("CAT-5", e):
        e.accept_duplicate_source(ctx(OFFICE_ADMIN), item_code="ID_CARD", existing_source="SX-OTHER-1")


def test_cat5_acceptance_of_an_item_the_version_lacks_is_an_invalid_transition() -> None:
    e = entry(drafted(WITH_JUSTIFIED), submitted())
    with invalid(e):
        e.accept_duplicate_source(ctx(OFFICE_ADMIN), item_code="NO_SUCH", existing_source="SX-OTHER-1")


def test_cat5_with_office_acceptance_the_entry_publishes() -> None:
    e = entry(*approved(WITH_JUSTIFIED))
    e.accept_duplicate_source(ctx(OFFICE_ADMIN), item_code="ID_CARD", existing_source="SX-OTHER-1")
    publish(e, OFFICE_ADMIN, ELSEWHERE)
    then(e, event(CatalogEntry.DuplicateSourceAccepted, by=OFFICE_ADMIN, item_code="ID_CARD",
                  existing_source="SX-OTHER-1"),
         event(CatalogEntry.Published, version=1, content=WITH_JUSTIFIED))


def test_cat5_revising_the_draft_drops_earlier_acceptances() -> None:
    e = entry(drafted(WITH_JUSTIFIED), submitted(), accepted("ID_CARD", "SX-OTHER-1"),
              reviewed(review=fail("accuracy"), decision=RETURN),
              past(CatalogEntry.DraftRevised, COMPILER, version=1, content=WITH_JUSTIFIED),
              submitted(), reviewed())
    with refused("CAT-5", e):
        publish(e, OFFICE_ADMIN, ELSEWHERE)


# -- CAT-6: a published entry is revised into a new version that is reviewed again ------------

def test_cat6_revising_a_draft_only_entry_is_refused() -> None:
    e = entry(drafted(), submitted())
    with refused("CAT-6", e):
        e.revise(ctx(COMPILER), content=content(summary="新版"))


def test_cat6_revising_a_retired_entry_is_refused() -> None:
    e = entry(*live(), retired())
    with refused("CAT-6", e):
        e.revise(ctx(COMPILER), content=content(summary="新版"))


@pytest.mark.parametrize("who", [
    pytest.param(REVIEWER, id="reviewer-of-the-provider"),
    pytest.param(OTHER_COMPILER, id="compiler-of-another-org"),
    pytest.param(OFFICE_ADMIN, id="office-admin"),
])
def test_cat2_revising_a_published_entry_by_anyone_but_a_compiler_of_the_provider_is_refused(who: Any) -> None:
    e = entry(*live())
    with refused("CAT-2", e) as info:
        e.revise(ctx(who), content=content(summary="新版"))
    assert info.value.context == {"provider": DIV}
    assert e.pending is None and e.status == "published"


def test_cat6_revision_keeps_the_published_version_current_until_the_new_one_publishes() -> None:
    v2 = content(summary="增加区县字段", data_items=items("DB_ID", "DB_NAME", "DB_AREA", "DB_COUNTY"))
    e = entry(*live())
    e.revise(ctx(COMPILER), content=v2)
    then(e, event(CatalogEntry.RevisionStarted, by=COMPILER, version=2, content=v2))
    assert (e.status, e.current.number, e.current.content, e.pending.number) == ("revising", 1, content(), 2)

    with refused("CAT-1", e):
        publish(e)
    e.submit(ctx(COMPILER), existing_sources=NONE_ELSEWHERE)
    assert e.current.number == 1 and e.current.state == VersionState.PUBLISHED
    e.review(ctx(REVIEWER), review=PASS, decision=APPROVE)
    publish(e)
    then(e, event(CatalogEntry.Submitted, version=2), event(CatalogEntry.Reviewed, version=2),
         event(CatalogEntry.Published, version=2, content=v2))
    assert (e.status, e.current.number, e.current.content, e.pending) == ("published", 2, v2, None)
    assert [(v.number, v.state) for v in e.history] == [(1, VersionState.SUPERSEDED)]


def test_cat6_version_numbers_increment_with_each_revision() -> None:
    e = entry(*live(), revision_started(2), submitted(2), reviewed(2), published(2))
    e.revise(ctx(COMPILER), content=content(summary="第三版"))
    then(e, event(CatalogEntry.RevisionStarted, version=3))
