"""Who reads what beyond the role checks: the platform's account and the access log, and a person without roles."""

from __future__ import annotations

from tests.api.test_access_log_api import body
from tests.api.test_catalog_api import entry_body, token
from tests.api.test_events_api import sse
from tests.application.access_log_world import World
from tests.support import cmd, content

ACCESS_LOG = "access-log/"


def _stream_until_idle(runtime, client) -> list[dict]:
    """The events a stream sends up to its first heartbeat (everything the caller may see up to the head)."""
    runtime.feeds.heartbeat_seconds = 0.2
    events = []
    with client.stream("GET", "/events/stream") as r:
        assert r.status_code == 200
        for msg in sse(r):
            if msg.get("comment") == "heartbeat":
                break
            if "data" in msg:
                events.append(msg["data"])
    return events


def test_the_platform_writes_the_access_log_and_reads_none_of_it(server, runtime, admin, clock):
    w = World(runtime, admin, clock)
    platform = server.client(token(runtime, "office", "交换平台", "platform"))
    # a platform account of an organization the records name reads none of them either
    provider_platform = server.client(token(runtime, "div-relief", "救助处平台账号", "platform"))
    both = server.client(token(runtime, "office", "平台审计", "platform", "auditor"))
    elder = server.client(token(runtime, "div-elder", "老龄处查询员", "requester"))
    posted = platform.post("/access-logs", json=body(w.access("div-elder"), w.access("div-welfare")))
    assert posted.status_code == 200, posted.text
    pos = {"X-Min-Position": posted.headers["x-ledger-position"]}

    for c in (platform, provider_platform):
        for path in ("/access-logs", "/access-logs/daily"):
            refused = c.get(path, headers=pos)
            assert refused.status_code == 403, (path, refused.text)
            assert refused.headers["content-type"].startswith("application/problem+json")
        page = c.get("/events", params={"limit": 500}).json()
        assert page["events"] and not [e for e in page["events"] if e["subject"].startswith(ACCESS_LOG)]
        batch = next(e["subject"] for e in both.get("/events", params={"limit": 500}).json()["events"]
                     if e["subject"].startswith(ACCESS_LOG))
        assert c.get("/events", params={"subject": batch}).json()["events"] == []
        assert not [e for e in _stream_until_idle(runtime, c) if e["subject"].startswith(ACCESS_LOG)]

    # the platform still does its work: posting, and asking about grants
    assert platform.get("/grant-status", params={"holder": "div-elder", "entry_id": str(w.open), "fields": "A",
                                                 "purpose": "高龄津贴资格核对", "method": "interface"}).status_code == 200
    # with another role, that role's reading applies; the organizations concerned read their records
    assert len(both.get("/access-logs", headers=pos).json()["items"]) == 2
    assert [r["holder"] for r in elder.get("/access-logs", headers=pos).json()["items"]] == ["div-elder"]
    assert [e["subject"] for e in _stream_until_idle(runtime, elder) if e["subject"].startswith(ACCESS_LOG)] == [batch]


def test_a_person_whose_roles_are_all_revoked_reads_only_the_published_catalog(server, runtime, admin, admin_token,
                                                                             clock):
    w = World(runtime, admin, clock)
    rt = runtime
    draft = rt.catalog.draft(w.provider.compiler, cmd(), resource_code="SX-DRAFT", content=content(name="草稿条目"))
    office = server.client(admin_token)
    office_person = token(rt, "office", "前办公室管理员", "office_admin")
    person = token(rt, "div-relief", "调离人员", "catalog_compiler", "catalog_reviewer")
    posted = server.client(token(rt, "office", "交换平台", "platform")).post("/access-logs",
                                                                          json=body(w.access("div-elder")))
    assert posted.status_code == 200
    before = server.client(person)
    assert len(before.get("/catalog/entries", headers={"X-Min-Position": str(draft.position)}).json()["items"]) == 3
    assert len(before.get("/access-logs", headers={"X-Min-Position": posted.headers["x-ledger-position"]})
               .json()["items"]) == 1

    for org, who, roles in (("div-relief", "调离人员", ("catalog_compiler", "catalog_reviewer")),
                            ("office", "前办公室管理员", ("office_admin",))):
        for role in roles:
            r = office.delete(f"/organizations/{org}/members/{who}/roles/{role}")
            assert r.status_code == 200, r.text

    for t in (person, office_person):
        c = server.client(t)
        listed = c.get("/catalog/entries").json()["items"]
        assert sorted(e["resource_code"] for e in listed) == ["SX-LTD", "SX-OPEN"]  # the published catalog
        assert c.get(f"/catalog/entries/{draft.aggregate_id}").status_code == 404
        assert c.get(f"/catalog/entries/{w.open}").status_code == 200
        assert c.get("/access-logs").json()["items"] == []
        assert c.get("/access-logs/daily").json()["items"] == []
        assert c.get("/grants").json()["items"] == []
        assert c.get(f"/grants/{next(iter(w.grants.values()))}").status_code == 404
        assert c.get("/share-requests").json()["items"] == []
        assert c.get("/systems").json()["items"] == []
        assert c.get("/violations").json()["items"] == []
        assert c.get("/organizations/div-relief/members").status_code == 404
        assert c.get(f"/history/catalog-entry/{draft.aggregate_id}").status_code == 404
        state = c.get("/state", params={"at": rt.now().isoformat()}).json()
        assert state["catalog"]["by_status"] == {"published": 2} and state["grants"]["by_status"] == {}
        events = c.get("/events", params={"limit": 500}).json()["events"]
        assert events and {e["type"].rsplit(".", 1)[-1] for e in events} == {"published"}
        assert {e["subject"].split("/")[0] for e in _stream_until_idle(rt, c)} == {"catalog-entry"}
        assert c.get("/metrics").status_code == 403
        # and it writes nothing
        assert c.post("/catalog/entries", json=entry_body("SX-NEW")).status_code == 403
