"""Timelines: every event with the state after it, the object at an instant, and a diff of two versions."""

from __future__ import annotations

from tests.api.test_catalog_api import org
from tests.api.test_sharing_api import published_entry


def test_timeline_state_at_and_diff(server, runtime, admin_token, clock):
    office = server.client(admin_token)
    org(office, "div-relief")
    eid = published_entry(server, runtime, office)
    published_at = clock.now()
    clock.advance(days=3)
    assert office.post(f"/catalog/entries/{eid}/retire", json={"reason": "停止维护"}).status_code == 200

    timeline = office.get(f"/history/catalog-entry/{eid}").json()["events"]
    assert [e["type"] for e in timeline] == ["Drafted", "Submitted", "Reviewed", "Published", "Retired"]
    assert [e["state"]["version"] for e in timeline] == [1, 2, 3, 4, 5]
    assert timeline[3]["state"]["current"]["state"] == "published" and timeline[4]["state"]["retired"] is True
    assert all(e["position"] < f["position"] for e, f in zip(timeline, timeline[1:], strict=False))

    then = office.get(f"/history/catalog-entry/{eid}", params={"at": published_at.isoformat()}).json()
    assert then["version"] == 4 and then["state"]["retired"] is False
    before = office.get(f"/history/catalog-entry/{eid}", params={"at": "2000-01-01T00:00:00Z"})
    assert before.status_code == 404

    diff = office.get(f"/history/catalog-entry/{eid}/diff", params={"from_version": 4, "to_version": 5}).json()
    assert {c["field"] for c in diff["changes"]} == {"retired", "version"}
    assert office.get(f"/history/catalog-entry/{eid}/diff", params={"from_version": 1, "to_version": 9}).status_code == 404
    assert office.get("/history/no-such-kind/x").status_code == 404
