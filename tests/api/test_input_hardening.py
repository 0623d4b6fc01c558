"""Malformed input over HTTP: a clear 400 problem+json naming the parameter or field, never a 500."""

from __future__ import annotations

import base64

import pytest

from tests.api.test_catalog_api import org


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


LISTS = ["/catalog/entries", "/catalog/open", "/organizations", "/share-requests", "/grants", "/access-logs",
         "/violations", "/systems", "/systems/compliance", "/systems/queue", "/maintenance/tickets",
         "/maintenance/archive", "/maintenance/batches", "/objections", "/objections/overdue"]
# lists whose cursor is a number (a ledger position or an offset), and the access log's (instant|request id)
NUMBERED = ["/violations", "/systems/queue", "/maintenance/archive"]
GARBAGE = ["a", "!!!", "AA" , _cursor("\x00x"), "中文"]  # not base64; NUL; not ASCII


def _is_cursor_problem(r) -> None:
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in r.json()["errors"]] == ["cursor"], r.json()


@pytest.fixture
def office(server, admin_token):
    c = server.client(admin_token)
    org(c, "div-a")
    return c


def test_a_malformed_cursor_is_a_400_naming_it_on_every_list(office, runtime):
    head = runtime.ledger.max_position()
    for path in LISTS:
        assert office.get(path).status_code == 200, path
        for bad in GARBAGE:
            _is_cursor_problem(office.get(path, params={"cursor": bad}))
    for path in NUMBERED:
        for bad in (_cursor("x"), _cursor("-1"), _cursor("9" * 30)):
            _is_cursor_problem(office.get(path, params={"cursor": bad}))
    _is_cursor_problem(office.get("/access-logs", params={"cursor": _cursor("no separator")}))
    assert runtime.ledger.max_position() == head


def test_a_cursor_handed_out_still_pages(office, runtime):
    pos = [org(office, code).headers["x-ledger-position"] for code in ("div-b", "div-c")][-1]
    first = office.get("/organizations", params={"limit": 1}, headers={"X-Min-Position": pos})
    assert first.status_code == 200 and first.json()["next_cursor"]
    second = office.get("/organizations", params={"limit": 1, "cursor": first.json()["next_cursor"]})
    assert second.status_code == 200 and second.json()["items"] != first.json()["items"]


NAIVE = "2025-01-01T00:00:00"
SOME = "00000000-0000-4000-8000-000000000001"
ASK = {"holder": "div-a", "entry_id": SOME, "fields": "X", "purpose": "p", "method": "interface"}
QUERIES = [  # (path, parameter, other parameters)
    ("/grant-status", "at", ASK), (f"/history/catalog-entry/{SOME}", "at", {}), ("/state", "at", {}),
    ("/catalog/entries", "at", {}), ("/catalog/open", "at", {}), ("/grants", "at", {}),
    ("/access-logs", "from", {}), ("/access-logs", "to", {}),
    ("/access-logs/daily", "from", {}), ("/access-logs/daily", "to", {}),
]


def _names(r, field: str) -> None:
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in r.json()["errors"]], r.json()


def test_a_date_time_without_an_offset_is_a_400_naming_the_parameter(office, runtime):
    head = runtime.ledger.max_position()
    for path, name, more in QUERIES:
        _names(office.get(path, params={**more, name: NAIVE}), name)
        ok = office.get(path, params={**more, name: "2026-01-01T00:00:00+08:00"})
        assert ok.status_code in (200, 404), (path, name, ok.text)  # 404: the history of an unknown object
    assert runtime.ledger.max_position() == head


def test_a_date_time_without_an_offset_is_a_400_naming_the_body_field(office, runtime):
    head = runtime.ledger.max_position()
    _names(office.post(f"/catalog/entries/{SOME}/refresh", json={"as_of": NAIVE}), "as_of")
    _names(office.post("/grant-status", json={**ASK, "fields": ["X"], "at": NAIVE}), "at")
    record = {"request_id": "r1", "holder": "div-a", "provider": "div-a", "entry_id": SOME, "fields": ["X"],
              "purpose": "p", "method": "interface", "record_count": 1, "accessed_at": NAIVE}
    _names(office.post("/access-logs", json={"records": [record]}), "records[0].accessed_at")
    batch = {"system": "s", "entries": [SOME], "estimated_records": 1, "window_from": NAIVE,
             "window_to": "2026-01-02T00:00:00", "reason": "r", "description": "d"}
    r = office.post("/maintenance/batches", json=batch)
    _names(r, "window_from")
    _names(r, "window_to")
    _names(office.post(f"/maintenance/tickets/{SOME}/apply",
                       json={"applied_at": NAIVE, "after_digest": "sha256:" + "0" * 64}), "applied_at")
    _names(office.post(f"/violations/{SOME}/notice", json={"deadline": NAIVE, "requirements": "x"}), "deadline")
    assert runtime.ledger.max_position() == head


def test_dates_and_instants_outside_the_ledgers_calendar_are_a_400_naming_them(office, server, runtime):
    from tests.api.test_catalog_api import token

    requester = server.client(token(runtime, "div-a", "周敏", "requester"))
    ask = {"scenario": "internal_sharing", "reason": "r", "purpose": "p", "entries": [{"entry_id": SOME, "fields": ["X"]}],
           "valid_from": "0001-01-01", "valid_to": "2026-12-31", "delivery_method": "interface"}
    _names(requester.post("/share-requests", json=ask), "valid_from")
    _names(requester.post("/share-requests", json={**ask, "valid_from": "2026-01-01", "valid_to": "9999-12-31"}),
           "valid_to")
    org(office, "svc-tech", kind="service_unit")
    head = runtime.ledger.max_position()
    _names(office.post("/organizations/svc-tech/authorisations",
                       json={"serves": "div-a", "valid_from": "2026-01-01", "valid_to": "9999-12-31", "scope": "s"}),
           "valid_to")
    for path, name, more in QUERIES:
        for extreme in ("0001-01-01T00:00:00+08:00", "9999-12-31T23:00:00-05:00"):
            _names(office.get(path, params={**more, name: extreme}), name)
    assert runtime.ledger.max_position() == head
