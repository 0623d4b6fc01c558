"""The ledger's calendar is Beijing's (UTC+8): every date derived from an instant is its date there.

Each test acts in the eight hours where the UTC date is still the day before (00:00-08:00 Beijing).
"""

from __future__ import annotations

from datetime import UTC, datetime

from tests.api.conftest import service_unit_for
from tests.api.test_catalog_api import PASS, entry_body, org, token

# 02:35 on 3 March in Beijing; still 2 March in UTC
EARLY = datetime(2026, 3, 2, 18, 35, tzinfo=UTC)


def test_an_entry_published_at_0235_beijing_is_dated_that_day(server, runtime, admin_token, clock):
    office = server.client(admin_token)
    org(office, "div-relief")
    comp = server.client(token(runtime, "div-relief", "王敏", "catalog_compiler"))
    rev = server.client(token(runtime, "div-relief", "李强", "catalog_reviewer"))
    eid = comp.post("/catalog/entries", json=entry_body(open_class="open")).json()["id"]
    assert comp.post(f"/catalog/entries/{eid}/submit").status_code == 200
    assert rev.post(f"/catalog/entries/{eid}/review", json=PASS).status_code == 200
    clock.set(EARLY)
    pub = office.post(f"/catalog/entries/{eid}/publish")
    assert pub.status_code == 200, pub.text
    assert pub.json()["current"]["published_on"] == "2026-03-03"
    wait = {"X-Min-Position": pub.headers["x-ledger-position"]}
    got = comp.get(f"/catalog/entries/{eid}", headers=wait).json()
    assert got["published_on"] == "2026-03-03"
    # the publication date counts as an update from 00:00 Beijing of that day (CAT-7)
    assert got["last_updated"] == "2026-03-02T16:00:00+00:00"
    assert [e["published_on"] for e in comp.get("/catalog/open", headers=wait).json()["items"]] == ["2026-03-03"]


def test_an_authorisation_starting_today_in_beijing_is_active_before_08_00(server, runtime, admin_token, clock):
    office = server.client(admin_token)
    svc = service_unit_for(server, office, "div-a", "2026-03-03", "2026-03-03")
    acting = {"X-On-Behalf-Of": "div-a"}
    clock.set(datetime(2026, 3, 2, 15, 59, tzinfo=UTC))  # 23:59 on 2 March, Beijing: not yet
    assert svc.get("/catalog/entries", headers=acting).status_code == 403
    clock.set(EARLY)
    runtime.forget_callers()
    seen = svc.get("/catalog/entries", headers=acting)
    assert seen.status_code == 200, seen.text
    drafted = svc.post("/catalog/entries", json=entry_body("SX-SVC-0001"), headers=acting)
    assert drafted.status_code == 201, drafted.text
    clock.set(datetime(2026, 3, 3, 16, 0, tzinfo=UTC))  # 00:00 on 4 March, Beijing: over
    runtime.forget_callers()
    assert svc.get("/catalog/entries", headers=acting).status_code == 403
