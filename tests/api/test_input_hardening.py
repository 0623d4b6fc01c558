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
    for code in ("div-b", "div-c"):
        org(office, code)
    first = office.get("/organizations", params={"limit": 1})
    assert first.status_code == 200 and first.json()["next_cursor"]
    second = office.get("/organizations", params={"limit": 1, "cursor": first.json()["next_cursor"]})
    assert second.status_code == 200 and second.json()["items"] != first.json()["items"]
