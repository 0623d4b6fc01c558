"""The catalog over HTTP against a running server: tokens, problem+json, idempotency, versions, read-your-writes."""

from __future__ import annotations

import msgspec

from domain.catalog import entry_id
from tests.api.conftest import service_unit_for
from tests.support import content, items


def org(c, code, kind="division", level="province", parent="office"):
    r = c.post("/organizations", json={"code": code, "name": code, "kind": kind, "level": level, "parent": parent})
    assert r.status_code == 201, r.text
    return r


def token(runtime, org_code, person, *roles):
    return runtime.issue_token(org=org_code, person=person, roles=roles)


def entry_body(code="SX-MZ-0001", **over):
    return {"resource_code": code, "content": msgspec.to_builtins(content(**over))}


PASS = {"accuracy": {"passed": True}, "completeness": {"passed": True}, "compliance": {"passed": True},
        "decision": "approve"}


def test_catalog_needs_a_token(server):
    with server.client() as anon:
        r = anon.get("/catalog/entries")
        assert r.status_code == 401
        assert r.headers["content-type"].startswith("application/problem+json")
    with server.client("clt_not-a-real-token") as bad:
        assert bad.get("/catalog/entries").status_code == 401
    with server.client() as anon:
        assert anon.get("/health").status_code == 200
        assert anon.get("/schema/openapi.json").status_code == 200


def test_full_lifecycle_over_http(server, runtime, admin_token):
    with server.client(admin_token) as office:
        org(office, "div-relief")
    comp = server.client(token(runtime, "div-relief", "王敏", "catalog_compiler"))
    rev = server.client(token(runtime, "div-relief", "李强", "catalog_reviewer"))
    office = server.client(admin_token)

    r = comp.post("/catalog/entries", json=entry_body(), headers={"Idempotency-Key": "draft-1"})
    assert r.status_code == 201, r.text
    eid, etag, pos = r.json()["id"], r.headers["etag"], r.headers["x-ledger-position"]
    assert r.headers["location"] == f"/catalog/entries/{eid}"

    # read-your-writes: no sleeping, the read waits on the returned position
    got = comp.get(f"/catalog/entries/{eid}", headers={"X-Min-Position": pos})
    assert got.status_code == 200 and got.json()["status"] == "drafted" and got.headers["etag"] == etag

    # a retry with the same key records nothing twice and gets the first answer
    again = comp.post("/catalog/entries", json=entry_body(), headers={"Idempotency-Key": "draft-1"})
    assert again.status_code == 201 and again.json() == r.json() and again.headers["idempotent-replayed"] == "true"

    assert comp.post(f"/catalog/entries/{eid}/submit", headers={"If-Match": etag}).status_code == 200
    stale = rev.post(f"/catalog/entries/{eid}/review", json=PASS, headers={"If-Match": etag})
    assert stale.status_code == 409

    refused = rev.post(f"/catalog/entries/{eid}/review",
                       json={**PASS, "accuracy": {"passed": False, "comment": "字段口径不一致"}})
    assert refused.status_code == 422
    body = refused.json()
    assert body["rule"] == "CAT-1" and body["article"] == "第十条"
    assert refused.headers["content-type"].startswith("application/problem+json")

    assert rev.post(f"/catalog/entries/{eid}/review", json=PASS).status_code == 200
    cat3 = rev.post(f"/catalog/entries/{eid}/publish")
    assert cat3.status_code == 422 and cat3.json()["rule"] == "CAT-3"
    pub = office.post(f"/catalog/entries/{eid}/publish", json={"published_on": "2026-03-02"})
    assert pub.status_code == 200, pub.text

    listing = comp.get("/catalog/entries", params={"q": "低保", "min_position": pub.headers["x-ledger-position"]})
    assert [e["status"] for e in listing.json()["items"]] == ["published"]
    hist = office.get(f"/history/catalog-entry/{eid}")
    assert [e["type"] for e in hist.json()["events"]] == ["Drafted", "Submitted", "Reviewed", "Published"]
    assert hist.json()["events"][-1]["actor"]["role"] == "office_admin"


def test_malformed_input_names_every_field_and_changes_nothing(server, runtime, admin_token):
    with server.client(admin_token) as office:
        org(office, "div-relief")
    comp = server.client(token(runtime, "div-relief", "王敏", "catalog_compiler"))
    head = runtime.ledger.max_position()
    r = comp.post("/catalog/entries", json={"content": {"name": 5}, "bogus": 1})
    assert r.status_code == 400
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"resource_code", "bogus"} <= fields and any(f.startswith("content") for f in fields)
    assert comp.post("/catalog/entries", content=b"{not json", headers={"content-type": "application/json"}).status_code == 400
    # every malformed field is named with its path, however deep it lies
    body = entry_body()
    body["content"].update(share_class="sometimes", delivery_methods=["carrier_pigeon"])
    body["content"]["data_items"][1]["name"] = 7
    deep = comp.post("/catalog/entries", json=body)
    assert deep.status_code == 400
    named = {e["field"] for e in deep.json()["errors"]}
    assert named == {"content.share_class", "content.delivery_methods[0]", "content.data_items[1].name"}, named
    assert runtime.ledger.max_position() == head


def test_role_and_organization_are_checked(server, runtime, admin_token):
    with server.client(admin_token) as office:
        org(office, "div-a")
        org(office, "div-b")
    reviewer = server.client(token(runtime, "div-a", "赵六", "catalog_reviewer"))
    assert reviewer.post("/catalog/entries", json=entry_body()).status_code == 403
    other = server.client(token(runtime, "div-b", "钱七", "catalog_compiler"))
    r = other.post("/catalog/entries", json={**entry_body(), "provider": "div-a"})
    assert r.status_code == 422 and r.json()["rule"] == "CAT-2"
    compiler_a = server.client(token(runtime, "div-a", "孙八", "catalog_compiler"))
    draft = compiler_a.post("/catalog/entries", json=entry_body("SX-A-9", data_items=msgspec.to_builtins(items("X1"))))
    assert draft.status_code == 201
    # a draft of div-a is invisible to div-b
    assert other.get(f"/catalog/entries/{draft.json()['id']}",
                     headers={"X-Min-Position": draft.headers["x-ledger-position"]}).status_code == 404


def test_service_unit_acts_only_within_its_dated_authorisation(server, runtime, admin_token, clock):
    office = server.client(admin_token)
    svc = service_unit_for(server, office, "div-a", "2026-01-01", "2026-06-30")
    acting = {"X-On-Behalf-Of": "div-a"}
    assert svc.post("/catalog/entries", json=entry_body("SX-SVC-1"), headers=acting).status_code == 201
    unauthorised = svc.post("/catalog/entries", json=entry_body("SX-SVC-2"), headers={"X-On-Behalf-Of": "office"})
    assert unauthorised.status_code == 403 and unauthorised.json()["rule"] == "ORG-2"
    clock.advance(days=200)  # past 2026-06-30
    late = svc.post("/catalog/entries", json=entry_body("SX-SVC-3"), headers=acting)
    assert late.status_code == 403 and late.json()["rule"] == "ORG-2"
    hist = office.get(f"/history/catalog-entry/{entry_id('SX-SVC-1')}")
    assert hist.json()["events"][0]["actor"]["on_behalf_of"] == "div-a"


def test_the_demo_catalog_is_served_to_token_holders_only(server, runtime):
    from api.cli import load_demo

    summary = load_demo(runtime)
    pos = str(runtime.ledger.max_position())
    with server.client() as anon:
        assert anon.get("/catalog/entries").status_code == 401
        assert anon.get("/catalog/open").status_code == 401
    reader = server.client(token(runtime, "sx-mz-city-xa", "读者", "requester"))
    first = reader.get("/catalog/entries", params={"limit": 50}, headers={"X-Min-Position": pos})
    assert first.status_code == 200 and len(first.json()["items"]) == 50
    rest = reader.get("/catalog/entries", params={"limit": 500, "cursor": first.json()["next_cursor"]})
    seen = first.json()["items"] + rest.json()["items"]
    # another organization reads the published catalog and its own drafts, never others' drafts
    assert all(e["current_version"] is not None or e["provider"] == "sx-mz-city-xa" for e in seen)
    office = server.client(summary["admin_token"])
    everything = office.get("/catalog/entries", params={"limit": 500}).json()["items"]
    assert len(everything) == summary["entries"] >= 60
    assert len(seen) < len(everything)
    assert reader.get("/catalog/open").json()["items"]


def test_a_revoked_role_is_refused_at_once(server, runtime, admin_token):
    office = server.client(admin_token)
    org(office, "div-a")
    compiler = server.client(token(runtime, "div-a", "孙八", "catalog_compiler"))
    assert compiler.post("/catalog/entries", json=entry_body("SX-R-1")).status_code == 201
    revoked = office.delete("/organizations/div-a/members/孙八/roles/catalog_compiler")
    assert revoked.status_code == 200, revoked.text
    assert compiler.post("/catalog/entries", json=entry_body("SX-R-2")).status_code == 403
