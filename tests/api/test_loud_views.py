"""A read model that cannot apply an event is loud (health, metrics, 503 with Retry-After), and recovers by rebuild.

Issue 11, reproduction 3: two access-log records at the 64-bit maximum for one entry and day
stopped the daily counts (and every view after it in the round) while /health said ok.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest

from api.cli import main
from domain.limits import MAX_RECORD_COUNT
from domain.organizations import Organization
from projections.organizations import OrganizationsView
from projections.scope import Scope
from tests.api.conftest import LiveServer
from tests.api.test_catalog_api import org
from tests.application.access_log_world import World
from tests.support import cmd

TOP = MAX_RECORD_COUNT  # the edge and the domain refuse more (decision 9); the view's sums are exact past any column
BOUND = 30.0  # seconds: liveness bound for a view to settle


def test_records_at_the_declared_maximum_are_summed_exactly_by_the_daily_view(runtime, admin, clock, server,
                                                                              admin_token):
    """Reproduction 3 of issue 11 recorded two counts of 2^63-1; the domain now refuses counts past 10^9, and the
    daily view sums exactly (NUMERIC / exact decimal text) whatever the total."""
    world = World(runtime, admin, clock)
    at = clock.now() - timedelta(minutes=5)
    answer, position = runtime.access_log.record(world.platform, cmd(), [
        world.access(record_count=TOP, at=at), world.access(record_count=TOP, at=at),
        world.access(record_count=TOP, at=at)])
    assert position
    with server.client(admin_token) as office:
        daily = office.get("/access-logs/daily", params={"side": "provider"},
                           headers={"X-Min-Position": str(position)})
        assert daily.status_code == 200, daily.text
        (row,) = [r for r in daily.json()["items"] if r["org"] == "div-relief"]
        assert row["records"] == 3 * TOP and row["allowed"] == 3
        listed = office.get("/access-logs", headers={"X-Min-Position": str(position)})
        assert listed.status_code == 200 and len(listed.json()["items"]) == 3
        health = office.get("/health")
        assert health.status_code == 200 and health.json()["status"] == "ok", health.text
    # ...and a rebuild gives the same exact sum
    runtime.projector.rebuild(["access_log"])
    rows = runtime.access_log_queries.daily(scope=Scope("div-relief"), since=at - timedelta(days=1),
                                            side="provider")
    assert [r.records for r in rows] == [3 * TOP]


class BrittleOrganizations(OrganizationsView):
    """The organizations view with a defect: it cannot hold an organization named 毒 (poison)."""

    def apply(self, tx: Any, event: Any, position: int) -> None:
        if isinstance(event, Organization.Registered) and event.name == "毒":
            raise ValueError("this view cannot hold the name 毒")
        super().apply(tx, event, position)


@pytest.fixture
def brittle_server(runtime):
    runtime.projector.views["organizations"] = BrittleOrganizations()
    runtime.projector.retry_first_seconds = 0.5
    runtime.projector.retry_max_seconds = 2.0
    with LiveServer(runtime) as live:
        yield live


def _settle(check, what: str) -> Any:  # noqa: ANN001
    deadline = time.monotonic() + BOUND
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_a_view_stopped_by_an_event_is_loud_and_a_rebuild_recovers_it(runtime, brittle_server, admin_token, settings,
                                                                      monkeypatch):
    office = brittle_server.client(admin_token)
    org(office, "div-fine")
    r = office.post("/organizations", json={"code": "div-poison", "name": "毒", "kind": "division",
                                            "level": "province", "parent": "office"})
    assert r.status_code == 201, r.text  # the domain recorded it: the view must cope
    poison = int(r.headers["x-ledger-position"])
    after = int(org(office, "div-after").headers["x-ledger-position"])

    # A read that needs the view: 503 with Retry-After, never a 500.
    stalled = office.get("/organizations", headers={"X-Min-Position": str(after)})
    assert stalled.status_code == 503, stalled.text
    assert stalled.headers["content-type"].startswith("application/problem+json")
    assert int(stalled.headers["retry-after"]) >= 1
    assert stalled.json()["view"] == "organizations" and stalled.json()["position"] == poison

    # /health names the view, the position, the event's type and the error.
    health = office.get("/health")
    assert health.status_code == 503 and health.json()["status"] == "degraded", health.text
    (failure,) = health.json()["stalled"]
    assert failure["view"] == "organizations" and failure["position"] == poison
    assert failure["event_type"] == "Organization.Registered" and "毒" in failure["error"]

    # The events before the poison one were applied; the other views go on.
    assert runtime.projector.position("organizations") == poison - 1
    lag = _settle(lambda: (lambda h: h if h["projection_lag"]["catalog"] == 0 else None)(office.get("/health").json()),
                  "the other views did not catch up")
    assert lag["projection_lag"]["organizations"] > 0

    # /metrics: a per-view gauge.
    metrics = office.get("/metrics").text
    assert 'civic_ledger_projection_stalled{view="organizations"} 1' in metrics
    assert 'civic_ledger_projection_stalled{view="catalog"} 0' in metrics

    # Back-off: no attempt before the retry is due; each failed attempt doubles the wait (capped).
    first = runtime.projector.failures()[0]
    assert office.get("/organizations", headers={"X-Min-Position": str(after)}).status_code == 503
    assert runtime.projector.failures()[0].attempts == first.attempts
    second = _settle(lambda: next((f for f in runtime.projector.failures() if f.attempts > first.attempts), None),
                     "the view was never tried again")
    assert second.position == poison and second.attempts == first.attempts + 1
    assert second.retry_at - time.monotonic() <= runtime.projector.retry_max_seconds

    # Once the cause is fixed (here: the shipped view, which holds the name), rebuild --view recovers it.
    monkeypatch.setenv("CIVIC_LEDGER_DATABASE_URL", settings.database_url)
    assert main(["rebuild", "--view", "organizations"]) == 0
    healthy = _settle(lambda: (lambda r: r if r.status_code == 200 else None)(office.get("/health")),
                      "health did not recover after the rebuild")
    assert healthy.json()["status"] == "ok" and "stalled" not in healthy.json()
    listed = office.get("/organizations", headers={"X-Min-Position": str(after)})
    assert listed.status_code == 200, listed.text
    assert {"div-poison", "div-after"} <= {o["code"] for o in listed.json()["items"]}
    assert 'civic_ledger_projection_stalled{view="organizations"} 0' in office.get("/metrics").text
