"""The sharing walk-through over HTTP: restricted fields narrowed, an order, a single use, SHR-3 refused."""

from __future__ import annotations

from typing import NamedTuple

import httpx
import msgspec
import pytest

from domain.catalog_values import ShareClass
from tests.api.test_catalog_api import PASS, entry_body, org, token


def published_entry(server, runtime, office, provider="div-relief", code="SX-MZ-DB", **over) -> str:
    comp = server.client(token(runtime, provider, f"{provider}-编目员", "catalog_compiler"))
    rev = server.client(token(runtime, provider, f"{provider}-审核员", "catalog_reviewer"))
    r = comp.post("/catalog/entries", json=entry_body(code, **over))
    assert r.status_code == 201, r.text
    eid = r.json()["id"]
    assert comp.post(f"/catalog/entries/{eid}/submit").status_code == 200
    assert rev.post(f"/catalog/entries/{eid}/review", json=PASS).status_code == 200
    assert office.post(f"/catalog/entries/{eid}/publish").status_code == 200
    return eid


def request_body(eid: str, fields: list[str], purpose: str = "高龄津贴资格核对") -> dict:
    return {"scenario": "internal_sharing", "reason": "核对高龄津贴申请人低保身份", "purpose": purpose,
            "entries": [{"entry_id": eid, "fields": fields}], "valid_from": "2026-03-01", "valid_to": "2026-12-31",
            "delivery_method": "interface"}


class Sharing(NamedTuple):
    office: httpx.Client
    entry: str
    requester: httpx.Client


def sharing(server, runtime, admin_token, **entry) -> Sharing:
    """Where most sharing tests start: the Office, an entry div-relief published (`entry`: its content's
    overrides) and a requester of div-elder."""
    office = server.client(admin_token)
    org(office, "div-relief")
    org(office, "div-elder")
    eid = published_entry(server, runtime, office, **entry)
    return Sharing(office, eid, server.client(token(runtime, "div-elder", "周敏", "requester")))


def grant_for(office, requester, entry_id: str, fields: list[str] | tuple[str, ...] = ("DB_NAME",)) -> str:
    """The requester asks for `fields` of the entry, the Office approves and orders: the one new grant's id."""
    rid = requester.post("/share-requests", json=request_body(entry_id, list(fields))).json()["id"]
    assert office.post(f"/share-requests/{rid}/review", json={"decision": "approve"}).status_code == 200
    order = office.post(f"/share-requests/{rid}/orders")
    assert order.status_code == 201, order.text
    [gid] = order.json()["new_grants"]
    return gid


def test_walkthrough_narrow_approve_order_single_use(server, runtime, admin_token):
    office, eid, requester = sharing(server, runtime, admin_token, share_class=ShareClass.RESTRICTED,
                                     share_conditions="仅限民政业务核对")
    platform = server.client(token(runtime, "office", "交换平台", "platform"))

    asked = requester.post("/share-requests", json=request_body(eid, ["DB_ID", "DB_NAME", "DB_AREA"]))
    assert asked.status_code == 201, asked.text
    rid = asked.json()["id"]
    queue = office.get("/share-requests", params={"status": "submitted"},
                       headers={"X-Min-Position": asked.headers["x-ledger-position"]})
    assert [q["id"] for q in queue.json()["items"]] == [rid]

    wider = office.post(f"/share-requests/{rid}/review",
                        json={"decision": "approve", "fields": {eid: ["DB_NAME", "DB_PHONE"]}})
    assert wider.status_code == 422 and wider.json()["rule"] == "SHR-5"
    by_requester = requester.post(f"/share-requests/{rid}/review", json={"decision": "approve"})
    assert by_requester.status_code == 403
    narrowed = office.post(f"/share-requests/{rid}/review",
                           json={"decision": "approve", "fields": {eid: ["DB_NAME", "DB_AREA"]}})
    assert narrowed.status_code == 200, narrowed.text
    assert narrowed.json()["approved"][0]["fields"] == ["DB_NAME", "DB_AREA"]

    order = office.post(f"/share-requests/{rid}/orders")
    assert order.status_code == 201, order.text
    [gid] = order.json()["new_grants"]
    pos = order.headers["x-ledger-position"]
    grant = office.get(f"/grants/{gid}", headers={"X-Min-Position": pos}).json()
    assert grant["kind"] == "single_use" and grant["fields"] == ["DB_AREA", "DB_NAME"]

    ask = {"holder": "div-elder", "entry_id": eid, "fields": ["DB_NAME"], "purpose": "高龄津贴资格核对",
           "method": "interface"}
    id_field = platform.get("/grant-status", params={**ask, "fields": "DB_ID,DB_NAME", "min_position": pos})
    assert id_field.status_code == 200 and id_field.json()["allowed"] is False
    stands_on = id_field.headers["x-ledger-position"]  # the answer names the position it stands on ...
    assert int(stands_on) >= int(pos)
    again = platform.get("/grant-status", params={**ask, "fields": "DB_ID,DB_NAME"}, headers={"X-Min-Position": stands_on})
    assert again.status_code == 200 and int(again.headers["x-ledger-position"]) >= int(stands_on)  # ... and honours it
    [reason] = id_field.json()["reasons"]
    assert reason["code"] == "field_not_granted" and reason["fields"] == ["DB_ID"] and reason["rule"] == "USE-1"

    first = platform.post("/grant-status", json={**ask, "record_use": True})
    assert first.status_code == 200, first.text
    assert first.json()["allowed"] is True and first.json()["grant_id"] == gid and first.json()["recorded_use"]
    second = platform.post("/grant-status", json={**ask, "record_use": True})
    assert second.json()["allowed"] is False
    assert [r["code"] for r in second.json()["reasons"]] == ["consumed"]
    later = platform.get("/grant-status", params={**ask, "min_position": first.headers["x-ledger-position"]})
    assert later.json()["allowed"] is False

    # the past is judged from history: before the use, the same question was allowed
    before_use = platform.get("/grant-status", params={**ask, "at": grant["granted_at"]})
    assert before_use.json()["allowed"] is True, before_use.text


def test_a_municipal_government_may_not_apply_directly(server, runtime, admin_token):
    office = server.client(admin_token)
    org(office, "div-relief")
    org(office, "xa-gov", kind="municipal_government", level="city")
    eid = published_entry(server, runtime, office)
    gov = server.client(token(runtime, "xa-gov", "市政府联络员", "requester"))
    refused = gov.post("/share-requests", json=request_body(eid, ["DB_NAME"]))
    assert refused.status_code == 422
    assert refused.json()["rule"] == "SHR-3" and refused.json()["article"] == "第二十三条"
    assert refused.headers["content-type"].startswith("application/problem+json")


def test_grant_status_is_asked_only_by_those_concerned(server, runtime, admin_token):
    office = server.client(admin_token)
    org(office, "div-relief")
    org(office, "div-other")
    eid = published_entry(server, runtime, office)
    stranger = server.client(token(runtime, "div-other", "路人", "requester"))
    q = {"holder": "div-elder", "entry_id": eid, "fields": "DB_NAME", "purpose": "x", "method": "interface"}
    assert stranger.get("/grant-status", params=q).status_code == 403
    provider = server.client(token(runtime, "div-relief", "提供方", "catalog_reviewer"))
    answered = provider.get("/grant-status", params=q)
    assert answered.status_code == 200 and answered.json()["reasons"][0]["code"] == "no_grant"
    assert server.client().get("/grant-status", params=q).status_code == 401


def test_unconditional_data_reuses_the_interface_grant(server, runtime, admin_token):
    office, eid, requester = sharing(server, runtime, admin_token)
    grants = []
    for fields in (["DB_ID", "DB_NAME"], ["DB_NAME"]):
        rid = requester.post("/share-requests", json=request_body(eid, fields)).json()["id"]
        assert office.post(f"/share-requests/{rid}/review", json={"decision": "approve"}).status_code == 200
        order = office.post(f"/share-requests/{rid}/orders").json()
        grants.append(order)
    assert len(grants[0]["new_grants"]) == 1 and grants[0]["reused_grants"] == []
    assert grants[1]["new_grants"] == [] and grants[1]["reused_grants"] == grants[0]["new_grants"]


def test_retiring_an_entry_suspends_its_grants(server, runtime, admin_token):
    office, eid, requester = sharing(server, runtime, admin_token)
    gid = grant_for(office, requester, eid)
    retired = office.post(f"/catalog/entries/{eid}/retire", json={"reason": "资源停止维护"})
    assert retired.status_code == 200, retired.text
    grant = office.get(f"/grants/{gid}", headers={"X-Min-Position": retired.headers["x-ledger-position"]}).json()
    assert grant["status"] == "suspended" and grant["by_catalog"] is True
    resumed = office.post(f"/grants/{gid}/resume")
    assert resumed.status_code == 422 and resumed.json()["rule"] == "SHR-4"
    body = msgspec.json.decode(office.get(f"/history/grant/{gid}").content)
    assert [e["type"] for e in body["events"]] == ["Granted", "SuspendedForCatalog"]


def test_grant_status_with_proof_true_carries_a_proof_the_offline_verifier_re_derives(server, runtime, admin_token):
    from infrastructure.verifier import VerificationError, load_public_key, verify_answer

    office, eid, requester = sharing(server, runtime, admin_token)
    gid = grant_for(office, requester, eid, ["DB_ID", "DB_NAME"])
    platform = server.client(token(runtime, "office", "交换平台", "platform"))
    ask = {"holder": "div-elder", "entry_id": eid, "fields": "DB_NAME", "purpose": "高龄津贴资格核对",
           "method": "interface"}
    plain = platform.get("/grant-status", params=ask)
    assert plain.status_code == 200 and "proof" not in plain.json()
    r = platform.get("/grant-status", params={**ask, "proof": "true"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["allowed"] and body["grant_id"] == gid
    key = load_public_key(server.client(admin_token).get("/ledger/public-key").text)
    assert verify_answer(body["proof"], key)["decision"]["grant_id"] == gid
    kept = body["proof"]["checkpoint"]
    body["proof"]["answer"]["allowed"] = False
    with pytest.raises(VerificationError):
        verify_answer(body["proof"], key)
    office.post(f"/grants/{gid}/suspend", json={"reason": "核查"})
    later = platform.get("/grant-status", params={**ask, "proof": "true", "since": kept["tree_size"]}).json()
    assert not later["allowed"]
    assert verify_answer(later["proof"], key, kept)["consistent_with"] == kept["tree_size"]
    posted = platform.post("/grant-status", json={**ask, "fields": ["DB_NAME"], "proof": True, "record_use": True})
    assert posted.status_code == 400 and "proof goes with a question" in posted.text
