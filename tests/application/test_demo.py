"""The demo data set: loaded through the services on both stores, complete, rule-abiding and loaded once."""

from __future__ import annotations

from typing import Any

import pytest

from application.common import Principal
from application.demo import STATUSES, demo_entry, load_demo
from application.demo_data import DEMO_ADMIN, ENTRIES, ORGANIZATIONS
from application.runtime import Runtime
from domain.catalog_values import DeliveryMethod, OpenClass, ShareClass, UpdateCycle
from domain.organizations import Level, OrgKind
from projections.queries import CatalogFilter

AUDITOR = Principal(person="auditor", organization="office", roles=frozenset({"auditor"}))


@pytest.fixture
def demo(runtime: Runtime) -> dict[str, Any]:
    summary = load_demo(runtime)
    runtime.projector.catch_up_all()
    return summary


def rows(rt: Runtime, **filters: Any) -> list[dict[str, Any]]:
    found, _ = rt.catalog_queries.list(CatalogFilter(**filters), viewer_org=None, now=rt.now(), limit=500)
    return found


def test_demo_fills_every_status_class_cycle_and_method(runtime, demo):
    entries = rows(runtime)
    assert len(entries) == demo["entries"] >= 60
    assert {r["status"] for r in entries} == set(STATUSES)
    assert demo["by_status"] == {s: sum(r["status"] == s for r in entries) for s in STATUSES}
    assert {r["share_class"] for r in entries} == {str(c) for c in ShareClass}
    assert {r["open_class"] for r in entries} == {str(c) for c in OpenClass}
    assert {r["update_cycle"] for r in entries} == {str(c) for c in UpdateCycle}
    versions = [demo_entry(runtime, e.code) for e in ENTRIES]
    offered = {m for entry in versions for m in (entry.current or entry.pending).content.delivery_methods}
    assert offered == set(DeliveryMethod)


def test_demo_registers_the_regime(runtime, demo):
    listed, _ = runtime.organization_queries.list(limit=500)
    kinds = {r["kind"] for r in listed}
    assert demo["organizations"] == len(listed) == len(ORGANIZATIONS) + 1
    assert kinds == {str(k) for k in OrgKind}
    assert sum(r["kind"] == OrgKind.CITY_BUREAU for r in listed) == 10
    office = {(m["person"], m["role"]) for m in runtime.organization_queries.members("office")}
    assert {"office_admin", "auditor", "platform"} <= {role for _, role in office}
    assert (DEMO_ADMIN, "office_admin") in office
    for org in ORGANIZATIONS:
        roles = {m["role"]: m["person"] for m in runtime.organization_queries.members(org.code)}
        if "catalog_compiler" in roles:
            assert roles["catalog_compiler"] != roles["catalog_reviewer"]
    unit = runtime.organizations.find("sx-svc-qinyun")
    assert unit is not None and unit.may_act_for("sx-mz-unit-info", unit.authorisations[0].valid_from)


def test_demo_respects_review_and_publication_rules(runtime, demo):
    for e in ENTRIES:
        entry = demo_entry(runtime, e.code)
        for v in (entry.current, entry.pending, *entry.history):
            if v is not None and v.reviewer is not None:
                assert v.reviewer != v.compiler, e.code  # CAT-2
        published = [ev for ev in runtime.history.timeline(AUDITOR, "catalog-entry", str(entry.id))
                     if ev.type == "Published"]
        for ev in published:
            if entry.provider_level == Level.PROVINCE:  # CAT-3
                assert (ev.actor["organization"], ev.actor["role"]) == ("office", "office_admin"), e.code
            else:
                assert ev.actor["organization"] == entry.provider, e.code


def test_demo_holds_a_duplicate_source_the_office_accepted(runtime, demo):
    city = demo_entry(runtime, "610100-SHJZ-001")
    assert city.status == "published"
    assert city.current is not None and city.current.accepted_duplicates == {"DBDX_JTBH": "610000-SHJZ-001"}
    both = {r["resource_code"] for r in rows(runtime, item_code="DBDX_JTBH", status="published")}
    assert both == {"610000-SHJZ-001", "610100-SHJZ-001"}
    accepted = [ev for ev in runtime.history.timeline(AUDITOR, "catalog-entry", str(city.id))
                if ev.type == "DuplicateSourceAccepted"]
    assert [(ev.actor["organization"], ev.data["item_code"]) for ev in accepted] == [("office", "DBDX_JTBH")]


def test_demo_stale_entries_are_the_overdue_ones(runtime, demo):
    stale = {e.code for e in ENTRIES if e.flow == "stale"}
    assert len(stale) >= 3
    assert {r["resource_code"] for r in rows(runtime, overdue=True)} == stale


def test_demo_open_catalog_is_not_empty(runtime, demo):
    opened, _ = runtime.catalog_queries.open_catalog(limit=500)
    assert opened
    assert {r["open_class"] for r in opened} == {"open", "conditional"}
    assert all(r["resource_code"] != "610000-YLFW-006" for r in opened)  # retired entries leave it


def test_second_load_adds_nothing(runtime, demo):
    head = runtime.ledger.max_position()
    again = load_demo(runtime)
    assert runtime.ledger.max_position() == head
    assert again["admin_token"] is None and demo["admin_token"]
    assert {k: v for k, v in again.items() if k != "admin_token"} == {
        k: v for k, v in demo.items() if k != "admin_token"}
