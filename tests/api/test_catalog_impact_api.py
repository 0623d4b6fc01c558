"""A catalog revision's impact on live grants over HTTP: listed before publication, re-reviewed after."""

from __future__ import annotations

import msgspec

from domain.catalog_values import DeliveryMethod, ShareClass
from tests.api.test_catalog_api import PASS, org, token
from tests.api.test_sharing_api import published_entry, request_body

# issue 13's done-when: end to end on both stores and both crypto profiles (the fixtures parametrize it)
from tests.integrity.conftest import profile, settings  # noqa: F401
from tests.support import content, items


def grant(server, runtime, office, eid: str, holder: str, fields: list[str]) -> str:
    requester = server.client(token(runtime, holder, f"{holder}-申请人", "requester"))
    rid = requester.post("/share-requests", json=request_body(eid, fields)).json()["id"]
    assert office.post(f"/share-requests/{rid}/review", json={"decision": "approve"}).status_code == 200
    [gid] = office.post(f"/share-requests/{rid}/orders").json()["new_grants"]
    return gid


def revise(server, runtime, office, eid: str, **over) -> None:
    comp = server.client(token(runtime, "div-relief", "div-relief-编目员", "catalog_compiler"))
    rev = server.client(token(runtime, "div-relief", "div-relief-审核员", "catalog_reviewer"))
    body = {"content": msgspec.to_builtins(content(**over))}
    assert comp.post(f"/catalog/entries/{eid}/revise", json=body).status_code == 200
    assert comp.post(f"/catalog/entries/{eid}/submit").status_code == 200
    assert rev.post(f"/catalog/entries/{eid}/review", json=PASS).status_code == 200



def test_impact_listed_before_publication_and_re_reviews_queued_after(server, runtime, admin_token):
    office = server.client(admin_token)
    for code in ("div-relief", "div-elder", "div-welfare"):
        org(office, code)
    eid = published_entry(server, runtime, office)
    names = grant(server, runtime, office, eid, "div-elder", ["DB_NAME"])
    areas = grant(server, runtime, office, eid, "div-welfare", ["DB_AREA"])
    reviewer = server.client(token(runtime, "div-relief", "div-relief-审核员", "catalog_reviewer"))

    # a revision that drops DB_AREA and makes the data restricted
    revise(server, runtime, office, eid, data_items=items("DB_ID", "DB_NAME"), share_class=ShareClass.RESTRICTED,
           share_conditions="仅限救助业务核对")
    assert reviewer.get(f"/catalog/entries/{eid}/impact").status_code == 403
    impact = office.get(f"/catalog/entries/{eid}/impact").json()
    assert (impact["current_version"], impact["pending_version"], impact["pending_state"]) == (1, 2, "approved")
    rows = {g["grant_id"]: g for g in impact["grants"]}
    assert rows[names]["how"] == ["reclassified"] and rows[names]["fields_removed"] == []
    assert rows[areas]["how"] == ["fields_removed", "reclassified"] and rows[areas]["fields_removed"] == ["DB_AREA"]
    assert (rows[areas]["share_class_from"], rows[areas]["share_class_to"]) == ("unconditional", "restricted")
    assert not any(g["suspended"] for g in impact["grants"])

    published = office.post(f"/catalog/entries/{eid}/publish")
    assert published.status_code == 200
    pos = published.headers["x-ledger-position"]
    queue = office.get("/grant-reviews", params={"status": "open"}, headers={"X-Min-Position": pos}).json()
    assert sorted(r["grant_id"] for r in queue["items"]) == sorted([names, areas])
    assert reviewer.get("/grant-reviews").status_code == 403
    [area_review] = [r for r in queue["items"] if r["grant_id"] == areas]
    assert area_review["how"] == ["fields_removed", "reclassified"] and area_review["entry_version"] == 2
    assert office.get(f"/catalog/entries/{eid}/impact").json()["grants"] == []  # nothing pending any more

    # closing records the Office's decision; revoke acts on the grant in the same transaction
    refused = reviewer.post(f"/grant-reviews/{area_review['id']}/close", json={"decision": "keep", "comment": "x"})
    assert refused.status_code == 403
    closed = office.post(f"/grant-reviews/{area_review['id']}/close",
                         json={"decision": "revoke", "comment": "所授字段已停止提供"})
    assert closed.status_code == 200, closed.text
    assert (closed.json()["status"], closed.json()["decision"]) == ("closed", "revoke")
    after = closed.headers["x-ledger-position"]
    assert office.get(f"/grants/{areas}", headers={"X-Min-Position": after}).json()["status"] == "revoked"
    again = office.post(f"/grant-reviews/{area_review['id']}/close", json={"decision": "keep", "comment": "再次"})
    assert again.status_code == 409
    history = office.get(f"/history/grant-review/{area_review['id']}").json()
    assert [e["type"] for e in history["events"]][-1].endswith("Closed")

    # not shareable: the grants are suspended at once (SHR-4) and each still gets its re-review
    revise(server, runtime, office, eid, data_items=items("DB_ID", "DB_NAME"), share_class=ShareClass.NOT_SHAREABLE,
           legal_basis="《社会救助暂行办法》第六十六条", delivery_methods=(DeliveryMethod.ONLINE_QUERY,))
    [hit] = office.get(f"/catalog/entries/{eid}/impact").json()["grants"]
    assert hit["grant_id"] == names and hit["suspended"] is True
    assert hit["how"] == ["reclassified", "method_withdrawn"] and hit["method_withdrawn"] == "interface"
    pos = office.post(f"/catalog/entries/{eid}/publish").headers["x-ledger-position"]
    assert office.get(f"/grants/{names}", headers={"X-Min-Position": pos}).json()["status"] == "suspended"
    still = office.get("/grant-reviews", params={"status": "open"}, headers={"X-Min-Position": pos}).json()["items"]
    assert sorted((r["grant_id"], r["entry_version"]) for r in still) == [(names, 2), (names, 3)]
    [third] = [r for r in still if r["entry_version"] == 3]
    assert third["impact"]["suspended"] is True and third["impact"]["share_class_to"] == "not_shareable"
