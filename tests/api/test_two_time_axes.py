"""Both time axes end to end: a grant revoked in March with effect from January.

The answer about January changes as known in March, not as known in February; the lists, the
state summary and the command line say which two instants and which positions they stand on.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.api.test_catalog_api import org, token
from tests.api.test_cli import cli
from tests.api.test_sharing_api import published_entry
from tests.conftest import TestClock

# issue 13's done-when: end to end on both stores and both crypto profiles (the fixtures parametrize it)
from tests.integrity.conftest import profile, settings  # noqa: F401

CST = "+08:00"
JAN_10 = datetime.fromisoformat(f"2026-01-10T09:00:00{CST}")
JAN_20 = datetime.fromisoformat(f"2026-01-20T12:00:00{CST}")
FEB_15 = datetime.fromisoformat(f"2026-02-15T12:00:00{CST}")



@pytest.fixture
def clock() -> TestClock:
    return TestClock(datetime(2026, 1, 5, 1, 0, tzinfo=UTC))


def body(eid: str) -> dict:
    return {"scenario": "internal_sharing", "reason": "核对高龄津贴申请人低保身份", "purpose": "高龄津贴资格核对",
            "entries": [{"entry_id": eid, "fields": ["DB_NAME"]}], "valid_from": "2026-01-01",
            "valid_to": "2026-12-31", "delivery_method": "interface"}


def test_a_back_dated_revocation_changes_january_as_known_in_march_not_as_known_in_february(
        server, runtime, admin_token, clock, settings):  # noqa: F811 (the imported fixture)
    office = server.client(admin_token)
    org(office, "div-relief")
    org(office, "div-elder")
    eid = published_entry(server, runtime, office)
    requester = server.client(token(runtime, "div-elder", "周敏", "requester"))
    reviewer = server.client(token(runtime, "div-relief", "div-relief-审核员", "catalog_reviewer"))
    rid = requester.post("/share-requests", json=body(eid)).json()["id"]
    assert office.post(f"/share-requests/{rid}/review", json={"decision": "approve"}).status_code == 200
    [gid] = office.post(f"/share-requests/{rid}/orders").json()["new_grants"]

    clock.set(datetime(2026, 3, 10, 2, 0, tzinfo=UTC))
    # who may back-date, and to when (TIME-1 … TIME-3), refused before anything is recorded
    by_provider = reviewer.post(f"/grants/{gid}/suspend", json={"reason": "核查", "effective_at": JAN_10.isoformat()})
    assert by_provider.status_code == 422 and (by_provider.json()["rule"], by_provider.json()["article"]) == (
        "TIME-1", "第四条")
    future = office.post(f"/grants/{gid}/revoke", json={"reason": "违规", "effective_at": "2026-04-01T00:00:00Z"})
    assert future.status_code == 422 and future.json()["rule"] == "TIME-3"
    too_early = office.post(f"/grants/{gid}/revoke", json={"reason": "违规", "effective_at": "2025-12-01T00:00:00Z"})
    assert too_early.status_code == 422 and too_early.json()["rule"] == "TIME-2"

    revoked = office.post(f"/grants/{gid}/revoke",
                          json={"reason": "核查发现自1月10日起超范围使用", "effective_at": JAN_10.isoformat()})
    assert revoked.status_code == 200, revoked.text
    pos = int(revoked.headers["x-ledger-position"])
    assert revoked.json()["status"] == "revoked"
    march = clock.now()

    ask = {"holder": "div-elder", "entry_id": eid, "fields": "DB_NAME", "purpose": "高龄津贴资格核对",
           "method": "interface", "at": JAN_20.isoformat()}
    in_feb = office.get("/grant-status", params={**ask, "as_known_at": FEB_15.isoformat()}).json()
    in_march = office.get("/grant-status", params=ask).json()
    assert in_feb["allowed"] is True and in_feb["grant_id"] == gid and in_feb["position"] < pos
    assert datetime.fromisoformat(in_feb["as_known_at"]) == FEB_15
    assert in_march["allowed"] is False and [r["code"] for r in in_march["reasons"]] == ["revoked"]
    assert in_march["position"] >= pos and datetime.fromisoformat(in_march["as_known_at"]) >= march
    before_effect = office.get("/grant-status", params={**ask, "at": "2026-01-09T00:00:00+08:00"}).json()
    assert before_effect["allowed"] is True  # the correction counts from its effective instant only

    jan = {"at": JAN_20.isoformat()}
    feb_list = office.get("/grants", params={**jan, "as_known_at": FEB_15.isoformat()}).json()
    march_list = office.get("/grants", params=jan).json()
    assert [g["status"] for g in feb_list["items"]] == ["active"] and feb_list["corrections"] == []
    assert [g["status"] for g in march_list["items"]] == ["revoked"] and march_list["corrections"] == [pos]
    assert march_list["position"] == feb_list["position"] < pos <= march_list["known_position"]

    feb_state = office.get("/state", params={**jan, "as_known_at": FEB_15.isoformat()}).json()
    march_state = office.get("/state", params=jan).json()
    assert (feb_state["grants"]["in_force"], march_state["grants"]["in_force"]) == (1, 0)
    assert feb_state["known_position"] < pos and march_state["corrections"] == [pos]
    # the old question, "as recorded at January 20", is still one query away
    recorded = office.get("/state", params={**jan, "as_known_at": JAN_20.isoformat()}).json()
    assert recorded["grants"]["in_force"] == 1 and recorded["position"] == recorded["known_position"]

    learned = office.get("/state/changes", params={**jan, "known_from": FEB_15.isoformat()}).json()
    [event] = learned["learned"]
    assert (event["type"], event["position"], event["id"], event["corrects"], event["reason"]) == (
        "Grant.RevocationBackdated", pos, gid, "status", "核查发现自1月10日起超范围使用")
    assert datetime.fromisoformat(event["effective_at"]) == JAN_10 and event["correction"] is True
    [fact] = learned["changed"]
    assert (fact["kind"], fact["id"], fact["before"]["status"], fact["after"]["status"]) == (
        "grant", gid, "active", "revoked")
    assert learned["from"]["known_position"] < pos and learned["to"]["corrections"] == [pos]
    quiet = office.get("/state/changes", params={**jan, "known_from": FEB_15.isoformat(),
                                                 "known_to": "2026-03-01T00:00:00Z"}).json()
    assert quiet["learned"] == [] and quiet["changed"] == []
    backwards = office.get("/state/changes", params={**jan, "known_from": march.isoformat(),
                                                     "known_to": FEB_15.isoformat()})
    assert backwards.status_code == 400
    assert requester.get("/state/changes", params={**jan, "known_from": FEB_15.isoformat()}).status_code == 403

    line = cli(settings, "state", "--at", JAN_20.isoformat(), "--as-known-at", FEB_15.isoformat())
    assert line.returncode == 0, line.stderr
    assert json.loads(line.stdout.splitlines()[0])["grants"]["in_force"] == 1
    now_line = json.loads(cli(settings, "state", "--at", JAN_20.isoformat()).stdout.splitlines()[0])
    assert now_line["grants"]["in_force"] == 0 and now_line["corrections"] == [pos]
    assert cli(settings, "state", "--as-known-at", "2026-02-15").returncode == 2
    told = cli(settings, "state-changes", "--at", JAN_20.isoformat(), "--known-from", FEB_15.isoformat())
    assert told.returncode == 0, told.stderr
    head, *rows = [json.loads(r) for r in told.stdout.splitlines()]
    assert head["to_position"] >= pos > head["from_position"]
    assert [r["learned"]["position"] for r in rows if "learned" in r] == [pos]
    assert [(r["changed"]["before"]["status"], r["changed"]["after"]["status"]) for r in rows
            if "changed" in r] == [("active", "revoked")]
