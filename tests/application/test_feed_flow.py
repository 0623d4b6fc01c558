"""Event feeds: CloudEvents over the whole ledger, in order, scoped to what an organization may see."""

from __future__ import annotations

from uuid import UUID

import pytest

from application.common import ApplicationError, Forbidden
from application.feeds import ALL, FeedScope, Filter
from domain.organizations import Role
from infrastructure.cloudevents import catalogue
from projections.scope import Scope
from tests.application.access_log_world import World
from tests.support import Division, cmd, content, member, register

PUBLISHED = "cn.gov.shaanxi.mz.catalog.entry.published"
DRAFTED = "cn.gov.shaanxi.mz.catalog.entry.drafted"
RECORDED = "cn.gov.shaanxi.mz.access.log.recorded"
GRANTED = "cn.gov.shaanxi.mz.grant.granted"


def read_all(rt, scope: FeedScope, f: Filter = ALL, limit: int = 7) -> list[dict]:
    """Follows the cursor page by page to the horizon."""
    out, after = [], 0
    while True:
        page = rt.feeds.page(scope, after, limit, f)
        out.extend(page.events)
        if len(page.events) < limit:
            return out
        after = page.next


@pytest.fixture
def world(runtime, admin, clock) -> World:
    w = World(runtime, admin, clock)
    runtime.access_log.record(w.platform, cmd(), [w.access("div-elder"), w.access("div-welfare")])
    return w


def test_the_office_reads_every_event_once_in_ledger_order_as_cloudevents(runtime, world):
    events = read_all(runtime, FeedScope())
    positions = [e["ledgerposition"] for e in events]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert len(events) == runtime.ledger.max_position()  # every stored event, none skipped
    first = events[0]
    assert first["specversion"] == "1.0" and first["source"] == runtime.ledger.settings.public_base_url
    assert first["type"] == "cn.gov.shaanxi.mz.organization.registered"
    assert first["id"].endswith(":1") and first["subject"].startswith("organization/")
    assert first["data"]["code"] == "office" and "person" not in first["data"]["actor"]
    assert all(e["type"] in catalogue().by_name for e in events)
    assert len({e["id"] for e in events}) == len(events)


def test_events_carry_the_chain_hash_of_their_position(runtime, world):
    events = read_all(runtime, FeedScope(), limit=500)
    rows = {int(r["position"]): bytes(r["hash"]).hex() for r in runtime.ledger.db.query(
        "SELECT position, hash FROM ledger_chain")}
    assert rows and all(e["ledgerhash"] == rows[e["ledgerposition"]] for e in events)


def test_a_holder_sees_its_grants_the_public_catalog_and_only_its_own_access_records(runtime, world):
    elder = read_all(runtime, FeedScope("div-elder"))
    types = {e["type"] for e in elder}
    assert PUBLISHED in types and GRANTED in types
    assert DRAFTED not in types  # the provider's drafts are not the published catalog
    assert all(e["data"]["spec"]["holder"] == "div-elder" for e in elder if e["type"] == GRANTED)
    logs = [e for e in elder if e["type"] == RECORDED]
    assert len(logs) == 1 and [r["holder"] for r in logs[0]["data"]["records"]] == ["div-elder"]
    organizations = {e["data"]["code"] for e in elder if e["type"].endswith("organization.registered")}
    assert organizations == {"div-elder"}


def test_the_provider_sees_its_drafts_and_the_access_records_about_its_data(runtime, world):
    relief = read_all(runtime, FeedScope("div-relief"))
    types = {e["type"] for e in relief}
    assert DRAFTED in types
    logs = [e for e in relief if e["type"] == RECORDED]
    assert sorted(r["holder"] for r in logs[0]["data"]["records"]) == ["div-elder", "div-welfare"]
    assert {e["data"]["spec"]["holder"] for e in relief if e["type"] == GRANTED} == {"div-elder", "div-welfare"}


def test_an_organization_with_no_ties_sees_only_the_published_catalog_and_itself(runtime, admin, world):
    register(runtime, admin, "div-outsider")
    seen = read_all(runtime, FeedScope("div-outsider"))
    assert {e["type"] for e in seen} == {PUBLISHED, "cn.gov.shaanxi.mz.organization.registered"}


def test_a_feed_scope_keeps_access_log_events_from_the_platform_where_a_row_scope_has_no_such_rule(
        runtime, admin, world):
    """The two scopes differ for a platform account: its row scope is its organization's (the access-log
    queries refuse it themselves), its feed scope is the same organization without any access-log event."""
    platform = member(runtime, admin, "div-relief", "救助处平台账号", Role.PLATFORM)
    rows, feed = Scope.of(platform), FeedScope.of(platform)
    assert rows == Scope("div-relief") and feed == FeedScope("div-relief", access_log=False)
    provider_feed = read_all(runtime, FeedScope("div-relief"), limit=500)
    [batch] = [e for e in provider_feed if e["type"] == RECORDED]
    # by the row rule alone the provider's platform account would see the records about its data …
    assert all(rows.sees(r["holder"], r["provider"]) for r in batch["data"]["records"])
    with pytest.raises(Forbidden):  # … so the access-log reads refuse it before any query runs
        runtime.access_log.scope_of(platform)
    # … and its feed, in the same organization's audience, leaves out every access-log event
    seen = read_all(runtime, feed, limit=500)
    assert seen and RECORDED not in {e["type"] for e in seen}
    assert [e["id"] for e in seen] == [e["id"] for e in provider_feed if e["type"] != RECORDED]


def test_filters_by_type_and_subject(runtime, admin, world):
    published = read_all(runtime, FeedScope("div-welfare"), Filter(types=(PUBLISHED,)))
    assert len(published) == 2 and {e["type"] for e in published} == {PUBLISHED}
    subject = f"catalog-entry/{world.open}"
    history = read_all(runtime, FeedScope(), Filter(subject=subject))
    assert {e["subject"] for e in history} == {subject} and len(history) == 4
    with pytest.raises(ApplicationError):
        runtime.feeds.check(Filter(types=("no.such.type",)))


def test_a_cursor_past_the_horizon_is_stable_and_new_events_follow_it(runtime, admin, world):
    first = runtime.feeds.page(FeedScope("div-relief"), 0, 500)
    again = runtime.feeds.page(FeedScope("div-relief"), 0, 500)
    assert first.events == again.events and first.next == first.horizon
    div = Division(runtime, admin, "div-new")
    r = runtime.catalog.draft(div.compiler, cmd(), resource_code="SX-NEW", content=content())
    later = runtime.feeds.page(FeedScope(), first.next, 500)
    assert later.events and all(e["ledgerposition"] > first.next for e in later.events)
    assert later.events[-1]["subject"] == f"catalog-entry/{r.aggregate_id}"
    assert UUID(later.events[-1]["id"].split(":")[0]) == r.aggregate_id
    # the provider of the new draft sees it; the older reader's cursor needs no rescan
    assert runtime.feeds.page(FeedScope("div-relief"), first.next, 500).events == []
