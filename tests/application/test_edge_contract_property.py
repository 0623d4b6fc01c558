"""Every event the domain can record, every view can hold: commands generated within the declared limits
(strategies read from the same msgspec declarations the edge decodes with) are recorded through the
services on both stores; every view then catches up without an error, and a rebuild equals the live views."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from domain.access_log import Access
from domain.catalog_values import DataItem, EntryContent, OpenClass, ShareClass
from domain.limits import MAX_RECORD_COUNT, Code, OrgCode, PersonName, RecordCount, ShortText
from domain.organizations import Role
from domain.rules import DomainError
from tests.application.access_log_world import PURPOSE, World
from tests.projections.test_rebuild_equals_live import dump
from tests.strategies import strategy
from tests.support import cmd

_n = itertools.count(1)
EXAMPLES = 25


def _lawful(c: EntryContent) -> EntryContent:
    """The generated content, mended only where a rule of the catalog would refuse it (CAT-4, well-formedness)."""
    unique = {i.code: i for i in c.data_items}
    fixes: dict[str, Any] = {"data_items": tuple(unique.values()) or (DataItem(code="ITEM", name="字段", type="string"),)}
    if not c.name.strip():
        fixes["name"] = "名称"
    if not c.delivery_methods and c.share_class != ShareClass.NOT_SHAREABLE:
        fixes["delivery_methods"] = ("interface",)
    if c.share_class == ShareClass.RESTRICTED and not (c.share_conditions or "").strip():
        fixes["share_conditions"] = "仅限核对"
    if c.share_class == ShareClass.NOT_SHAREABLE and not (c.legal_basis or "").strip():
        fixes["legal_basis"] = "依法不予共享"
    if c.open_class == OpenClass.CONDITIONAL and not (c.open_conditions or "").strip():
        fixes["open_conditions"] = "申请开放"
    return msgspec.convert(msgspec.to_builtins(msgspec.structs.replace(c, **fixes)), EntryContent)


ORG = strategy(OrgCode)
NAME = strategy(ShortText).filter(str.strip)
PERSON = strategy(PersonName).filter(str.strip)
CONTENT = strategy(EntryContent).map(_lawful)
CODE = strategy(Code)
COUNT = st.one_of(strategy(RecordCount), st.just(MAX_RECORD_COUNT))
ACCESS = strategy(Access)


def _all_views_caught_up_and_rebuilt_equal(rt: Any) -> None:
    rt.projector.catch_up_all()
    lag = rt.projector.lag()
    assert set(lag.values()) == {0}, lag
    names = list(rt.projector.views)
    live = {n: dump(rt, rt.projector.views[n].tables) for n in names}
    rt.projector.rebuild(names)
    assert {n: dump(rt, rt.projector.views[n].tables) for n in names} == live


def test_commands_within_the_declared_limits_are_held_by_every_view(runtime, admin, clock):
    world = World(runtime, admin, clock, holders=("div-elder",))
    compiler = world.provider.compiler
    recorded = {"orgs": 0, "entries": 0, "accesses": 0}

    @settings(max_examples=EXAMPLES, deadline=None, database=None, phases=(Phase.generate,),
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.data_too_large, HealthCheck.filter_too_much])
    @given(code=ORG, name=NAME, person=PERSON, role=st.sampled_from([Role.REQUESTER, Role.MAINTAINER, Role.AUDITOR]),
           content=CONTENT, resource=CODE, counts=st.lists(COUNT, min_size=1, max_size=5),
           purpose=st.one_of(st.just(PURPOSE), strategy(ShortText)), foreign=st.lists(ACCESS, max_size=3))
    def record(code, name, person, role, content, resource, counts, purpose, foreign):
        n = next(_n)
        org = f"{code[:58]}-{n}"
        runtime.organizations.register(admin, cmd(), code=org, name=name, kind="division", level="province",
                                       parent="office")
        runtime.organizations.assign_role(admin, cmd(), code=org, person=person, role=role)
        recorded["orgs"] += 1
        runtime.catalog.draft(compiler, cmd(), resource_code=f"{resource[:56]}-{n}", content=content)
        recorded["entries"] += 1
        at = clock.now() - timedelta(minutes=5)
        mine = [world.access(record_count=c, purpose=purpose, at=at, request_id=f"p{n}-{i}")
                for i, c in enumerate(counts)]
        # accesses naming anything within the limits (judged, mostly denied); a rule wants one field at least
        others = [msgspec.structs.replace(a, request_id=f"f{n}-{i}", accessed_at=at, fields=a.fields or ("X",),
                                          entry_id=(world.open, world.limited)[i % 2], provider="div-relief",
                                          grant_id=None)
                  for i, a in enumerate(foreign)]
        answer, _ = runtime.access_log.record(world.platform, cmd(), mine + others)
        recorded["accesses"] += len(mine) + len(others)
        assert answer.duplicates == 0
        clock.advance(minutes=1)

    try:
        record()
    except DomainError as e:  # a generated command the rules refuse is a test failure, not noise
        pytest.fail(f"a command within the declared limits was refused: {e}")
    assert recorded["orgs"] == EXAMPLES and recorded["accesses"] >= EXAMPLES
    # and the largest counts allowed, many at once on one entry and day, as the daily sums must hold them
    at = clock.now() - timedelta(minutes=5)
    runtime.access_log.record(world.platform, cmd(), [world.access(record_count=MAX_RECORD_COUNT, at=at)
                                                      for _ in range(2_000)])
    _all_views_caught_up_and_rebuilt_equal(runtime)
    db = runtime.ledger.db
    # the daily sums are exact at any size: NUMERIC on PostgreSQL, decimal text on SQLite (decision 10)
    daily = [int(r["records"]) for r in db.query("SELECT records FROM access_log_daily WHERE side = 'provider'")]
    assert sum(daily) == int(db.scalar("SELECT SUM(record_count) FROM access_log"))
    assert max(daily) >= 2_000 * MAX_RECORD_COUNT
