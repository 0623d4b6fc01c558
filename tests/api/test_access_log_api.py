"""The access log over HTTP: the platform posts, each organization reads only its own records (LOG-2)."""

from __future__ import annotations

import msgspec

from tests.api.test_catalog_api import token
from tests.application.access_log_world import World


def body(*accesses) -> dict:
    return {"records": [msgspec.to_builtins(a) for a in accesses]}


def test_scoping_a_user_never_sees_another_users_records(server, runtime, admin, clock):
    w = World(runtime, admin, clock)
    platform = server.client(token(runtime, "office", "交换平台", "platform"))
    elder = server.client(token(runtime, "div-elder", "老龄处查询员", "requester"))
    welfare = server.client(token(runtime, "div-welfare", "福利处查询员", "requester"))
    provider = server.client(token(runtime, "div-relief", "救助处审核员", "catalog_reviewer"))
    auditor = server.client(token(runtime, "office", "审计员", "auditor"))

    posted = platform.post("/access-logs", json=body(w.access("div-elder"), w.access("div-elder", fields=("C",)),
                                                     w.access("div-welfare")))
    assert posted.status_code == 200, posted.text
    assert (posted.json()["allowed"], posted.json()["denied"]) == (2, 1)
    pos = posted.headers["x-ledger-position"]

    mine = elder.get("/access-logs", params={"min_position": pos}).json()["items"]
    assert len(mine) == 2 and {r["holder"] for r in mine} == {"div-elder"}
    peek = elder.get("/access-logs", params={"holder": "div-welfare", "min_position": pos}).json()["items"]
    assert peek == []
    assert {r["holder"] for r in welfare.get("/access-logs").json()["items"]} == {"div-welfare"}
    assert len(provider.get("/access-logs").json()["items"]) == 3
    assert len(auditor.get("/access-logs").json()["items"]) == 3
    denied = auditor.get("/access-logs", params={"outcome": "denied"}).json()["items"]
    assert [r["reasons"][0]["code"] for r in denied] == ["field_not_granted"]

    page1 = provider.get("/access-logs", params={"limit": 2}).json()
    page2 = provider.get("/access-logs", params={"limit": 2, "cursor": page1["next_cursor"]}).json()
    assert len(page1["items"]) == 2 and len(page2["items"]) == 1 and page2["next_cursor"] is None
    ids = [r["request_id"] for r in page1["items"] + page2["items"]]
    assert len(set(ids)) == 3

    daily = elder.get("/access-logs/daily").json()["items"]
    assert {(d["org"], d["side"], d["allowed"], d["denied"]) for d in daily} == {("div-elder", "holder", 1, 1)}
    assert sum(d["allowed"] for d in provider.get("/access-logs/daily").json()["items"]) == 2


def test_posting_refuses_others_than_the_platform_and_oversized_or_malformed_batches(server, runtime, admin, clock):
    w = World(runtime, admin, clock, holders=("div-elder",))
    platform = server.client(token(runtime, "office", "交换平台", "platform"))
    elder = server.client(token(runtime, "div-elder", "老龄处查询员", "requester"))
    assert elder.post("/access-logs", json=body(w.access())).status_code == 403
    one = msgspec.to_builtins(w.access())
    assert platform.post("/access-logs", json={"records": [one] * 10_001}).status_code == 413
    assert platform.post("/access-logs", json={"records": [{**one, "record_count": "many"}]}).status_code == 400
    again = platform.post("/access-logs", json=body(w.access(request_id="r-1")))
    assert again.status_code == 200
    dup = platform.post("/access-logs", json=body(w.access(request_id="r-1")))
    assert dup.json()["duplicates"] == 1 and "x-ledger-position" not in dup.headers


def test_the_cli_refuses_to_archive_young_records(settings, tmp_path):
    from tests.api.test_cli import cli

    young = cli(settings, "access-log", "archive", "--before", "2099-01-01", "--out", str(tmp_path / "a.jsonl"))
    assert young.returncode == 2 and "LOG-1" in young.stderr and "第二十二条" in young.stderr
    assert not (tmp_path / "a.jsonl").exists()
    old = cli(settings, "access-log", "archive", "--before", "2001-01-01", "--out", str(tmp_path / "b.jsonl"))
    assert old.returncode == 0, old.stderr
    assert '"archived": 0' in old.stdout


def test_the_platform_gets_a_receipt_and_the_provider_and_user_theirs(server, runtime, admin, clock):
    from infrastructure.verifier import load_public_key, verify_receipt

    w = World(runtime, admin, clock)
    platform = server.client(token(runtime, "office", "交换平台", "platform"))
    elder = server.client(token(runtime, "div-elder", "老龄处查询员", "requester"))
    provider = server.client(token(runtime, "div-relief", "救助处审核员", "catalog_reviewer"))
    key = load_public_key(server.client(token(runtime, "office", "审计员", "auditor")).get("/ledger/public-key").text)

    posted = platform.post("/access-logs", json=body(w.access("div-elder"), w.access("div-welfare")))
    assert posted.status_code == 200, posted.text
    receipt = posted.json()["receipt"]
    assert receipt["receipt"]["batch_id"] == posted.json()["batch_id"] and len(receipt["records"]) == 2
    assert not verify_receipt(receipt, key)["included"]
    again = platform.get(f"/access-logs/receipts/{posted.json()['batch_id']}")
    assert again.status_code == 200 and again.json()["receipt"] == receipt["receipt"]
    assert elder.get(f"/access-logs/receipts/{posted.json()['batch_id']}").status_code == 403

    assert server.client(admin_token_of(runtime)).post("/ledger/checkpoints").status_code == 201
    pos = posted.headers["x-ledger-position"]
    mine = elder.get("/access-logs/receipts", params={"side": "holder", "min_position": pos}).json()["items"]
    assert [r["record"]["holder"] for r in mine[0]["records"]] == ["div-elder"]
    assert verify_receipt(mine[0], key)["included"]
    theirs = provider.get("/access-logs/receipts", params={"side": "provider"}).json()["items"]
    assert len(theirs[0]["records"]) == 2 and verify_receipt(theirs[0], key)["included"]
    assert elder.get("/access-logs/receipts", params={"side": "provider", "org": "div-relief"}).status_code == 403
    assert elder.get("/access-logs/receipts", params={"side": "both"}).status_code == 400


def admin_token_of(runtime) -> str:  # noqa: ANN001
    return runtime.init(admin="office-admin")[1]
