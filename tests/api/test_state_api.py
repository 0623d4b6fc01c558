"""State at a date over HTTP: the catalog and grants as they stood, without disturbing today's answer."""

from __future__ import annotations

from datetime import timedelta

from tests.api.test_catalog_api import org, token
from tests.api.test_sharing_api import grant_for, sharing


def test_catalog_and_grants_as_they_stood(server, runtime, admin_token, clock):
    office, eid, requester = sharing(server, runtime, admin_token)
    grant_for(office, requester, eid)
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


PLAN = {"title": "社会救助信息系统（二期）建设方案", "summary": "救助对象认定与资金发放一体化", "document": "陕民办〔2026〕1号"}
CATALOG = [{"resource_code": "SX-MZ-JZ", "name": "救助对象居住信息", "item_codes": ["JZ_NO"]}]
JUSTIFICATION = {
    "necessity": "救助审核需要", "feasibility": "依托现有平台", "relation_to_existing": "复用低保目录",
    "sharing_fit": "经交换平台共享", "mechanism": "乡镇经办录入", "catalog": "见项目数据资源目录", "funding": "省级财政专项",
}
EVIDENCE = [{"kind": "event", "ref": "x:1"}]


def test_systems_and_violations_as_they_stood(server, runtime, admin_token, clock):
    office = server.client(admin_token)
    org(office, "div-relief")
    org(office, "div-elder")
    manager = server.client(token(runtime, "div-relief", "梁宇", "system_manager"))
    stranger = server.client(token(runtime, "div-elder", "周敏", "system_manager"))
    a = manager.post("/systems", json={"name": "社会救助信息系统", "plan": PLAN, "catalog": CATALOG}).json()["id"]
    assert manager.post(f"/systems/{a}/justification", json=JUSTIFICATION).status_code == 200
    v1 = office.post("/violations", json={"kind": "VIO-5", "subject": "div-relief", "summary": "未按期报送目录",
                                          "evidence": EVIDENCE}).json()["id"]
    then = clock.now()
    clock.advance(days=1)
    b = manager.post("/systems", json={"name": "养老服务系统", "plan": PLAN, "catalog": []}).json()["id"]
    assert office.post(f"/systems/{a}/review", json={"decision": "approve"}).status_code == 200
    notice = {"deadline": (clock.now() + timedelta(days=30)).isoformat(), "requirements": "补报目录"}
    assert office.post(f"/violations/{v1}/notice", json=notice).status_code == 200
    raised = office.post("/violations", json={"kind": "VIO-5", "subject": "div-relief", "summary": "目录未更新",
                                              "evidence": EVIDENCE})
    v2, pos = raised.json()["id"], raised.headers["x-ledger-position"]
    at = {"at": then.isoformat()}

    now = manager.get("/systems", params={"min_position": pos}).json()
    assert sorted((s["id"], s["state"]) for s in now["items"]) == sorted([(a, "approved"), (b, "proposed")])
    past = manager.get("/systems", params=at).json()
    assert [(s["id"], s["state"]) for s in past["items"]] == [(a, "justified")]  # b did not exist yet
    assert past["position"] < int(pos)
    assert office.get("/systems", params={**at, "state": "approved"}).json()["items"] == []
    assert stranger.get("/systems", params=at).json()["items"] == []  # the same visibility as today's list
    board = office.get("/systems/compliance", params={"min_position": pos}).json()["items"]
    assert [s["id"] for s in board] == [b]
    assert office.get("/systems/compliance", params=at).json()["items"] == []

    now_v = manager.get("/violations", params={"min_position": pos}).json()["items"]
    assert [(v["id"], v["status"]) for v in now_v] == [(v2, "confirmed"), (v1, "notice_issued")]
    past_v = manager.get("/violations", params=at).json()
    assert [(v["id"], v["status"]) for v in past_v["items"]] == [(v1, "confirmed")]
    assert past_v["position"] == past["position"]
    assert stranger.get("/violations", params=at).json()["items"] == []
    [line] = manager.get("/compliance/summary", params=at).json()["items"]
    assert (line["organization"], line["open_violations"], line["non_compliant_systems"]) == ("div-relief", 1, 0)
    [line] = manager.get("/compliance/summary", params={"min_position": pos}).json()["items"]
    assert (line["open_violations"], line["non_compliant_systems"]) == (2, 1)

    summary = manager.get("/state", params=at).json()
    assert summary["systems"] == {"by_state": {"justified": 1}, "live": 0}
    assert summary["violations"] == {"by_status": {"confirmed": 1}, "open": 1}
    assert stranger.get("/state", params=at).json()["violations"] == {"by_status": {}, "open": 0}
    assert office.get(summary["lists"]["systems"]).json()["items"] == past["items"]
    assert office.get(summary["lists"]["violations"]).json()["items"] == past_v["items"]
    for path in ("/systems", "/systems/compliance", "/violations", "/compliance/summary"):
        bad = office.get(path, params={"at": "not-a-date"})
        assert bad.status_code == 400 and bad.headers["content-type"].startswith("application/problem+json"), path


def test_grants_in_force_are_judged_in_utc_whatever_the_offset_of_at(server, runtime, admin_token):
    office, eid, requester = sharing(server, runtime, admin_token)
    grant_for(office, requester, eid)  # the order answers 201 with the one new grant
    # valid to 2026-12-31 (Beijing), i.e. until 2026-12-31T15:59:59.999999Z
    for at, in_force in (("2026-12-31T23:30:00+08:00", 1), ("2026-12-31T15:30:00+00:00", 1),
                         ("2027-01-01T00:30:00+08:00", 0), ("2026-12-31T16:30:00+00:00", 0)):
        assert office.get("/state", params={"at": at}).json()["grants"]["in_force"] == in_force, at
