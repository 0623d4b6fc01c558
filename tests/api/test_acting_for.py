"""X-On-Behalf-Of over HTTP: one ORG-2 check when the caller is resolved, for reads and writes alike."""

from __future__ import annotations

from tests.api.conftest import service_unit_for
from tests.api.test_catalog_api import entry_body, org, token


def _draft(server, runtime, provider: str, code: str) -> str:
    comp = server.client(token(runtime, provider, f"{provider}-编目员", "catalog_compiler"))
    r = comp.post("/catalog/entries", json=entry_body(code))
    assert r.status_code == 201, r.text
    return r.headers["x-ledger-position"]


def test_naming_an_organization_without_authorisation_is_refused_on_reads(server, runtime, admin_token):
    office = server.client(admin_token)
    org(office, "div-a")
    org(office, "div-b")
    pos = _draft(server, runtime, "div-b", "SX-B-DRAFT")
    nosy = server.client(token(runtime, "div-a", "赵六", "requester"))
    head = runtime.ledger.max_position()
    for path in ("/catalog/entries", "/share-requests", "/grants", "/access-logs"):
        r = nosy.get(path, headers={"X-On-Behalf-Of": "div-b", "X-Min-Position": pos})
        assert r.status_code == 403, (path, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["rule"] == "ORG-2" and r.json()["article"] == "第八条", r.json()
    # without the header the same caller reads the published catalog only, never div-b's draft
    mine = nosy.get("/catalog/entries", headers={"X-Min-Position": pos})
    assert mine.status_code == 200 and mine.json()["items"] == []
    assert runtime.ledger.max_position() == head


def test_an_authorised_service_unit_reads_for_the_organization_it_serves(server, runtime, admin_token, clock):
    office = server.client(admin_token)
    svc = service_unit_for(server, office, "div-a", "2026-01-01", "2026-06-30")
    pos = _draft(server, runtime, "div-a", "SX-A-DRAFT")
    acting = {"X-On-Behalf-Of": "div-a", "X-Min-Position": pos}
    seen = svc.get("/catalog/entries", headers=acting)
    assert seen.status_code == 200, seen.text
    assert [e["resource_code"] for e in seen.json()["items"]] == ["SX-A-DRAFT"]
    # another organization it does not serve is refused, and so is the served one once the dates are past
    assert svc.get("/catalog/entries", headers={"X-On-Behalf-Of": "office"}).status_code == 403
    clock.advance(days=200)  # past 2026-06-30
    late = svc.get("/catalog/entries", headers=acting)
    assert late.status_code == 403 and late.json()["rule"] == "ORG-2"


def test_a_service_unit_reads_the_feed_of_the_organization_it_serves(server, runtime, admin_token):
    """The feed's scope is the organization the caller acts for, as every row read's is: a service unit
    naming the organization it serves reads that organization's events, and without the header its own."""
    office = server.client(admin_token)
    svc = service_unit_for(server, office, "div-a", "2026-01-01", "2026-06-30")
    pos = _draft(server, runtime, "div-a", "SX-A-FEED")
    acting = svc.get("/events", params={"after": 0, "limit": 500},
                     headers={"X-On-Behalf-Of": "div-a", "X-Min-Position": pos})
    assert acting.status_code == 200, acting.text
    assert "SX-A-FEED" in acting.text
    own = svc.get("/events", params={"after": 0, "limit": 500}, headers={"X-Min-Position": pos})
    assert own.status_code == 200, own.text
    assert "SX-A-FEED" not in own.text
