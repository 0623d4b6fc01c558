"""Sharing through the application layer on both stores: expiry exactly at the instant, the sweep."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from domain.catalog_values import ReviewDecision, ShareClass
from domain.sharing_values import GrantStatus
from projections.scope import EVERYTHING
from tests.support import PASS, Division, cmd, content, grant_to_div_elder


def test_a_grant_expires_exactly_and_the_sweep_records_it(runtime, admin, clock):
    _, _, gid, ask = grant_to_div_elder(runtime, admin, clock.now().date(), days=2)
    runtime.projector.catch_up_all()
    assert runtime.sharing.status(**ask).allowed
    end = runtime.sharing.load_grant(gid).spec.valid_to
    clock.set(end - timedelta(seconds=1))
    assert runtime.sharing.status(**ask).allowed
    clock.set(end + timedelta(seconds=1))
    refused = runtime.sharing.status(**ask)
    assert not refused.allowed and [r.code for r in refused.reasons] == ["expired"]
    assert runtime.sharing.expire_due() == 1
    assert runtime.sharing.expire_due() == 0
    runtime.projector.catch_up_all()
    assert runtime.sharing_queries.grant(gid, EVERYTHING).status == "expired"


def _published_with_a_grant(rt, admin, clock) -> tuple[Division, UUID, UUID, dict]:
    return grant_to_div_elder(rt, admin, clock.now().date())


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
    assert runtime.sharing_queries.grant(gid, EVERYTHING).status == "suspended"
    refused = runtime.sharing.status(**ask)
    assert not refused.allowed
