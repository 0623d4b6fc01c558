"""A pending revision is its provider's own: other organizations read the published version, everywhere."""

from __future__ import annotations

import msgspec

from domain.catalog_values import ReviewDecision
from domain.organizations import Role
from tests.api.test_catalog_api import token
from tests.conftest import TestClock
from tests.support import PASS, Division, cmd, content, items

SECRET_NAME = "未发布的修订名称"
SECRET_ITEM = "PENDING_SECRET"


def _world(runtime, admin, clock: TestClock):
    """div-relief publishes an entry and then opens a revision (drafted by 王敏, reviewed by 李强) of it."""
    relief = Division(runtime, admin, "div-relief")
    Division(runtime, admin, "div-elder")
    eid = relief.publish("SX-MZ-0001")
    published_version = runtime.catalog.load(eid).version
    clock.advance(minutes=5)
    runtime.organizations.assign_role(admin, cmd(), code="div-relief", person="王敏", role=Role.CATALOG_COMPILER)
    runtime.organizations.assign_role(admin, cmd(), code="div-relief", person="李强", role=Role.CATALOG_REVIEWER)
    compiler = msgspec.structs.replace(relief.compiler, person="王敏")
    reviewer = msgspec.structs.replace(relief.reviewer, person="李强")
    revised = content(name=SECRET_NAME, data_items=items("DB_ID", "DB_NAME", "DB_AREA", SECRET_ITEM))
    runtime.catalog.revise(compiler, cmd(), eid, content=revised)
    runtime.catalog.submit(compiler, cmd(), eid)
    result = runtime.catalog.review(reviewer, cmd(), eid, review=PASS, decision=ReviewDecision.APPROVE)
    return eid, published_version, result.position


def _leaks(text: str) -> list[str]:
    return [s for s in (SECRET_NAME, SECRET_ITEM, "王敏", "李强", "revising", "approved", "RevisionStarted")
            if s in text]


def test_another_department_reads_only_the_published_version(server, runtime, admin, admin_token, clock):
    eid, published_version, pos = _world(runtime, admin, clock)
    other = server.client(token(runtime, "div-elder", "elder-reader", "requester"))
    mine = server.client(token(runtime, "div-relief", "relief-reader", "catalog_compiler"))
    office = server.client(admin_token)
    wait = {"X-Min-Position": str(pos)}

    detail = other.get(f"/catalog/entries/{eid}", headers=wait)
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert body["status"] == "published" and body["pending"] is None
    assert body["pending_version"] is None and body["pending_state"] is None
    assert body["current"]["name"] == "最低生活保障对象信息"
    assert body["version"] == published_version and detail.headers["etag"] == f'"{published_version}"'
    assert _leaks(detail.text) == []

    # the list, free text and item code search, and the status filters
    listed = other.get("/catalog/entries", headers=wait)
    assert [(e["id"], e["status"], e["pending_version"]) for e in listed.json()["items"]] == [(str(eid), "published", None)]
    assert _leaks(listed.text) == []
    assert other.get("/catalog/entries", params={"q": SECRET_NAME}).json()["items"] == []
    assert other.get("/catalog/entries", params={"item_code": SECRET_ITEM}).json()["items"] == []
    assert other.get("/catalog/entries", params={"status": "revising"}).json()["items"] == []
    assert [e["id"] for e in other.get("/catalog/entries", params={"status": "published"}).json()["items"]] == [str(eid)]

    # as it stood at an instant, and the state summary
    at = runtime.now().isoformat()
    past = other.get("/catalog/entries", params={"at": at})
    assert [(e["status"], e["version"]) for e in past.json()["items"]] == [("published", published_version)]
    assert _leaks(past.text) == []
    state = other.get("/state", params={"at": at}).json()
    assert state["catalog"]["by_status"] == {"published": 1} and state["catalog"]["published"] == 1

    # the entry's timeline: its public events only, without the people
    hist = other.get(f"/history/catalog-entry/{eid}")
    assert hist.status_code == 200, hist.text
    assert [e["type"] for e in hist.json()["events"]] == ["Published"]
    assert _leaks(hist.text) == [] and "div-relief-compiler" not in hist.text and "office-admin" not in hist.text
    then = other.get(f"/history/catalog-entry/{eid}", params={"at": at})
    assert then.json()["state"]["status"] == "published" and _leaks(then.text) == []

    # the provider and the Office still see the revision whole
    own = mine.get(f"/catalog/entries/{eid}", headers=wait).json()
    assert own["status"] == "revising" and own["pending"]["compiler"] == "王敏"
    assert own["pending"]["content"]["name"] == SECRET_NAME and own["pending_state"] == "approved"
    assert [e["id"] for e in mine.get("/catalog/entries", params={"item_code": SECRET_ITEM}).json()["items"]] == [str(eid)]
    assert [e["id"] for e in mine.get("/catalog/entries", params={"status": "revising"}).json()["items"]] == [str(eid)]
    assert office.get(f"/catalog/entries/{eid}").json()["pending"]["compiler"] == "王敏"
    assert "RevisionStarted" in office.get(f"/history/catalog-entry/{eid}").text
    assert "王敏" in mine.get(f"/history/catalog-entry/{eid}").text
    assert office.get("/state", params={"at": at}).json()["catalog"]["by_status"] == {"revising": 1}


def test_status_published_lists_every_entry_whose_published_version_is_in_force(server, runtime, admin, admin_token,
                                                                                clock):
    eid, _, pos = _world(runtime, admin, clock)
    relief = Division.__new__(Division)  # a second, plain published entry of the same provider
    relief.rt, relief.admin, relief.code = runtime, admin, "div-relief"
    relief.compiler = msgspec.structs.replace(admin, person="div-relief-compiler", organization="div-relief",
                                              roles=frozenset({"catalog_compiler"}))
    relief.reviewer = msgspec.structs.replace(admin, person="div-relief-reviewer", organization="div-relief",
                                              roles=frozenset({"catalog_reviewer"}))
    plain = relief.publish("SX-MZ-0002", content(data_items=items("P_ID")))
    office = server.client(admin_token)
    mine = server.client(token(runtime, "div-relief", "relief-reader", "catalog_compiler"))
    at = runtime.now().isoformat()
    for c in (office, mine):
        listed = c.get("/catalog/entries", params={"status": "published"}, headers={"X-Min-Position": str(pos)})
        assert sorted(e["id"] for e in listed.json()["items"]) == sorted([str(eid), str(plain)]), listed.text
        then = c.get("/catalog/entries", params={"status": "published", "at": at}).json()["items"]
        assert len(then) == c.get("/state", params={"at": at}).json()["catalog"]["published"] == 2
