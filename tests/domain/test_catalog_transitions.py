"""Catalog entry transitions outside the rules, and the one-datum-one-source index, as given / when / then."""

from __future__ import annotations

from typing import Any

import pytest

from domain.catalog import CatalogEntry, SourceIndex
from domain.catalog_values import DataItem
from tests.domain.cast import CODE, COMPILER, OFFICE_ADMIN, REVIEWER, T0
from tests.domain.given import ctx, event, given, invalid, past, refused, then
from tests.domain.given_catalog import (
    APPROVE,
    NONE_ELSEWHERE,
    RETURN,
    approved,
    drafted,
    entry,
    live,
    publish,
    retired,
    reviewed,
    revision_started,
    submitted,
)
from tests.support import PASS, content, fail, items

UNJUSTIFIED = DataItem(code="ID_CARD", name="身份证号", type="string")


# -- invalid transitions (not rules of the Measures) ------------------------------------------

def test_submitting_twice_is_an_invalid_transition() -> None:
    e = entry(drafted(), submitted())
    with invalid(e):
        e.submit(ctx(COMPILER), existing_sources=NONE_ELSEWHERE)


def test_reviewing_a_drafted_version_is_an_invalid_transition() -> None:
    e = entry(drafted())
    with invalid(e):
        e.review(ctx(REVIEWER), review=PASS, decision=APPROVE)


def test_revising_while_a_version_is_pending_is_an_invalid_transition() -> None:
    e = entry(*live(), revision_started())
    with invalid(e):
        e.revise(ctx(COMPILER), content=content(summary="又一版"))


def test_a_returned_version_is_revised_and_submitted_again() -> None:
    e = entry(drafted(), submitted(), reviewed(review=fail("accuracy"), decision=RETURN))
    e.revise_draft(ctx(COMPILER), content=content(summary="已更正"))
    e.submit(ctx(COMPILER), existing_sources=NONE_ELSEWHERE)
    then(e, event(CatalogEntry.DraftRevised, version=1), event(CatalogEntry.Submitted, version=1))


ON_RETIRED = {
    "submit": lambda e: e.submit(ctx(COMPILER), existing_sources=NONE_ELSEWHERE),
    "revise_draft": lambda e: e.revise_draft(ctx(COMPILER), content=content()),
    "review": lambda e: e.review(ctx(REVIEWER), review=PASS, decision=APPROVE),
    "accept": lambda e: e.accept_duplicate_source(ctx(OFFICE_ADMIN), item_code="DB_ID", existing_source="X"),
    "publish": lambda e: publish(e),
    "refresh": lambda e: e.record_refresh(ctx(COMPILER), as_of=T0),
    "retire": lambda e: e.retire(ctx(OFFICE_ADMIN), reason="再次注销"),
}


@pytest.mark.parametrize("action", ON_RETIRED.values(), ids=ON_RETIRED.keys())
def test_actions_on_a_retired_entry_are_invalid_transitions(action: Any) -> None:
    e = entry(*approved(), retired())
    with invalid(e):
        action(e)


# -- the source index: which published entries provide each data item -------------------------

def index(*history: Any) -> SourceIndex:
    opened = past(SourceIndex.Opened, OFFICE_ADMIN)
    return given(SourceIndex, opened, *history)


def claimed(code: str, *item_codes: str) -> Any:
    return past(SourceIndex.SourcesClaimed, OFFICE_ADMIN, resource_code=code, codes=item_codes)


def test_publishing_claims_the_entry_items() -> None:
    idx, e = index(), entry(*live(content(data_items=items("ID_CARD", "NAME"))))
    idx.claim(ctx(OFFICE_ADMIN), e)
    then(idx, event(SourceIndex.SourcesClaimed, resource_code=CODE, codes=("ID_CARD", "NAME")))
    assert idx.providers == {"ID_CARD": [CODE], "NAME": [CODE]}


def test_a_new_claim_replaces_the_entry_earlier_one() -> None:
    idx = index(claimed(CODE, "ID_CARD", "OLD"), claimed(CODE, "ID_CARD", "NEW"))
    assert idx.providers == {"ID_CARD": [CODE], "NEW": [CODE]}


def test_retiring_releases_the_entry_items() -> None:
    idx = index(claimed(CODE, "ID_CARD", "NAME"), claimed("SX-OTHER-1", "ID_CARD"))
    idx.release(ctx(OFFICE_ADMIN), entry(*live(), retired()))
    then(idx, event(SourceIndex.SourcesReleased, resource_code=CODE))
    assert idx.providers == {"ID_CARD": ["SX-OTHER-1"]}


def test_releasing_an_entry_that_claimed_nothing_records_nothing() -> None:
    idx = index(claimed("SX-OTHER-1", "ID_CARD"))
    idx.release(ctx(OFFICE_ADMIN), entry(drafted(), retired()))
    then(idx)


def test_sources_other_than_names_the_other_providers() -> None:
    idx = index(claimed("SX-A", "ID_CARD", "NAME"), claimed("SX-B", "ID_CARD", "AREA"))
    assert idx.sources_other_than("SX-B") == {"ID_CARD": "SX-A", "NAME": "SX-A"}
    assert idx.sources_other_than("SX-A") == {"ID_CARD": "SX-B", "AREA": "SX-B"}
    assert idx.sources_other_than("SX-C") == {"ID_CARD": "SX-A", "NAME": "SX-A", "AREA": "SX-B"}


def test_the_index_feeds_the_cat5_check_at_submit() -> None:
    idx = index(claimed("SX-OTHER-1", "ID_CARD"))
    e = entry(drafted(content(data_items=(*items("DB_NAME"), UNJUSTIFIED))))
    with refused("CAT-5", e):
        e.submit(ctx(COMPILER), existing_sources=idx.sources_other_than(CODE))
