"""Values one of the stores cannot keep are refused at the edge with 400, on both stores alike.

Before this guard a NUL in a query was a 500 on PostgreSQL, and a NUL or a >64-bit integer in a
body was recorded in an event that then stopped every read model projecting it.
"""

from __future__ import annotations

from tests.api.test_catalog_api import entry_body, org, token


def test_nul_in_a_query_or_the_path_is_a_400_naming_it(server, runtime, admin_token):
    office = server.client(admin_token)
    for path, params, field in (("/catalog/entries", {"q": "低\x00保"}, "q"),
                                ("/grants", {"holder": "\x00"}, "holder"),
                                ("/organizations/div%00x", {}, "path")):
        r = office.get(path, params=params)
        assert r.status_code == 400, (path, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in r.json()["errors"]] == [field]


def test_nul_or_a_huge_number_in_a_body_records_nothing_and_read_models_go_on(server, runtime, admin_token):
    office = server.client(admin_token)
    before = runtime.ledger.max_position()
    r = office.post("/organizations", json={"code": "div-x", "name": "社会\x00救助处", "kind": "division",
                                            "level": "province", "parent": "office"})
    assert r.status_code == 400 and r.json()["errors"] == [
        {"field": "name", "message": "Text may not contain the NUL character (U+0000)."}]
    org(office, "div-relief")
    comp = server.client(token(runtime, "div-relief", "王敏", "catalog_compiler"))
    body = entry_body()
    body["content"]["data_items"][1]["description"] = "x\x00"
    r = comp.post("/catalog/entries", json=body)
    assert r.status_code == 400 and [e["field"] for e in r.json()["errors"]] == ["content.data_items[1].description"]
    platform = server.client(token(runtime, "office", "交换平台", "platform"))
    r = platform.post("/access-logs", json={"records": [{
        "request_id": "r-1", "holder": "div-relief", "provider": "div-relief",
        "entry_id": "00000000-0000-0000-0000-000000000001", "fields": ["A"], "purpose": "p", "method": "interface",
        "record_count": 2**63, "accessed_at": "2026-03-02T09:00:00+00:00"}]})
    assert r.status_code == 400 and [e["field"] for e in r.json()["errors"]] == ["records[0].record_count"]
    # only the one organization registered in between was recorded, and every read model took it
    positions = runtime.ledger.max_position()
    assert positions > before
    runtime.projector.catch_up_all()
    assert max(runtime.projector.lag().values()) == 0
    assert office.get("/organizations/div-relief").status_code == 200


def test_numbers_past_64_bits_in_a_path_or_an_integer_query_are_a_400(server, runtime, admin_token):
    office = server.client(admin_token)
    huge = str(2**63)
    for path, params, field in (("/events", {"after": "79914591570903533879296", "subject": "x"}, "after"),
                                (f"/ledger/checkpoints/{huge}", {}, "tree_size"),
                                (f"/ledger/proofs/{huge}", {}, "position"),
                                ("/ledger/checkpoints", {"before": huge}, "before"),
                                ("/history/organization/office/diff", {"from_version": huge, "to_version": "1"},
                                 "from_version")):
        r = office.get(path, params=params)
        assert r.status_code == 400, (path, r.status_code, r.text)
        assert [e["field"] for e in r.json()["errors"]] == [field]
