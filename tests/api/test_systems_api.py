"""The systems walk-through over HTTP (docs/walkthrough-systems.md): a provincial system from proposal to live and
through a confirmed upgrade, with the refusals of 第十三条, 第十四条, 第十五条 and 第三十六条 as problem+json."""

from __future__ import annotations

from tests.api.test_catalog_api import org, token
from tests.api.test_sharing_api import published_entry
from tests.support import items

PLAN = {"title": "社会救助信息系统（二期）建设方案", "summary": "救助对象认定与资金发放一体化", "document": "陕民办〔2026〕1号"}
CATALOG = [
    {"resource_code": "SX-MZ-DB", "name": "低保对象信息", "item_codes": ["DB_ID", "DB_NAME"], "existing": True},
    {"resource_code": "SX-MZ-JZ", "name": "救助对象居住信息", "item_codes": ["JZ_NO", "HJ_ADDR"]},
]
JUSTIFICATION = {
    "necessity": "救助审核需要", "feasibility": "依托现有平台", "relation_to_existing": "复用低保目录",
    "sharing_fit": "经交换平台共享", "mechanism": "乡镇经办录入", "catalog": "见项目数据资源目录", "funding": "省级财政专项",
}
WHY = "户籍地址按救助申请时居住地核实，与公安户籍口径不同"


def refused(r, rule: str, article: str) -> dict:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert (problem["rule"], problem["article"]) == (rule, article), problem
    return problem


def test_walkthrough_proposal_to_live_and_a_confirmed_upgrade(server, runtime, admin_token):
    office = server.client(admin_token)
    org(office, "div-relief")
    org(office, "sx-dept-police", kind="provincial_department", parent=None)
    published_entry(server, runtime, office, provider="div-relief", code="SX-MZ-DB")
    published_entry(server, runtime, office, provider="sx-dept-police", code="SX-GA-HJ",
                    data_items=items("HJ_ID", "HJ_ADDR"))
    manager = server.client(token(runtime, "div-relief", "梁宇", "system_manager"))

    # 1. the proposal: a construction plan and the project data catalog (第十一条, 第十二条)
    r = manager.post("/systems", json={"name": "社会救助信息系统", "plan": PLAN, "catalog": CATALOG})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert r.headers["location"] == f"/systems/{sid}"

    # 2. one datum, one source: HJ_ADDR is published by the police department (第十四条)
    dup = refused(manager.post(f"/systems/{sid}/justification", json=JUSTIFICATION), "CAT-5", "第十四条")
    assert dup["context"] == {"item_code": "HJ_ADDR", "existing_source": "SX-GA-HJ", "provider": "sx-dept-police"}
    r = manager.post(f"/systems/{sid}/justification",
                     json={**JUSTIFICATION, "duplicate_reasons": {"HJ_ADDR": WHY}})
    assert r.status_code == 200 and r.json()["state"] == "justified", r.text
    queue = office.get("/systems/queue", headers={"X-Min-Position": r.headers["x-ledger-position"]}).json()["items"]
    assert [(q["task"], q["system_id"]) for q in queue] == [("review_justification", sid)]

    # 3. the Office accepts the re-collection and approves (SYS-1, COL-1, CAT-5)
    refused(office.post(f"/systems/{sid}/review", json={"decision": "approve"}), "CAT-5", "第十四条")
    assert office.post(f"/systems/{sid}/justification/accept", json={"item_code": "HJ_ADDR"}).status_code == 200
    assert office.post(f"/systems/{sid}/review", json={"decision": "approve", "comment": "同意建设"}).status_code == 200

    # 4. connections, then go-live refused before the compliance test (第三十六条)
    refused(manager.post(f"/systems/{sid}/go-live"), "SYS-2", "第十三条")
    for platform, ref in (("exchange", "JH-2026-001"), ("integration", "YT-2026-001")):
        r = manager.post(f"/systems/{sid}/connections", json={"platform": platform, "reference": ref})
        assert r.status_code == 200, r.text
    early = refused(manager.post(f"/systems/{sid}/go-live"), "SYS-4", "第三十六条")
    assert "compliance test" in early["detail"]
    r = office.post(f"/systems/{sid}/compliance-tests", json={"passed": True})
    assert r.status_code == 200, r.text
    r = manager.post(f"/systems/{sid}/go-live", json={"on": "2026-03-10"})
    assert r.status_code == 200 and r.json()["state"] == "live", r.text

    # 5. an upgrade: implemented only after the Office confirms (第十五条)
    r = manager.post(f"/systems/{sid}/changes",
                     json={"kind": "upgrade", "description": "二期升级，新增救助资金接口", "affects_sharing": True})
    assert r.status_code == 200 and r.json()["filing"] == 1, r.text
    refused(manager.post(f"/systems/{sid}/changes/1/implement"), "SYS-3", "第十五条")
    assert manager.post(f"/systems/{sid}/changes/1/confirm").status_code == 403
    assert office.post(f"/systems/{sid}/changes/1/confirm", json={"comment": "同意"}).status_code == 200
    r = manager.post(f"/systems/{sid}/changes/1/implement")
    assert r.status_code == 200, r.text

    got = manager.get(f"/systems/{sid}", headers={"X-Min-Position": r.headers["x-ledger-position"]})
    row = got.json()
    assert row["state"] == "live" and row["live_since"] == "2026-03-10" and row["findings"] == []
    assert row["connections"] == {"exchange": "JH-2026-001", "integration": "YT-2026-001"}
    assert [(f["number"], f["kind"], f["state"]) for f in row["filings"]] == [(1, "upgrade", "implemented")]
    assert got.headers["etag"] == r.headers["etag"]
    history = manager.get(f"/history/system/{sid}").json()["events"]
    assert [e["type"] for e in history][-2:] == ["ChangeConfirmed", "ChangeImplemented"]


def test_roles_scoping_idempotency_and_versions(server, runtime, admin_token):
    office = server.client(admin_token)
    org(office, "div-relief")
    org(office, "div-elder")
    manager = server.client(token(runtime, "div-relief", "梁宇", "system_manager"))
    stranger = server.client(token(runtime, "div-elder", "周敏", "system_manager"))
    compiler = server.client(token(runtime, "div-relief", "王敏", "catalog_compiler"))
    proposal = {"name": "社会救助信息系统", "plan": PLAN, "catalog": []}

    assert compiler.post("/systems", json=proposal).status_code == 403
    r = manager.post("/systems", json=proposal, headers={"Idempotency-Key": "propose-1"})
    again = manager.post("/systems", json=proposal, headers={"Idempotency-Key": "propose-1"})
    assert r.status_code == again.status_code == 201 and again.json() == r.json()
    assert again.headers["idempotent-replayed"] == "true"
    sid, pos = r.json()["id"], r.headers["x-ledger-position"]

    listed = office.get("/systems", params={"state": "proposed", "min_position": pos}).json()["items"]
    assert [s["id"] for s in listed] == [sid]
    assert stranger.get("/systems", params={"min_position": pos}).json()["items"] == []
    assert stranger.get(f"/systems/{sid}").status_code == 404
    assert stranger.get(f"/history/system/{sid}").status_code == 404
    assert stranger.get("/systems/queue").status_code == 403

    stale = manager.post(f"/systems/{sid}/justification", json=JUSTIFICATION, headers={"If-Match": '"9"'})
    assert stale.status_code == 409 and stale.headers["content-type"].startswith("application/problem+json")
    missing = manager.post(f"/systems/{sid}/justification", json={**JUSTIFICATION, "funding": ""})
    assert refused(missing, "COL-1", "第十一条")["context"]["missing"] == ["funding"]
    justified = manager.post(f"/systems/{sid}/justification", json=JUSTIFICATION, headers={"If-Match": '"1"'})
    assert justified.status_code == 200, justified.text
    refused(office.post(f"/systems/{sid}/review", json={"decision": "approve"}), "SYS-1", "第十二条")
    bad = manager.post(f"/systems/{sid}/connections", json={"platform": "moon", "reference": "x"})
    assert bad.status_code == 400

    board = office.get("/systems/compliance",
                       params={"min_position": justified.headers["x-ledger-position"]}).json()["items"]
    assert [(b["id"], [f["code"] for f in b["findings"]]) for b in board] == [(sid, ["no_project_catalog"])]
    assert stranger.get("/systems/compliance").json()["items"] == []
