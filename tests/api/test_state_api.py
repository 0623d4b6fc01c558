"""State at a date over HTTP: the catalog and grants as they stood, without disturbing today's answer."""

from __future__ import annotations

from tests.api.test_catalog_api import org, token
from tests.api.test_sharing_api import published_entry, request_body


def test_catalog_and_grants_as_they_stood(server, runtime, admin_token, clock):
    office = server.client(admin_token)
    org(office, "div-relief")
    org(office, "div-elder")
    eid = published_entry(server, runtime, office)
    requester = server.client(token(runtime, "div-elder", "周敏", "requester"))
    rid = requester.post("/share-requests", json=request_body(eid, ["DB_NAME"])).json()["id"]
    office.post(f"/share-requests/{rid}/review", json={"decision": "approve"})
    office.post(f"/share-requests/{rid}/orders")
    then = clock.now()
    clock.advance(days=30)
    retired = office.post(f"/catalog/entries/{eid}/retire", json={"reason": "停止维护"})
    assert retired.status_code == 200
    pos = retired.headers["x-ledger-position"]

    now_rows = office.get("/catalog/entries", headers={"X-Min-Position": pos}).json()["items"]
    assert [r["status"] for r in now_rows] == ["retired"]
    then_rows = office.get("/catalog/entries", params={"at": then.isoformat()}).json()
    assert [r["status"] for r in then_rows["items"]] == ["published"] and then_rows["position"] < int(pos)
    assert [g["status"] for g in office.get("/grants", params={"at": then.isoformat()}).json()["items"]] == ["active"]
    current = office.get("/grants", headers={"X-Min-Position": pos}).json()["items"]
    assert [g["status"] for g in current] == ["suspended"]

    summary = office.get("/state", params={"at": then.isoformat()}).json()
    assert summary["catalog"]["published"] == 1 and summary["grants"]["by_status"] == {"active": 1}
    assert summary["grants"]["in_force"] == 1
    assert office.get("/state", params={"at": "not-a-date"}).status_code == 400
    assert server.client().get("/state", params={"at": then.isoformat()}).status_code == 401
