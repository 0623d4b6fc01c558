"""The edge contract over a real HTTP server, on both stores: media types, strict decoding, NUL and
surrogates, request sizes, nesting depth, identifiers, positions, enum filters and replays.

Each test names the reproduction of issue 11 it covers; every one answered 2xx or 5xx before."""

from __future__ import annotations

import json
import socket
import time

import msgspec
import pytest

from domain.limits import MAX_RECORD_COUNT
from infrastructure.egress import EgressPolicy
from tests.api.test_access_log_api import body
from tests.api.test_catalog_api import entry_body, org, token
from tests.api.test_webhooks_api import LOOPBACK
from tests.application.access_log_world import PURPOSE, World
from tests.support import read_head


def _problem(r, status: int, field: str | None = None) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    if field is not None:
        assert field in [e["field"] for e in r.json()["errors"]], r.json()
    return r.json()


@pytest.fixture
def office(server, admin_token):
    c = server.client(admin_token)
    org(c, "div-a")
    return c


@pytest.fixture
def compiler(server, runtime, office):
    return server.client(token(runtime, "div-a", "张丽娟", "catalog_compiler"))


def _org_body(code: str, name: str = "机构") -> dict:
    return {"code": code, "name": name, "kind": "division", "level": "province", "parent": "office"}


# -- media types (reproduction 2) -------------------------------------------------------------------


def test_a_body_is_json_only_under_a_json_media_type(office, compiler, runtime):
    head = runtime.ledger.max_position()
    raw = json.dumps(_org_body("nul-org", "a\u0000b")).encode()
    for headers in ({"Content-Type": "text/plain"}, {}, {"Content-Type": "application/x-www-form-urlencoded"},
                    {"Content-Type": "application/jsonx"}):
        r = office.post("/organizations", content=raw, headers=headers)
        _problem(r, 415)
    draft = json.dumps(entry_body("SX-NUL")).replace('"name": "', '"name": "\\u0000', 1).encode()
    _problem(compiler.post("/catalog/entries", content=draft, headers={"Content-Type": "text/plain"}), 415)
    assert runtime.ledger.max_position() == head
    # JSON media types, with parameters and +json suffixes, are JSON
    ok = office.post("/organizations", content=json.dumps(_org_body("div-json")).encode(),
                     headers={"Content-Type": "application/json; charset=utf-8"})
    assert ok.status_code == 201, ok.text
    ok = office.post("/organizations", content=json.dumps(_org_body("div-plus")).encode(),
                     headers={"Content-Type": "application/vnd.civic+json"})
    assert ok.status_code == 201, ok.text
    # a write without a body needs no media type
    assert office.post("/catalog/entries/00000000-0000-4000-8000-000000000001/submit").status_code in (403, 404)


def test_a_form_reaches_only_a_route_that_declares_no_json_body_and_holds_no_nul(office):
    submit = "/catalog/entries/00000000-0000-4000-8000-000000000001/submit"
    _problem(office.post(submit, data={"note": "a\u0000b"}), 400, "note")
    assert office.post(submit, data={"note": "ok"}).status_code in (403, 404)
    _problem(office.post("/organizations", data=_org_body("div-form")), 415)


def test_nul_is_refused_at_any_depth_and_in_the_query_and_path(office, compiler, runtime):
    head = runtime.ledger.max_position()
    body_ = entry_body("SX-DEEP")
    body_["content"]["data_items"][1]["description"] = "a\u0000b"
    _problem(compiler.post("/catalog/entries", json=body_), 400, "content.data_items[1].description")
    _problem(office.post("/organizations", json=_org_body("div-x", "a\u0000b")), 400, "name")
    _problem(office.get("/catalog/entries", params={"q": "a\u0000b"}), 400, "q")
    assert office.get("/organizations/a%00b").status_code == 400
    assert runtime.ledger.max_position() == head


def test_an_unpaired_surrogate_is_refused_wherever_it_comes(office, compiler, runtime):
    head = runtime.ledger.max_position()
    raw = json.dumps(_org_body("div-sur", "x")).replace('"x"', '"\\ud800x"').encode()
    _problem(office.post("/organizations", content=raw, headers={"Content-Type": "application/json"}), 400)
    raw = json.dumps(_org_body("div-sur", "x")).replace('"x"', '"\\udc00"').encode()
    _problem(office.post("/organizations", content=raw, headers={"Content-Type": "application/json"}), 400)
    for query in ("q=%ED%A0%80", "q=%ED%B0%80x"):
        r = office.get(f"/catalog/entries?{query}")
        assert r.status_code in (200, 400), r.text  # decoded as U+FFFD by the server, or refused; never stored
    assert runtime.ledger.max_position() == head


# -- strict decoding (reproduction 4) ---------------------------------------------------------------


def test_a_string_is_never_taken_for_an_integer(server, runtime, admin, clock, office):
    w = World(runtime, admin, clock, holders=("div-elder",))
    platform = server.client(token(runtime, "office", "交换平台", "platform"))
    one = msgspec.to_builtins(w.access())
    maintainer = server.client(token(runtime, "div-relief", "维护员", "maintainer"))
    head = runtime.ledger.max_position()
    _problem(platform.post("/access-logs", json={"records": [{**one, "record_count": "12"}]}), 400,
             "records[0].record_count")
    batch = {"system": "s", "entries": [str(w.open)], "estimated_records": "12",
             "window_from": "2026-03-02T10:00:00+08:00", "window_to": "2026-03-02T12:00:00+08:00",
             "reason": "r", "description": "d"}
    _problem(maintainer.post("/maintenance/batches", json=batch), 400, "estimated_records")
    assert runtime.ledger.max_position() == head
    assert platform.post("/access-logs", json={"records": [{**one, "record_count": 12}]}).status_code == 200


def test_strings_and_lists_past_their_declared_length_are_refused(office, compiler, runtime):
    head = runtime.ledger.max_position()
    long = entry_body("SX-LONG")
    long["content"]["summary"] = "长" * 20_001
    _problem(compiler.post("/catalog/entries", json=long), 400, "content.summary")
    many = entry_body("SX-MANY")
    many["content"]["data_items"] = [{**many["content"]["data_items"][0], "code": f"C{i}"} for i in range(501)]
    _problem(compiler.post("/catalog/entries", json=many), 400, "content.data_items")
    assert runtime.ledger.max_position() == head


# -- request size (reproductions 1 and 4) ---------------------------------------------------------


def _raw_exchange(server, head: bytes, chunks: list[bytes]) -> bytes:
    """Sends a request by hand, part by part, and returns what the server answered (it may answer early)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
        s.sendall(head)
        try:
            for chunk in chunks:
                s.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return read_head(s)


def test_a_command_past_its_size_is_413_before_its_body_is_read(server, admin_token, runtime):
    head = runtime.ledger.max_position()
    c = server.client(admin_token)
    big = _org_body("div-big", "x")
    big["name"] = "x" * (300 * 1024)
    _problem(c.post("/organizations", json=big), 413)
    # a Content-Length of 1 GiB is refused at once: nothing like it is ever sent
    request = (f"POST /organizations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin_token}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {2**30}\r\n\r\n").encode()
    assert _raw_exchange(server, request, [b'{"code": "']).startswith(b"HTTP/1.1 413")
    # streamed without a length: refused once the bytes pass the limit, the rest never sent
    request = (f"POST /organizations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin_token}\r\n"
               f"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    chunk = b"x" * 65536
    framed = [f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" for _ in range(5)]
    assert _raw_exchange(server, request, framed).startswith(b"HTTP/1.1 413")
    assert runtime.ledger.max_position() == head


def test_an_access_log_batch_has_the_larger_limit(server, runtime, admin, clock):
    w = World(runtime, admin, clock, holders=("div-elder",))
    platform = server.client(token(runtime, "office", "交换平台", "platform"))
    records = [w.access() for _ in range(3_000)]
    r = platform.post("/access-logs", json=body(*records))
    assert r.status_code == 200, r.text[:300]
    assert len(json.dumps(body(*records), default=str)) > 256 * 1024
    # fewer records than a batch may hold, but more bytes than its limit (8 MiB)
    wide = {**msgspec.to_builtins(records[0]), "fields": [f"FIELD_{i:05}" for i in range(100)]}
    huge = {"records": [wide] * 7_000}
    assert len(json.dumps(huge)) > 8 * 1024 * 1024
    _problem(platform.post("/access-logs", json=huge), 413)


# -- nesting depth (reproductions 4 and 9) ----------------------------------------------------------


def test_deep_json_is_a_400_with_or_without_a_token(server, admin_token, runtime, clock, admin):
    deep = b'{"code": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    assert len(deep) < 2100
    anonymous = server.client()
    for client in (anonymous, server.client(admin_token)):
        _problem(client.post("/organizations", content=deep, headers={"Content-Type": "application/json"}), 400)
    nested = b'{"records": ' + b'{"a":' * 100_000 + b"1" + b"}" * 100_000 + b"}"
    _problem(server.client(admin_token).post("/organizations", content=nested,
                                             headers={"Content-Type": "application/json"}), 413)
    platform = server.client(token(runtime, "office", "交换平台", "platform"))
    _problem(platform.post("/access-logs", content=nested, headers={"Content-Type": "application/json"}), 400)
    array = b'{"records": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}"
    _problem(platform.post("/access-logs", content=array, headers={"Content-Type": "application/json"}), 400)


# -- identifiers (reproduction 9) ---------------------------------------------------------------


@pytest.mark.parametrize("code", ["测试机构", "crlf\r\nX-Injected: yes", "sp ace/../x?y#z", "UPPER", "a", "x" * 65,
                                  "-lead", "trail\n"])
def test_an_organization_code_outside_its_pattern_is_400_and_nothing_is_recorded(office, runtime, code):
    head = runtime.ledger.max_position()
    _problem(office.post("/organizations", json=_org_body(code)), 400, "code")
    assert runtime.ledger.max_position() == head
    assert runtime.organizations.find(code) is None


def test_person_names_may_be_chinese_but_carry_no_control_or_url_characters(office, runtime):
    ok = office.post("/organizations/div-a/members", json={"person": "欧阳 明·李", "role": "requester"})
    assert ok.status_code == 200, ok.text
    head = runtime.ledger.max_position()
    for bad in ("a\tb", "a/b", "x" * 65, "", "line\n", "a\x85b"):
        _problem(office.post("/organizations/div-a/members", json={"person": bad, "role": "requester"}), 400,
                 "person")
    assert runtime.ledger.max_position() == head


def test_the_domain_refuses_a_code_from_any_caller(runtime, admin):
    from domain.rules import OutOfRange
    from tests.support import register

    with pytest.raises(OutOfRange):
        register(runtime, admin, "测试机构")


def test_headers_that_reach_the_domain_are_checked(office, runtime):
    head = runtime.ledger.max_position()
    _problem(office.post("/organizations", json=_org_body("div-h"), headers={"Idempotency-Key": "a b"}), 400)
    _problem(office.post("/organizations", json=_org_body("div-h"), headers={"X-Request-Id": "x" * 201}), 400)
    _problem(office.get("/organizations", headers={"X-On-Behalf-Of": "../etc"}), 400)
    assert runtime.ledger.max_position() == head


def test_location_and_etag_are_built_from_validated_values_only(office):
    r = office.post("/organizations", json=_org_body("div-loc"))
    assert r.status_code == 201 and r.headers["location"] == "/organizations/div-loc"
    assert office.get("/organizations/div-loc").headers["etag"] == '"1"'


# -- positions (reproduction 9) ---------------------------------------------------------------------


HUGE = "99999999999999999999999"


def test_every_position_is_range_checked_the_same_way(office):
    _problem(office.get("/events/stream", headers={"Last-Event-ID": HUGE}), 400)
    _problem(office.get("/events/stream", headers={"Last-Event-ID": "-1"}), 400)
    _problem(office.get("/organizations", headers={"X-Min-Position": HUGE}), 400)
    _problem(office.get("/organizations", params={"min_position": HUGE}), 400)
    _problem(office.get("/organizations", headers={"X-Min-Position": "١٢".encode()}), 400)  # Arabic-Indic digits
    _problem(office.get("/events", params={"after": HUGE}), 400, "after")
    _problem(office.get("/ledger/proofs/1", params={"checkpoint": HUGE}), 400)
    _problem(office.post("/organizations/div-a/members", json={"person": "p", "role": "requester"},
                         headers={"If-Match": f'"{HUGE}"'}), 400)
    top = str(2**63 - 1)
    assert office.get("/events", params={"after": top}).status_code == 200


# -- enum filters (reproduction 9) --------------------------------------------------------------


FILTERS = [("/catalog/entries", "status"), ("/catalog/entries", "share_class"), ("/catalog/entries", "open_class"),
           ("/organizations", "kind"), ("/share-requests", "status"), ("/grants", "status"),
           ("/access-logs", "outcome"), ("/access-logs/daily", "side"), ("/systems", "state"), ("/systems", "level"),
           ("/maintenance/tickets", "status"), ("/maintenance/batches", "status"),
           ("/objections", "role"), ("/objections", "status"), ("/violations", "kind"), ("/violations", "status"),
           ("/maintenance/tickets/queue", "role")]


def test_an_unknown_enum_value_in_a_filter_is_400_on_every_list(office):
    for path, name in FILTERS:
        assert office.get(path).status_code in (200, 403), path
        _problem(office.get(path, params={name: "<invalid>"}), 400, name)


# -- replays (reproduction 9) ---------------------------------------------------------------------


def test_replays_of_access_log_batches_and_recorded_uses_say_so(server, runtime, admin, clock):
    w = World(runtime, admin, clock, holders=("div-elder",))
    platform = server.client(token(runtime, "office", "交换平台", "platform"))
    batch = body(w.access())
    first = platform.post("/access-logs", json=batch, headers={"Idempotency-Key": "batch-1"})
    assert first.status_code == 200 and "idempotent-replayed" not in first.headers
    again = platform.post("/access-logs", json=batch, headers={"Idempotency-Key": "batch-1"})
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    use = {"holder": "div-elder", "entry_id": str(w.limited), "fields": ["LA"], "purpose": PURPOSE,
           "method": "interface", "record_use": True}
    one = platform.post("/grant-status", json=use, headers={"Idempotency-Key": "use-1"})
    assert one.status_code == 200 and one.json()["recorded_use"], one.text
    assert "idempotent-replayed" not in one.headers
    two = platform.post("/grant-status", json=use, headers={"Idempotency-Key": "use-1"})
    assert two.headers.get("idempotent-replayed") == "true" and two.json() == one.json()


def test_a_webhook_registration_replayed_says_so(office, runtime):
    runtime.webhooks.egress = EgressPolicy.parse(LOOPBACK)  # the hook is on this machine
    hook = {"url": "http://127.0.0.1:9/hook"}
    first = office.post("/webhooks", json=hook, headers={"Idempotency-Key": "hook-1"})
    assert first.status_code == 201, first.text
    again = office.post("/webhooks", json=hook, headers={"Idempotency-Key": "hook-1"})
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"] and "idempotent-replayed" not in first.headers


# -- what every view can hold (reproduction 3) ------------------------------------------------------


def test_record_counts_are_bounded_so_that_no_view_sum_overflows(server, runtime, admin, clock):
    w = World(runtime, admin, clock, holders=("div-elder",))
    platform = server.client(token(runtime, "office", "交换平台", "platform"))
    head = runtime.ledger.max_position()
    over = msgspec.to_builtins(w.access(record_count=9223372036854775807))
    _problem(platform.post("/access-logs", json={"records": [over, {**over, "request_id": "r-2"}]}), 400,
             "records[0].record_count")
    _problem(platform.post("/access-logs", json={"records": [{**over, "record_count": MAX_RECORD_COUNT + 1}]}), 400,
             "records[0].record_count")
    assert runtime.ledger.max_position() == head
    # the largest count allowed, many times on one entry and day: every view keeps it
    at_max = [w.access(record_count=MAX_RECORD_COUNT) for _ in range(1_000)]
    r = platform.post("/access-logs", json=body(*at_max))
    assert r.status_code == 200, r.text[:300]
    position = int(r.headers["x-ledger-position"])
    auditor = server.client(token(runtime, "office", "审计员", "auditor"))
    daily = auditor.get("/access-logs/daily", params={"side": "provider"}, headers={"X-Min-Position": str(position)})
    assert daily.status_code == 200, daily.text
    assert [row["records"] for row in daily.json()["items"]] == [1_000 * MAX_RECORD_COUNT]
    assert_every_view_caught_up(server, runtime)


def assert_every_view_caught_up(server, runtime) -> None:
    """/health says ok with every view's lag 0, once the views have applied the head (which the
    background duties may still move)."""
    deadline = time.monotonic() + 60
    health = server.client().get("/health").json()
    while set(health["projection_lag"].values()) != {0} and time.monotonic() < deadline:
        runtime.projector.wait_for(health["position"])
        health = server.client().get("/health").json()
    assert health["status"] == "ok" and set(health["projection_lag"].values()) == {0}, health
