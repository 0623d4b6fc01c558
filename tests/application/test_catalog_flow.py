"""The catalog lifecycle through the application layer, on both stores."""

from __future__ import annotations

from uuid import UUID

import pytest

from application.common import IdempotencyMismatch, VersionConflict
from domain.catalog_values import ReviewDecision
from domain.rules import RuleViolation
from projections.catalog_queries import CatalogFilter
from projections.scope import EVERYTHING
from tests.support import PASS, Division, cmd, content, items, member


def publish_new(rt, admin, div, code="SX-MZ-001", **over) -> UUID:
    r = rt.catalog.draft(div.compiler, cmd(), resource_code=code, content=content(**over))
    eid = r.aggregate_id
    rt.catalog.submit(div.compiler, cmd(), eid)
    rt.catalog.review(div.reviewer, cmd(), eid, review=PASS, decision=ReviewDecision.APPROVE)
    rt.catalog.publish(admin, cmd(), eid)
    return eid


def test_published_entry_reaches_the_read_model(runtime, admin):
    div = Division(runtime, admin)
    eid = publish_new(runtime, admin, div)
    runtime.projector.catch_up_all()
    rows, _ = runtime.catalog_queries.list(CatalogFilter(), scope=EVERYTHING, now=runtime.now())
    assert [(r.resource_code, r.status) for r in rows] == [("SX-MZ-001", "published")]
    assert runtime.catalog.load(eid).current.number == 1


def test_cat5_second_source_refused_until_office_accepts(runtime, admin):
    a = Division(runtime, admin, "div-a")
    b = Division(runtime, admin, "div-b")
    publish_new(runtime, admin, a, "SX-A-1", data_items=items("ID_CARD", "NAME_A"))
    r = runtime.catalog.draft(b.compiler, cmd(), resource_code="SX-B-1", content=content(data_items=items("ID_CARD")))
    with pytest.raises(RuleViolation) as refused:
        runtime.catalog.submit(b.compiler, cmd(), r.aggregate_id)
    assert refused.value.rule == "CAT-5" and "SX-A-1" in refused.value.detail


def test_idempotent_retry_records_nothing_twice(runtime, admin):
    div = Division(runtime, admin)
    first = runtime.catalog.draft(div.compiler, cmd(key="k-1", fp="same"), resource_code="SX-1", content=content())
    head = runtime.ledger.max_position()
    again = runtime.catalog.draft(div.compiler, cmd(key="k-1", fp="same"), resource_code="SX-1", content=content())
    assert again.replayed and again.body == first.body and again.position == first.position
    assert runtime.ledger.max_position() == head
    with pytest.raises(IdempotencyMismatch):
        runtime.catalog.draft(div.compiler, cmd(key="k-1", fp="other"), resource_code="SX-2", content=content())


def test_stale_version_is_a_conflict(runtime, admin):
    div = Division(runtime, admin)
    r = runtime.catalog.draft(div.compiler, cmd(), resource_code="SX-1", content=content())
    runtime.catalog.submit(div.compiler, cmd(expected_version=1), r.aggregate_id)
    with pytest.raises(VersionConflict):
        runtime.catalog.review(div.reviewer, cmd(expected_version=1), r.aggregate_id, review=PASS,
                               decision=ReviewDecision.APPROVE)


def test_a_resource_code_is_catalogued_once(runtime, admin):
    div = Division(runtime, admin)
    runtime.catalog.draft(div.compiler, cmd(), resource_code="SX-1", content=content())
    with pytest.raises(VersionConflict) as taken:
        runtime.catalog.draft(div.compiler, cmd(), resource_code="SX-1", content=content(name="另一个"))
    assert "already exists" in taken.value.detail


def test_an_office_person_holding_office_admin_and_catalog_reviewer_acts_as_the_office(runtime, admin):
    """Such a caller reviews, publishes and retires as office_admin, so a provincial entry is theirs to publish
    (CAT-3); with catalog_reviewer picked first it was refused that, yet counted as the Office elsewhere."""
    div = Division(runtime, admin)
    both = member(runtime, admin, "office", "office-both", "catalog_reviewer", "office_admin")
    eid = runtime.catalog.draft(div.compiler, cmd(), resource_code="SX-MZ-009", content=content()).aggregate_id
    runtime.catalog.submit(div.compiler, cmd(), eid)
    runtime.catalog.review(both, cmd(), eid, review=PASS, decision=ReviewDecision.APPROVE)
    runtime.catalog.publish(both, cmd(), eid)
    runtime.catalog.retire(both, cmd(), eid, reason="停止采集")
    events = runtime.history.timeline(admin, "catalog-entry", str(eid))
    assert [(e.type, e.actor["role"]) for e in events if e.type in ("Reviewed", "Published", "Retired")] == [
        ("Reviewed", "office_admin"), ("Published", "office_admin"), ("Retired", "office_admin")]
