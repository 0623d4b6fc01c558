"""The compliance walk-through over HTTP (docs/walkthrough-compliance.md): a denied access becomes a violation
candidate, the Office confirms it and issues a notice, the organization reports, the Office accepts."""

from __future__ import annotations

import json
from datetime import timedelta

from tests.api.test_access_log_api import body
from tests.api.test_catalog_api import token
from tests.api.test_cli import cli
from tests.application.access_log_world import World
from tests.support import cmd


def test_walkthrough_a_denied_access_is_confirmed_and_rectified(server, runtime, admin, admin_token, clock):
    w = World(runtime, admin, clock)
    office = server.client(admin_token)
    platform = server.client(token(runtime, "office", "交换平台", "platform"))
    elder = server.client(token(runtime, "div-elder", "老龄处系统管理员", "system_manager"))
    welfare = server.client(token(runtime, "div-welfare", "福利处系统管理员", "system_manager"))
    auditor = server.client(token(runtime, "office", "审计员", "auditor"))

    posted = platform.post("/access-logs", json=body(w.access("div-elder", purpose="其他用途", request_id="r-9")))
    assert posted.status_code == 200 and posted.json()["denied"] == 1
    run = runtime.monitors.run(clock.now())  # what the background sweep and `civic-ledger monitor` do
    assert run.by_kind == {"VIO-3": 1}
    pos = str(runtime.ledger.max_position())

    listed = office.get("/violations", params={"status": "candidate", "min_position": pos}).json()
    [v] = listed["items"]
    assert (v["kind"], v["subject"], v["key"]) == ("VIO-3", "div-elder", "log:r-9")
    assert elder.get("/violations").json()["items"] == []  # not the organization's business until confirmed
    assert elder.get(f"/violations/{v['id']}").status_code == 404
    assert elder.get(f"/history/violation/{v['id']}").status_code == 404

    assert elder.post(f"/violations/{v['id']}/confirm", json={}).status_code == 403
    confirmed = office.post(f"/violations/{v['id']}/confirm", json={"comment": "核实属实"},
                            headers={"Idempotency-Key": "c-1", "If-Match": '"1"'})
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed", confirmed.text
    history = elder.get(f"/history/violation/{v['id']}")   # its own case, now that it is confirmed
    assert history.status_code == 200 and [e["type"] for e in history.json()["events"]] == [
        "CandidateRaised", "Confirmed"]
    assert welfare.get(f"/history/violation/{v['id']}").status_code == 404
    late = office.post(f"/violations/{v['id']}/notice",
                       json={"deadline": (clock.now() - timedelta(days=1)).isoformat(), "requirements": "x"})
    assert late.status_code in (409, 422)
    deadline = (clock.now() + timedelta(days=30)).isoformat()
    noticed = office.post(f"/violations/{v['id']}/notice", json={"deadline": deadline, "requirements": "按授权用途调用"})
    assert noticed.json()["status"] == "notice_issued"

    other = welfare.post(f"/violations/{v['id']}/report", json={"report": "x"})
    assert other.status_code == 422 and other.json()["rule"] == "VIO-3" and other.json()["article"] == "第三十八条"
    reported = elder.post(f"/violations/{v['id']}/report", json={"report": "已停止以其他用途调用"})
    assert reported.status_code == 200 and reported.json()["status"] == "rectification_reported"
    mine = elder.get("/violations", params={"min_position": reported.headers["x-ledger-position"]}).json()["items"]
    assert [m["id"] for m in mine] == [v["id"]]
    line = elder.get("/compliance/organizations/div-elder").json()
    assert line["open_violations"] == 1 and "candidates" not in line
    assert elder.get("/compliance/summary", params={"org": "div-welfare"}).status_code == 403

    accepted = office.post(f"/violations/{v['id']}/accept", json={"comment": "整改到位"})
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    seen = auditor.get(f"/violations/{v['id']}", params={"min_position": accepted.headers["x-ledger-position"]})
    assert seen.json()["status"] == "accepted" and seen.json()["closed_by"] == "office-admin"
    summary = office.get("/compliance/summary").json()["items"]
    assert all(s["open_violations"] == 0 for s in summary)

    raised = office.post("/violations", json={"kind": "VIO-5", "subject": "div-welfare", "summary": "未按期报送目录",
                                             "evidence": [{"kind": "event", "ref": "x:1"}]})
    assert raised.status_code == 201 and raised.json()["status"] == "confirmed"
    assert welfare.post("/violations", json={"kind": "VIO-5", "subject": "div-elder", "summary": "s",
                                             "evidence": [{"kind": "event", "ref": "x:1"}]}).status_code == 403
    board = office.get("/compliance/organizations/div-welfare",
                       params={"min_position": raised.headers["x-ledger-position"]}).json()
    assert board["open_violations"] == 1 and board["by_kind"] == {"VIO-5": 1}
    assert [x["id"] for x in board["violations"]] == [raised.json()["id"]]


def test_the_monitor_command_raises_each_candidate_once(settings, runtime, admin, clock):
    w = World(runtime, admin, clock)
    runtime.access_log.record(w.platform, cmd(), [w.access("xa-nobody", request_id="r-cli")])
    runtime.close()
    first = cli(settings, "monitor")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["by_kind"].get("VIO-3") == 1
    again = json.loads(cli(settings, "monitor").stdout)
    assert "VIO-3" not in again["by_kind"] and again["scanned"] == 0
