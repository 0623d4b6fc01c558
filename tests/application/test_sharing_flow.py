"""Sharing through the application layer on both stores: expiry exactly at the instant, the sweep."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import msgspec

from domain.catalog_values import ReviewDecision, ShareClass
from domain.organizations import Role
from domain.sharing_values import GrantStatus, RequestedEntry
from tests.support import PASS, Division, cmd, content, member, register


def test_a_grant_expires_exactly_and_the_sweep_records_it(runtime, admin, clock):
    provider = Division(runtime, admin, "div-relief")
    eid = provider.publish("SX-1")
    register(runtime, admin, "div-elder")
    requester = member(runtime, admin, "div-elder", "周敏", Role.REQUESTER)
    today = clock.now().date()
    r = runtime.sharing.submit(requester, cmd(), scenario="internal_sharing", reason="核对", purpose="核对",
                               entries=(RequestedEntry(entry_id=eid, resource_code="", fields=("DB_NAME",)),),
                               valid_from=today, valid_to=today + timedelta(days=2), delivery_method="interface")
    runtime.sharing.review(admin, cmd(), r.aggregate_id, decision="approve")
    [gid] = msgspec.json.decode(runtime.sharing.issue_order(admin, cmd(), r.aggregate_id).body)["new_grants"]
    runtime.projector.catch_up_all()
    ask = {"holder": "div-elder", "entry_id": eid, "fields": ("DB_NAME",), "purpose": "核对", "method": "interface"}
    assert runtime.sharing.status(**ask).allowed
    end = runtime.sharing.load_grant(UUID(gid)).spec.valid_to
    clock.set(end - timedelta(seconds=1))
    assert runtime.sharing.status(**ask).allowed
    clock.set(end + timedelta(seconds=1))
    refused = runtime.sharing.status(**ask)
    assert not refused.allowed and [r.code for r in refused.reasons] == ["expired"]
    assert runtime.sharing.expire_due() == 1
    assert runtime.sharing.expire_due() == 0
    runtime.projector.catch_up_all()
    assert runtime.sharing_queries.grant(UUID(gid))["status"] == "expired"


def _published_with_a_grant(rt, admin, clock) -> tuple[Division, UUID, UUID, dict]:
    provider = Division(rt, admin, "div-relief")
    eid = provider.publish("SX-1")
    register(rt, admin, "div-elder")
    requester = member(rt, admin, "div-elder", "周敏", Role.REQUESTER)
    today = clock.now().date()
    r = rt.sharing.submit(requester, cmd(), scenario="internal_sharing", reason="核对", purpose="核对",
                          entries=(RequestedEntry(entry_id=eid, resource_code="", fields=("DB_NAME",)),),
                          valid_from=today, valid_to=today + timedelta(days=30), delivery_method="interface")
    rt.sharing.review(admin, cmd(), r.aggregate_id, decision="approve")
    [gid] = msgspec.json.decode(rt.sharing.issue_order(admin, cmd(), r.aggregate_id).body)["new_grants"]
    ask = {"holder": "div-elder", "entry_id": eid, "fields": ("DB_NAME",), "purpose": "核对", "method": "interface"}
    return provider, eid, UUID(gid), ask


def _republish(rt, admin, provider: Division, eid: UUID, **reclassified) -> None:
    rt.catalog.revise(provider.compiler, cmd(), eid, content=content(**reclassified))
    rt.catalog.submit(provider.compiler, cmd(), eid)
    rt.catalog.review(provider.reviewer, cmd(), eid, review=PASS, decision=ReviewDecision.APPROVE)
    rt.catalog.publish(admin, cmd(), eid)


def test_publishing_a_version_reclassified_not_shareable_suspends_the_grants_on_it(runtime, admin, clock):
    provider, eid, gid, ask = _published_with_a_grant(runtime, admin, clock)
    _republish(runtime, admin, provider, eid, share_class=ShareClass.RESTRICTED, share_conditions="仅限核对")
    assert runtime.sharing.load_grant(gid).status == GrantStatus.ACTIVE  # still shareable: the grant stands

    _republish(runtime, admin, provider, eid, share_class=ShareClass.NOT_SHAREABLE, legal_basis="《个人信息保护法》")
    grant = runtime.sharing.load_grant(gid)
    assert grant.status == GrantStatus.SUSPENDED and grant.suspended_by_catalog
    last = runtime.ledger.mapper.to_domain_event(list(runtime.ledger.stored_events_of(gid))[-1][1])
    assert type(last).__name__ == "SuspendedForCatalog" and "SX-1 v3 is not shareable" in last.reason
    runtime.projector.catch_up_all()
    assert runtime.sharing_queries.grant(gid)["status"] == "suspended"
    refused = runtime.sharing.status(**ask)
    assert not refused.allowed
