"""The feeds read by the CloudEvents SDK: structured events and batches, an absolute `source`, a URN `dataschema`."""

from __future__ import annotations

import dataclasses
import json
import re
from urllib.parse import urlsplit

import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_http_event

from infrastructure.cloudevents import BATCH_MEDIA_TYPE
from infrastructure.config import Settings, public_base_url
from tests.support import register

BASE = "https://ledger.example.org/mz"
# RFC 8141: "urn:" NID ":" NSS, the NID 2 to 32 letters, digits or hyphens, not starting or ending with one.
URN = re.compile(r"urn:[A-Za-z0-9][A-Za-z0-9-]{0,30}[A-Za-z0-9]:[A-Za-z0-9()+,\-.:=@;$_!*'%/?#]+")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, public_base_url=BASE)


def structured(event: dict):
    return from_http_event(HTTPMessage(headers={"content-type": "application/cloudevents+json"},
                                       body=json.dumps(event).encode()))


def test_every_event_is_a_valid_cloudevent_with_an_absolute_source_and_a_urn_dataschema(runtime, server,
                                                                                      admin_token, admin):
    register(runtime, admin, "div-a")
    with server.client(admin_token) as c:
        page = c.get("/events", params={"limit": 500}).json()
        assert page["events"]
        for raw in page["events"]:
            ce = structured(raw)
            assert ce.get_specversion() == "1.0" and ce.get_id() == raw["id"] and ce.get_type() == raw["type"]
            assert ce.get_source() == BASE and urlsplit(ce.get_source()).scheme == "https"
            assert URN.fullmatch(ce.get_dataschema() or ""), ce.get_dataschema()
            assert ce.get_extension("ledgerposition") == raw["ledgerposition"]
            assert ce.get_time() is not None and ce.get_time().tzinfo is not None
            assert ce.get_data() == raw["data"]
        schema = c.get(f"/events/types/{raw['type']}").json()
        assert schema["$id"] == raw["dataschema"]


def test_a_page_as_a_cloudevents_batch_when_asked_and_json_otherwise(runtime, server, admin_token, admin):
    for code in ("div-a", "div-b", "div-c"):
        register(runtime, admin, code)
    with server.client(admin_token) as c:
        plain = c.get("/events", params={"limit": 2, "after": 1})
        assert plain.headers["content-type"].startswith("application/json")
        assert set(plain.json()) == {"events", "next", "horizon"}
        assert c.get("/events", params={"limit": 2, "after": 1}, headers={"Accept": "*/*"}).json() == plain.json()

        batch = c.get("/events", params={"limit": 2, "after": 1, "type": "cn.gov.shaanxi.mz.organization.registered"},
                      headers={"Accept": BATCH_MEDIA_TYPE})
        assert batch.status_code == 200 and batch.headers["content-type"].startswith(BATCH_MEDIA_TYPE)
        events = batch.json()
        assert isinstance(events, list) and len(events) == 2
        parsed = [structured(e) for e in events]
        assert [ce.get_type() for ce in parsed] == ["cn.gov.shaanxi.mz.organization.registered"] * 2
        assert [e["data"]["code"] for e in events] == ["div-a", "div-b"]
        assert batch.headers["X-Ledger-Next"] == str(events[-1]["ledgerposition"])
        assert batch.headers["X-Ledger-Position"] == str(runtime.feeds.horizon())
        link = re.fullmatch(r'<([^>]+)>; rel="next"', batch.headers["Link"])
        assert link is not None
        rest = c.get(link.group(1), headers={"Accept": BATCH_MEDIA_TYPE}).json()
        assert [e["data"]["code"] for e in rest] == ["div-c"]  # the filter travels in the link, `after` moves
        preferred = c.get("/events", headers={"Accept": f"application/json;q=0.5, {BATCH_MEDIA_TYPE}"})
        assert preferred.headers["content-type"].startswith(BATCH_MEDIA_TYPE)


def test_the_public_base_url_setting_is_an_absolute_http_url():
    assert public_base_url("https://ledger.example.org/") == "https://ledger.example.org"
    assert Settings.from_env({}).public_base_url == "http://localhost:8000"
    assert Settings.from_env({"CIVIC_LEDGER_PUBLIC_BASE_URL": BASE}).public_base_url == BASE
    for bad in ("/civic-ledger", "ledger.example.org", "ftp://x", "https://x/?a=1", "https://x/#f"):
        with pytest.raises(ValueError, match="CIVIC_LEDGER_PUBLIC_BASE_URL"):
            public_base_url(bad)


def test_the_document_declares_the_batch_and_its_cursor_headers_as_the_server_sends_them(runtime, server,
                                                                                       admin_token, admin):
    register(runtime, admin, "div-a")
    with server.client(admin_token) as c:
        document = c.get("/schema/openapi.json").json()
        ok = document["paths"]["/events"]["get"]["responses"]["200"]
        declared = ok["content"][BATCH_MEDIA_TYPE]["schema"]
        assert declared["type"] == "array"
        assert {"X-Ledger-Next", "Link"} <= set(ok["headers"])
        batch = c.get("/events", params={"limit": 5}, headers={"Accept": BATCH_MEDIA_TYPE})
        events = batch.json()
        assert isinstance(events, list) and events
        item = declared["items"]
        if "$ref" in item:
            item = document["components"]["schemas"][item["$ref"].rsplit("/", 1)[1]]
        for event in events:
            assert set(item.get("required", [])) <= set(event)
        assert re.fullmatch(ok["headers"]["X-Ledger-Next"]["schema"]["pattern"], batch.headers["X-Ledger-Next"])
        note = document["paths"]["/ledger/checkpoints/{tree_size}"]["get"]["responses"]["200"]["content"]
        assert {"application/json", "text/plain"} <= set(note)
