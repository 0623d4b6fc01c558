"""A revision and a go-live dated when they really took effect, seen from both time axes on both stores.

As at March 1, the entry's revision and the system's go-live (both recorded on March 10, both found
later to have taken effect on February 20) are not in force as known on March 15, and are as known
after the corrections; the earlier facts and their events stay as recorded.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from application.common import Forbidden
from domain.organizations import Role
from domain.systems_values import ProjectEntry
from projections.catalog_queries import CatalogQueries
from projections.scope import EVERYTHING
from projections.systems_queries import SystemQueries
from tests.application.test_systems_flow import PLAN, justification
from tests.conftest import TestClock
from tests.support import Division, cmd, content, member

MAR_1 = datetime.fromisoformat("2026-03-01T12:00:00+08:00")
MAR_15 = datetime.fromisoformat("2026-03-15T12:00:00+08:00")
FEB_20 = date(2026, 2, 20)


@pytest.fixture
def clock() -> TestClock:
    return TestClock(datetime(2026, 1, 5, 1, 0, tzinfo=UTC))


def test_a_revision_and_a_go_live_dated_earlier_change_march_as_known_after_the_correction(runtime, admin, clock):
    rt = runtime
    relief = Division(rt, admin, "div-relief")
    eid = relief.publish("SX-MZ-DB", content(name="低保对象信息"))
    manager = member(rt, admin, "div-relief", "梁宇", Role.SYSTEM_MANAGER)
    catalog = (ProjectEntry(resource_code="SX-MZ-DB", name="低保对象信息", item_codes=("DB_ID",), existing=True),)
    sid = rt.systems.propose(manager, cmd(), name="社会救助信息系统", plan=PLAN, catalog=catalog).aggregate_id
    rt.systems.justify(manager, cmd(), sid, justification=justification())
    rt.systems.review(admin, cmd(), sid, decision="approve", comment="同意建设")
    rt.systems.connect(manager, cmd(), sid, platform="exchange", reference="JH-2026-001")
    rt.systems.connect(manager, cmd(), sid, platform="integration", reference="YT-2026-001")
    rt.systems.record_test(admin, cmd(), sid, passed=True, findings=())

    clock.set(datetime(2026, 3, 10, 2, 0, tzinfo=UTC))
    rt.catalog.revise(relief.compiler, cmd(), eid, content=content(name="低保对象信息（第二版）"))
    relief.republish(eid)
    rt.systems.go_live(manager, cmd(), sid, on=date(2026, 3, 10))

    clock.set(datetime(2026, 3, 20, 2, 0, tzinfo=UTC))
    with pytest.raises(Forbidden):  # the role is checked before the domain's TIME-1
        rt.systems.correct_go_live(manager, cmd(), sid, on=FEB_20, reason="实际上线日期")
    rt.catalog.correct_effective_date(admin, cmd(), eid, version=2, effective_on=FEB_20, reason="按厅发文日期生效")
    rt.systems.correct_go_live(admin, cmd(), sid, on=FEB_20, reason="系统实际于2月20日上线")
    rt.projector.catch_up_all()

    def seen(at: datetime, known: datetime | None) -> tuple[tuple[int, str], tuple[str, str | None]]:
        _, db = rt.state_as_of(at, known)
        entry = CatalogQueries(db, 7).get(str(eid), scope=EVERYTHING, now=at)
        [system] = SystemQueries(db).systems(scope=EVERYTHING)[0]
        assert entry is not None
        return (entry.current_version, entry.name), (system.state, system.live_since)

    assert seen(MAR_1, MAR_15) == ((1, "低保对象信息"), ("approved", None))
    assert seen(MAR_1, None) == ((2, "低保对象信息（第二版）"), ("live", "2026-02-20"))
    assert seen(datetime.fromisoformat("2026-02-19T23:59:59+08:00"), None) == ((1, "低保对象信息"), ("approved", None))
    assert seen(MAR_15, MAR_15) == ((2, "低保对象信息（第二版）"), ("live", "2026-03-10"))  # as recorded then

    found = rt.state_changes(MAR_1, MAR_15, None)
    learned = [(r["type"], r.get("corrects")) for r in found["learned"]]
    assert learned == [("CatalogEntry.Published", None), ("InformationSystem.WentLive", None),
                       ("CatalogEntry.EffectiveDateCorrected", "published_on"),
                       ("InformationSystem.GoLiveDateCorrected", "live_since")]
    changed = {c["kind"]: (c["before"], c["after"]) for c in found["changed"]}
    assert changed["catalog-entry"][0]["current_version"] == 1 and changed["catalog-entry"][1]["published_on"] == (
        "2026-02-20")
    assert (changed["system"][0]["state"], changed["system"][1]["state"]) == ("approved", "live")

    # the corrected facts' own events stay as recorded
    events = [rt.ledger.mapper.to_domain_event(s) for _, s in rt.ledger.stored_events_of(eid)]
    [v2] = [e for e in events if type(e).__name__ == "Published" and e.version == 2]
    [fix] = [e for e in events if type(e).__name__ == "EffectiveDateCorrected"]
    assert v2.published_on == date(2026, 3, 10) and fix.corrects_version == v2.originator_version
    assert rt.catalog.load(eid).current.published_on == FEB_20
