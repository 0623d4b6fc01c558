"""SEC-1 for maintenance over HTTP: another organization's people neither see nor act on a division's tickets, batch
modifications and objections, nor read their history."""

from __future__ import annotations

from datetime import timedelta

from tests.api.test_catalog_api import org, token
from tests.api.test_maintenance_api import AFTER, SYSTEM, declaration, people
from tests.api.test_sharing_api import request_body


def world(server, runtime, admin_token, clock):
    eid, p = people(server, runtime, admin_token)
    org(p["office"], "div-welfare")
    org(p["office"], "svc-other", kind="service_unit")
    tid = p["maintainer"].post("/maintenance/tickets", json=declaration(eid)).json()["id"]
    now = clock.now()
    made = p["maintainer"].post("/maintenance/batches", json={
        "system": SYSTEM, "entries": [eid], "estimated_records": 100, "window_from": (now - timedelta(minutes=5)).isoformat(),
        "window_to": (now + timedelta(hours=2)).isoformat(), "reason": "低保标准调整", "description": "批量重算"})
    bid = made.json()["id"]
    assert p["office"].post(f"/maintenance/batches/{bid}/review",
                            json={"decision": "approve", "operator": "运维员", "operator_org": "svc-ops"}).status_code == 200
    rid = p["requester"].post("/share-requests", json=request_body(eid, ["DB_NAME"])).json()["id"]
    assert p["office"].post(f"/share-requests/{rid}/review", json={"decision": "approve"}).status_code == 200
    [gid] = p["office"].post(f"/share-requests/{rid}/orders").json()["new_grants"]
    made = p["requester"].post("/objections", json={"grant_id": gid, "fields": ["DB_NAME"], "description": "姓名用字有误"})
    assert made.status_code == 201, made.text
    oid = made.json()["id"]
    outsiders = {role: server.client(token(runtime, "div-welfare", f"welfare-{role}", role))
                 for role in ("maintainer", "approver", "verifier", "requester")}
    outsiders["operator"] = server.client(token(runtime, "svc-other", "别的运维员", "operator"))
    return eid, p, tid, bid, oid, outsiders


def problem(r, status: int, rule: str | None = None) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    if rule is not None:
        assert r.json()["rule"] == rule


def test_another_organizations_people_do_not_see_tickets_batches_objections_or_their_history(
        server, runtime, admin_token, clock):
    _, p, tid, bid, oid, outsiders = world(server, runtime, admin_token, clock)
    runtime.projector.catch_up_all()
    one_by_one = (f"/maintenance/tickets/{tid}", f"/history/maintenance-ticket/{tid}", f"/maintenance/batches/{bid}",
                  f"/history/batch-modification/{bid}", f"/objections/{oid}", f"/history/objection/{oid}")
    lists = ("/maintenance/tickets", "/maintenance/batches", "/objections", "/maintenance/archive")
    insider = {"/maintenance/tickets": tid, "/maintenance/batches": bid, "/objections": oid,
               "/maintenance/archive": tid}
    for path in one_by_one:  # the division itself sees each of them
        assert p["maintainer"].get(path).status_code == 200, path
    for path in lists:
        assert [r.get("id", r.get("ticket_id")) for r in p["maintainer"].get(path).json()["items"]] == [insider[path]]
    for role, outsider in outsiders.items():
        for path in one_by_one:
            problem(outsider.get(path), 404)
        for path in lists:
            assert outsider.get(path).json()["items"] == [], (role, path)


def test_another_organizations_people_do_not_act_on_them_and_nothing_changes(server, runtime, admin_token, clock):
    eid, p, tid, bid, oid, o = world(server, runtime, admin_token, clock)
    head = runtime.ledger.max_position()
    problem(o["approver"].post(f"/maintenance/tickets/{tid}/approve"), 422, "MNT-1")
    problem(o["approver"].post(f"/maintenance/tickets/{tid}/reject", json={"reason": "不同意"}), 422, "MNT-1")
    problem(o["maintainer"].post(f"/maintenance/tickets/{tid}/apply",
                                 json={"applied_at": clock.now().isoformat(), "after_digest": AFTER}), 422, "MNT-1")
    problem(o["verifier"].post(f"/maintenance/tickets/{tid}/recheck",
                               json={"outcome": "verify", "observed_digest": AFTER}), 422, "MNT-1")
    problem(o["approver"].post(f"/objections/{oid}/answer", json={"decision": "reject", "reason": "不属实"}),
            422, "QLT-1")
    problem(o["maintainer"].post("/maintenance/tickets", json=declaration(eid)), 422, "MNT-1")
    problem(o["maintainer"].post("/maintenance/batches", json={
        "system": SYSTEM, "entries": [eid], "estimated_records": 100, "window_from": clock.now().isoformat(),
        "window_to": (clock.now() + timedelta(hours=2)).isoformat(), "reason": "调标", "description": "批量"}),
        422, "MNT-2")
    assert runtime.ledger.max_position() == head  # none of these recorded anything

    run = {"system": SYSTEM, "entries": [eid], "record_count": 10, "session": "s-1"}
    refused = o["operator"].post(f"/maintenance/batches/{bid}/executions", json=run)
    problem(refused, 422, "MNT-2")
    assert refused.json()["context"]["reasons"] == ["not_designated_operator"]
    assert runtime.ledger.max_position() == head + 1  # only the refusal itself is on the ledger (MNT-2)
    pos = refused.headers["x-ledger-position"]
    assert p["office"].get(f"/maintenance/tickets/{tid}", headers={"X-Min-Position": pos}).json()["status"] == "declared"
    batch = p["office"].get(f"/maintenance/batches/{bid}").json()
    assert batch["records_done"] == 0 and [a["outcome"] for a in batch["attempts"]] == ["refused"]
    assert p["office"].get(f"/objections/{oid}").json()["status"] == "open"
