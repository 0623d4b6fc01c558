"""The demo data set: loaded through the services on both stores, complete, rule-abiding and loaded once."""

from __future__ import annotations

from collections import Counter
from typing import Any
from uuid import UUID

import pytest

from api.cli import load_demo
from application.common import Principal
from bootstrap import Runtime
from demo.data import DEMO_ADMIN, ENTRIES, ORGANIZATIONS
from demo.loader import STATUSES, demo_entry
from domain.catalog_values import DeliveryMethod, OpenClass, ShareClass, UpdateCycle
from domain.grants import Grant
from domain.organizations import Level, OrgKind
from domain.sharing import ImplementationOrder, ShareRequest
from domain.sharing_values import GrantKind, GrantStatus, RequestStatus, Scenario
from projections.catalog_queries import CatalogFilter, EntryRow
from projections.scope import EVERYTHING

AUDITOR = Principal(person="auditor", organization="office", roles=frozenset({"auditor"}))


@pytest.fixture
def demo(runtime: Runtime) -> dict[str, Any]:
    summary = load_demo(runtime)
    runtime.projector.catch_up_all()
    return summary


def rows(rt: Runtime, **filters: Any) -> list[EntryRow]:
    found, _ = rt.catalog_queries.list(CatalogFilter(**filters), scope=EVERYTHING, now=rt.now(), limit=500)
    return found


def test_demo_fills_every_status_class_cycle_and_method(runtime, demo):
    entries = rows(runtime)
    assert len(entries) == demo["entries"] >= 60
    assert {r.status for r in entries} == set(STATUSES)
    assert demo["by_status"] == {s: sum(r.status == s for r in entries) for s in STATUSES}
    assert {r.share_class for r in entries} == {str(c) for c in ShareClass}
    assert {r.open_class for r in entries} == {str(c) for c in OpenClass}
    assert {r.update_cycle for r in entries} == {str(c) for c in UpdateCycle}
    versions = [demo_entry(runtime.catalog, e.code) for e in ENTRIES]
    offered = {m for entry in versions for m in (entry.current or entry.pending).content.delivery_methods}
    assert offered == set(DeliveryMethod)


def test_demo_registers_the_regime(runtime, demo):
    listed, _ = runtime.organization_queries.list(limit=500)
    kinds = {r.kind for r in listed}
    assert demo["organizations"] == len(listed) == len(ORGANIZATIONS) + 1
    assert kinds == {str(k) for k in OrgKind}
    assert sum(r.kind == OrgKind.CITY_BUREAU for r in listed) == 10
    office = {(m.person, m.role) for m in runtime.organization_queries.members("office", EVERYTHING) or ()}
    assert {"office_admin", "auditor", "platform"} <= {role for _, role in office}
    assert (DEMO_ADMIN, "office_admin") in office
    for org in ORGANIZATIONS:
        roles = {m.role: m.person for m in runtime.organization_queries.members(org.code, EVERYTHING) or ()}
        if "catalog_compiler" in roles:
            assert roles["catalog_compiler"] != roles["catalog_reviewer"]
    unit = runtime.organizations.find("sx-svc-qinyun")
    assert unit is not None and unit.may_act_for("sx-mz-unit-info", unit.authorisations[0].valid_from)


def test_demo_respects_review_and_publication_rules(runtime, demo):
    for e in ENTRIES:
        entry = demo_entry(runtime.catalog, e.code)
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
    city = demo_entry(runtime.catalog, "610100-SHJZ-001")
    assert city.status == "published"
    assert city.current is not None and city.current.accepted_duplicates == {"DBDX_JTBH": "610000-SHJZ-001"}
    both = {r.resource_code for r in rows(runtime, item_code="DBDX_JTBH", status="published")}
    assert both == {"610000-SHJZ-001", "610100-SHJZ-001"}
    accepted = [ev for ev in runtime.history.timeline(AUDITOR, "catalog-entry", str(city.id))
                if ev.type == "DuplicateSourceAccepted"]
    assert [(ev.actor["organization"], ev.data["item_code"]) for ev in accepted] == [("office", "DBDX_JTBH")]


def test_demo_stale_entries_are_the_overdue_ones(runtime, demo):
    stale = {e.code for e in ENTRIES if e.flow == "stale"}
    assert len(stale) >= 3
    assert {r.resource_code for r in rows(runtime, overdue=True)} == stale


def test_demo_open_catalog_is_not_empty(runtime, demo):
    opened, _ = runtime.catalog_queries.open_catalog(limit=500)
    assert opened
    assert {r.open_class for r in opened} == {"open", "conditional"}
    assert all(r.resource_code != "610000-YLFW-006" for r in opened)  # retired entries leave it


def test_second_load_adds_nothing(runtime, demo):
    head = runtime.ledger.max_position()
    again = load_demo(runtime)
    assert runtime.ledger.max_position() == head
    assert again["admin_token"] is None and demo["admin_token"]
    assert {k: v for k, v in again.items() if k != "admin_token"} == {
        k: v for k, v in demo.items() if k != "admin_token"}


# -- sharing -------------------------------------------------------------------------------

KIND_OF = {o.code: o.kind for o in ORGANIZATIONS}
PROVIDER_OF = {e.code: e.org for e in ENTRIES}
PD = OrgKind.PROVINCIAL_DEPARTMENT


def share_requests(rt: Runtime) -> list[ShareRequest]:
    found, cursor = [], None
    while True:
        page, cursor = rt.sharing_queries.requests(scope=EVERYTHING, limit=200, cursor=cursor)
        found += [rt.sharing.get(ShareRequest, UUID(r.id)) for r in page]
        if cursor is None:
            return found


def orders(rt: Runtime) -> list[tuple[ShareRequest, ImplementationOrder]]:
    return [(r, rt.sharing.get(ImplementationOrder, r.order_id)) for r in share_requests(rt) if r.order_id]


def grants(rt: Runtime) -> list[Grant]:
    return [rt.sharing.load_grant(s.grant_id) for _, o in orders(rt) for s in o.new_grants]


def test_demo_has_share_requests_in_every_state_and_scenario(runtime, demo):
    requests = share_requests(runtime)
    assert {r.status for r in requests} == set(RequestStatus)
    assert demo["requests_by_status"] == dict(Counter(str(r.status) for r in requests))
    assert demo["requests"] == len(requests)
    assert {r.scenario for r in requests} == set(Scenario)
    assert all(r.review_comment.strip() for r in requests if r.status == RequestStatus.REJECTED)
    assert "sx-gov-xa" not in {r.requester for r in requests}  # SHR-3: never attempted
    for r in requests:
        providers = {KIND_OF[PROVIDER_OF[e.resource_code]] for e in r.entries}
        if r.scenario == Scenario.EXTERNAL_EXCHANGE:
            assert KIND_OF[r.requester] != PD and providers == {PD}, r.id
        elif r.scenario == Scenario.EXTERNAL_SHARING:
            assert KIND_OF[r.requester] == PD and PD not in providers, r.id
        else:
            assert KIND_OF[r.requester] != PD and PD not in providers, r.id
    asked = {(r.id, e.entry_id): set(e.fields) for r in requests for e in r.entries}
    narrowed = {r.id for r in requests for a in r.approved if set(a.fields) < asked[(r.id, a.entry_id)]}
    assert len(narrowed) >= 3
    listed = {row.id: row.status for row in runtime.sharing_queries.requests(scope=EVERYTHING, limit=500)[0]}
    assert listed == {str(r.id): str(r.status) for r in requests}


def test_demo_grants_a_few_hundred_within_their_approvals(runtime, demo):
    pairs = orders(runtime)
    everything = grants(runtime)
    assert len(everything) == demo["grants"] >= 300
    assert Counter(str(g.spec.kind) for g in everything) == demo["grants_by_kind"]
    assert {g.spec.kind for g in everything} == set(GrantKind)
    assert {g.spec.method for g in everything} == set(DeliveryMethod)
    assert len({g.spec.purpose for g in everything}) >= 10
    request_of = {r.id: r for r, _ in pairs}
    for g in everything:
        s, r = g.spec, request_of[g.spec.request_id]
        approved = {e.entry_id: set(e.fields) for e in r.approved}
        assert set(s.fields) <= approved[s.entry_id], g.id  # SHR-5
        assert (s.holder, s.purpose, s.method) == (r.requester, r.purpose, r.delivery_method)
        share = demo_entry(runtime.catalog, s.resource_code).current.content.share_class
        assert share != ShareClass.NOT_SHAREABLE  # SHR-4
        assert s.kind == (GrantKind.SINGLE_USE if share == ShareClass.RESTRICTED else GrantKind.REUSABLE)  # SHR-7
        if KIND_OF[s.provider] == PD:  # SHR-8
            assert s.use_plan is not None and not s.use_plan.missing(), g.id
    exchanged = [g for g in everything if KIND_OF[g.spec.provider] == PD]
    assert {g.spec.provider for g in exchanged} == {"sx-dept-police", "sx-dept-hrss", "sx-dept-health", "sx-dept-dpf"}
    now = runtime.now()
    rows, _ = runtime.sharing_queries.grants(scope=EVERYTHING, limit=1000)
    assert {r.id: r.status for r in rows} == {str(g.id): str(g.status_at(now)) for g in everything}


def test_demo_reuses_an_interface_grant(runtime, demo):
    reusing = [(r, o) for r, o in orders(runtime) if o.reused]
    assert reusing and sum(len(o.reused) for _, o in reusing) == demo["reused_grants"]
    for r, o in reusing:
        for u in o.reused:
            first = runtime.sharing.load_grant(u.grant_id).spec
            assert first.kind == GrantKind.REUSABLE and first.method == DeliveryMethod.INTERFACE
            assert (first.holder, first.entry_id, first.purpose) == (r.requester, u.entry_id, r.purpose)
            assert set(u.fields) < set(first.fields) and first.request_id != r.id
            assert u.entry_id not in {s.entry_id for s in o.new_grants}


def test_demo_grants_live_through_their_lifecycle(runtime, demo):
    everything = grants(runtime)
    now = runtime.now()
    assert Counter(str(g.status_at(now)) for g in everything) == demo["grants_by_status"]
    assert {g.status for g in everything} == set(GrantStatus)  # the test clock lets short grants expire
    events = [(g, ev) for g in everything if g.version > 1
              for ev in runtime.history.timeline(AUDITOR, "grant", str(g.id))[1:]]
    by_type: dict[str, list[tuple[Grant, Any]]] = {}
    for g, ev in events:
        by_type.setdefault(ev.type, []).append((g, ev))
    suspenders = {(ev.actor["organization"] == g.spec.provider, ev.actor["role"]) for g, ev in by_type["Suspended"]}
    assert {(True, "catalog_reviewer"), (False, "office_admin")} <= suspenders
    assert by_type["Resumed"]
    revoked = by_type["Revoked"]
    assert len(revoked) >= 2 and all(ev.data["reason"].strip() for _, ev in revoked)
    assert {ev.actor["role"] for _, ev in revoked} == {"office_admin"}
    consumed = by_type["Consumed"]
    assert len(consumed) >= 5 and all(g.spec.kind == GrantKind.SINGLE_USE for g, _ in consumed)
    assert {(ev.actor["person"], ev.actor["role"]) for _, ev in consumed} == {("sx-exchange-platform", "platform")}
    retired = {e.code for e in ENTRIES if e.flow == "retired"}
    by_catalog = by_type["SuspendedForCatalog"]
    assert by_catalog and {g.spec.resource_code for g, _ in by_catalog} <= retired
    assert {g.id for g in everything if g.spec.resource_code in retired} == {g.id for g, _ in by_catalog}
    expired = by_type["Expired"]
    assert expired and all(g.spec.valid_to < now for g, _ in expired)
