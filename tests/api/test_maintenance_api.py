"""The maintenance walk-through over HTTP (docs/walkthrough-maintenance.md): a ticket through its four steps with a
send-back, batch modifications executed in scope and refused outside their window, objections answered and overdue."""

from __future__ import annotations

from datetime import timedelta

from tests.api.test_catalog_api import org, token
from tests.api.test_sharing_api import published_entry, request_body

BEFORE, AFTER, OTHER = "sha256:" + "1" * 64, "sha256:" + "2" * 64, "sha256:" + "3" * 64
SYSTEM = "低保信息系统"


def people(server, runtime, admin_token):
    office = server.client(admin_token)
    org(office, "div-relief")
    org(office, "div-elder")
    org(office, "svc-ops", kind="service_unit")
    eid = published_entry(server, runtime, office)
    who = {
        "office": office,
        "maintainer": server.client(token(runtime, "div-relief", "维护员", "maintainer")),
        "approver": server.client(token(runtime, "div-relief", "审批人", "approver")),
        "verifier": server.client(token(runtime, "div-relief", "复核人", "verifier")),
        "operator": server.client(token(runtime, "svc-ops", "运维员", "operator")),
        "requester": server.client(token(runtime, "div-elder", "周敏", "requester")),
    }
    return eid, who


def declaration(eid: str) -> dict:
    return {"entry_id": eid, "fields": ["DB_AREA"], "record_count": 2, "record_refs": ["rk-7f3a", "rk-91c2"],
            "before_digest": BEFORE, "description": "两户居住区划代码录入错误", "method": "system_function",
            "reason": "群众反映，经核实属实"}


def test_walkthrough_a_ticket_four_steps_and_a_send_back(server, runtime, admin_token, clock):
    eid, p = people(server, runtime, admin_token)
    declared = p["maintainer"].post("/maintenance/tickets", json=declaration(eid), headers={"Idempotency-Key": "t-1"})
    assert declared.status_code == 201, declared.text
    tid, pos = declared.json()["id"], declared.headers["x-ledger-position"]
    assert declared.json()["system"] == SYSTEM and declared.json()["responsible"] == "维护员"
    again = p["maintainer"].post("/maintenance/tickets", json=declaration(eid), headers={"Idempotency-Key": "t-1"})
    assert again.json()["id"] == tid and again.headers["idempotent-replayed"] == "true"

    queue = p["approver"].get("/maintenance/tickets/queue", headers={"X-Min-Position": pos})
    assert [t["id"] for t in queue.json()["items"]] == [tid]
    early = p["maintainer"].post(f"/maintenance/tickets/{tid}/apply",
                                 json={"applied_at": clock.now().isoformat(), "after_digest": AFTER})
    assert early.status_code == 422 and early.json()["rule"] == "MNT-1" and early.json()["article"] == "第三十一条"
    assert early.headers["content-type"].startswith("application/problem+json")
    assert p["maintainer"].post(f"/maintenance/tickets/{tid}/approve").status_code == 403
    stale = p["approver"].post(f"/maintenance/tickets/{tid}/approve", headers={"If-Match": '"7"'})
    assert stale.status_code == 409
    approved = p["approver"].post(f"/maintenance/tickets/{tid}/approve", json={"comment": "同意"},
                                  headers={"If-Match": declared.headers["etag"]})
    assert approved.status_code == 200 and approved.json()["status"] == "approved"

    def apply(digest):
        r = p["maintainer"].post(f"/maintenance/tickets/{tid}/apply",
                                 json={"applied_at": clock.now().isoformat(), "after_digest": digest, "note": "在线更正"})
        assert r.status_code == 200, r.text
        return r

    apply(OTHER)
    not_matching = p["verifier"].post(f"/maintenance/tickets/{tid}/recheck",
                                      json={"outcome": "verify", "observed_digest": AFTER})
    assert not_matching.status_code == 422 and not_matching.json()["rule"] == "MNT-1"
    back = p["verifier"].post(f"/maintenance/tickets/{tid}/recheck",
                              json={"outcome": "send_back", "observed_digest": OTHER, "comment": "一户仍不一致"})
    assert back.status_code == 200 and back.json()["status"] == "sent_back"
    apply(AFTER)
    verified = p["verifier"].post(f"/maintenance/tickets/{tid}/recheck",
                                  json={"outcome": "verify", "observed_digest": AFTER, "comment": "两户均一致"})
    assert verified.status_code == 200 and verified.json()["status"] == "verified"
    pos = verified.headers["x-ledger-position"]

    row = p["maintainer"].get(f"/maintenance/tickets/{tid}", headers={"X-Min-Position": pos}).json()
    assert [s["step"] for s in row["steps"]] == ["declared", "approved", "applied", "sent_back", "applied", "verified"]
    assert [s["person"] for s in row["steps"]] == ["维护员", "审批人", "维护员", "复核人", "维护员", "复核人"]
    archive = p["office"].get("/maintenance/archive", params={"system": SYSTEM}).json()["items"]
    assert len(archive) == 6 and {a["ticket_id"] for a in archive} == {tid}
    history = p["office"].get(f"/history/maintenance-ticket/{tid}").json()["events"]
    assert [e["type"] for e in history] == ["Declared", "Approved", "Applied", "SentBack", "Applied", "Verified"]
    assert history[0]["rules"] == ["MNT-1", "SEC-1"]


def test_the_declarer_may_not_approve_and_no_personal_data_is_taken(server, runtime, admin_token):
    eid, p = people(server, runtime, admin_token)
    both = server.client(token(runtime, "div-relief", "维护员", "approver"))
    tid = p["maintainer"].post("/maintenance/tickets", json=declaration(eid)).json()["id"]
    own = both.post(f"/maintenance/tickets/{tid}/approve")
    assert own.status_code == 422 and own.json()["rule"] == "MNT-1"
    leaky = p["maintainer"].post("/maintenance/tickets", json={**declaration(eid), "record_refs": ["610102199001011234"]})
    assert leaky.status_code == 422 and leaky.json()["rule"] == "SEC-1"
    malformed = p["maintainer"].post("/maintenance/tickets", json={**declaration(eid), "record_count": "two"})
    assert malformed.status_code == 400


def test_walkthrough_batches_executed_in_scope_and_refused_outside_the_window(server, runtime, admin_token, clock):
    eid, p = people(server, runtime, admin_token)
    now = clock.now()

    def batch(start, end):
        r = p["maintainer"].post("/maintenance/batches", json={
            "system": SYSTEM, "entries": [eid], "estimated_records": 1200, "window_from": start.isoformat(),
            "window_to": end.isoformat(), "reason": "低保标准调整", "description": "批量重算保障档次"})
        assert r.status_code == 201, r.text
        bid = r.json()["id"]
        queue = p["office"].get("/maintenance/batches/queue", headers={"X-Min-Position": r.headers["x-ledger-position"]})
        assert bid in [b["id"] for b in queue.json()["items"]]
        by_division = p["approver"].post(f"/maintenance/batches/{bid}/review", json={"decision": "approve"})
        assert by_division.status_code == 403
        ok = p["office"].post(f"/maintenance/batches/{bid}/review",
                              json={"decision": "approve", "operator": "运维员", "operator_org": "svc-ops"})
        assert ok.status_code == 200, ok.text
        return bid

    run = {"system": SYSTEM, "entries": [eid], "record_count": 800, "session": "bh-20260302-01"}
    within = batch(now - timedelta(minutes=5), now + timedelta(hours=2))
    executed = p["operator"].post(f"/maintenance/batches/{within}/executions", json=run)
    assert executed.status_code == 201, executed.text
    assert executed.json()["number"] == 1 and executed.json()["records_done"] == 800
    over = p["operator"].post(f"/maintenance/batches/{within}/executions", json={**run, "record_count": 401})
    assert over.status_code == 422 and over.json()["context"]["reasons"] == ["over_estimate"]

    tonight = batch(now + timedelta(hours=12), now + timedelta(hours=14))
    refused = p["operator"].post(f"/maintenance/batches/{tonight}/executions", json=run)
    assert refused.status_code == 422 and refused.headers["content-type"].startswith("application/problem+json")
    body = refused.json()
    assert body["rule"] == "MNT-2" and body["article"] == "第三十二条"
    assert body["context"]["reasons"] == ["before_window"]
    pos = refused.headers["x-ledger-position"]
    candidates = p["office"].get("/maintenance/batches/refused", headers={"X-Min-Position": pos}).json()["items"]
    assert [(c["batch_id"], c["reasons"]) for c in candidates] == [(within, ["over_estimate"]),
                                                                    (tonight, ["before_window"])]
    history = p["office"].get(f"/history/batch-modification/{tonight}").json()["events"]
    assert [e["type"] for e in history] == ["Requested", "Approved", "ExecutionRefused"]
    shown = p["maintainer"].get(f"/maintenance/batches/{within}").json()
    assert [a["outcome"] for a in shown["attempts"]] == ["executed", "refused"] and shown["records_done"] == 800


def test_walkthrough_objections_answered_in_time_and_overdue(server, runtime, admin_token, clock):
    eid, p = people(server, runtime, admin_token)
    rid = p["requester"].post("/share-requests", json=request_body(eid, ["DB_NAME", "DB_AREA"])).json()["id"]
    assert p["office"].post(f"/share-requests/{rid}/review", json={"decision": "approve"}).status_code == 200
    [gid] = p["office"].post(f"/share-requests/{rid}/orders").json()["new_grants"]

    def objection(fields, text):
        r = p["requester"].post("/objections", json={"grant_id": gid, "fields": fields, "description": text})
        assert r.status_code == 201, r.text
        return r.json()

    first = objection(["DB_AREA"], "两户区划代码与户籍地不符")
    second = objection(["DB_NAME"], "一户姓名用字与户籍不一致")
    assert first["status"] == "open" and first["deadline"].startswith((clock.now() + timedelta(days=15)).date().isoformat())
    wrong = p["requester"].post("/objections", json={"grant_id": gid, "fields": ["DB_ID"], "description": "x"})
    assert wrong.status_code == 422 and wrong.json()["rule"] == "QLT-1"

    tid = p["maintainer"].post("/maintenance/tickets", json=declaration(eid)).json()["id"]
    clock.advance(days=2)
    confirmed = p["approver"].post(f"/objections/{first['id']}/answer",
                                   json={"decision": "confirm", "ticket_id": tid, "reason": "已申报更正"})
    assert confirmed.status_code == 200 and confirmed.json()["ticket_id"] == tid
    queue = p["maintainer"].get("/objections", params={"role": "provider", "status": "open"},
                                headers={"X-Min-Position": confirmed.headers["x-ledger-position"]}).json()["items"]
    assert [o["id"] for o in queue] == [second["id"]]

    clock.advance(days=14)
    overdue = p["office"].get("/objections/overdue").json()["items"]
    assert [o["id"] for o in overdue] == [second["id"]] and overdue[0]["overdue"] is True
    mine = p["requester"].get(f"/objections/{first['id']}").json()
    assert mine["status"] == "confirmed" and mine["late"] is False and mine["overdue"] is False
    stranger = server.client(token(runtime, "div-elder", "他人", "auditor"))
    assert stranger.get(f"/objections/{first['id']}").status_code == 200
