"""The catalog read model: rebuild equals live, exactly-once under failure, overdue and filters."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest

from domain.catalog_values import OpenClass, ReviewDecision, ShareClass, UpdateCycle
from projections.catalog import CatalogView
from projections.catalog_queries import CatalogFilter
from projections.scope import EVERYTHING, Scope
from tests.support import PASS, Division, cmd, content, fail, items

TABLES = ("catalog_entries", "catalog_items", "open_catalog", "organizations", "organization_members")


def dump(rt) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    for t in TABLES:
        rows = rt.ledger.db.query(f"SELECT * FROM {t}")
        out[t] = sorted(tuple(str(v) for v in r.values()) for r in rows)
    return out


def random_history(rt, admin, seed: int, n: int = 25, prefix: str = "") -> None:
    rng = random.Random(seed)
    divs = [Division(rt, admin, f"div-{prefix.lower()}{i}") for i in range(3)]  # codes are lower case
    for i in range(n):
        d = rng.choice(divs)
        share = rng.choice(list(ShareClass))
        extra = {"share_conditions": "仅限业务使用"} if share == ShareClass.RESTRICTED else {}
        if share == ShareClass.NOT_SHAREABLE:
            extra = {"legal_basis": "《中华人民共和国个人信息保护法》"}
        c = content(name=f"资源{i}", data_items=items(f"{d.code}-F{i}", f"{d.code}-G{i}"), share_class=share,
                    open_class=rng.choice([OpenClass.OPEN, OpenClass.CLOSED]), **extra)
        eid = rt.catalog.draft(d.compiler, cmd(), resource_code=f"SX-{prefix}{i:03}", content=c).aggregate_id
        steps = rng.randint(0, 5)
        if steps >= 1:
            rt.catalog.submit(d.compiler, cmd(), eid)
        if steps == 2:
            rt.catalog.review(d.reviewer, cmd(), eid, review=fail("completeness"), decision=ReviewDecision.RETURN)
        if steps >= 3:
            rt.catalog.review(d.reviewer, cmd(), eid, review=PASS, decision=ReviewDecision.APPROVE)
        if steps >= 4:
            rt.catalog.publish(admin, cmd(), eid)
        if steps == 5:
            if rng.random() < 0.5:
                rt.catalog.revise(d.compiler, cmd(), eid, content=c)
            else:
                rt.catalog.retire(admin, cmd(), eid, reason="资源停止采集")
        if rng.random() < 0.3:
            rt.projector.catch_up_all()  # the live view advances in uneven steps


@pytest.mark.parametrize("seed", [1, 2])
def test_rebuild_yields_exactly_the_live_rows(runtime, admin, seed):
    random_history(runtime, admin, seed)
    runtime.projector.catch_up_all()
    live = dump(runtime)
    assert live["catalog_entries"], "the history produced entries"
    runtime.projector.rebuild()
    assert dump(runtime) == live


class ExplodingCatalogView(CatalogView):
    """The real catalog view, failing twice on a chosen event (in its page, then alone): it must leave no trace."""

    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.fail_at = fail_at
        self.failures_left = 2

    def apply(self, tx, event, position):
        super().apply(tx, event, position)
        if position == self.fail_at and self.failures_left:
            self.failures_left -= 1
            raise RuntimeError("crash in the middle of a page")


def test_a_failed_page_is_neither_half_applied_nor_applied_twice(runtime, admin):
    from projections.runner import Projector, ViewStalled

    random_history(runtime, admin, seed=3, n=10)
    head = runtime.ledger.max_position()
    runtime.projector.rebuild(["catalog"])
    expected = dump(runtime)["catalog_entries"]
    view = ExplodingCatalogView(fail_at=head - 3)
    projector = Projector(runtime.ledger, [view], page_size=4)
    projector.retry_first_seconds = 0  # the next catch-up may try again at once
    with pytest.raises(ViewStalled) as stalled:
        projector.rebuild()
    assert stalled.value.failure.position == head - 3 and "crash" in stalled.value.failure.error
    stopped = projector.build_position("catalog")
    assert stopped is not None and stopped < head - 3  # the events before the failing one are kept, its rows are not
    rows_then = runtime.ledger.db.scalar("SELECT COUNT(*) FROM catalog_entries__next")
    # the live view was never touched by the failed rebuild
    assert projector.position("catalog") == head and dump(runtime)["catalog_entries"] == expected
    projector.rebuild()  # resumes the build where it stopped and swaps it in
    assert projector.position("catalog") == head and projector.build_position("catalog") is None
    assert dump(runtime)["catalog_entries"] == expected
    assert rows_then <= len(expected)


def test_overdue_entries_are_found_by_update_cycle(runtime, admin, clock):
    d = Division(runtime, admin)
    ids = {}
    for code, cycle in (("SX-M", UpdateCycle.MONTHLY), ("SX-Y", UpdateCycle.YEARLY)):
        eid = runtime.catalog.draft(d.compiler, cmd(), resource_code=code,
                                    content=content(update_cycle=cycle, data_items=items(code))).aggregate_id
        runtime.catalog.submit(d.compiler, cmd(), eid)
        runtime.catalog.review(d.reviewer, cmd(), eid, review=PASS, decision=ReviewDecision.APPROVE)
        runtime.catalog.publish(admin, cmd(), eid)
        ids[code] = eid
    clock.advance(days=45)  # past a month plus 7 days' grace, well within a year
    runtime.projector.catch_up_all()
    rows, _ = runtime.catalog_queries.list(CatalogFilter(overdue=True), scope=EVERYTHING, now=clock.now())
    assert [r.resource_code for r in rows] == ["SX-M"]
    runtime.catalog.record_refresh(d.compiler, cmd(), ids["SX-M"], as_of=clock.now() - timedelta(days=1))
    runtime.projector.catch_up_all()
    rows, _ = runtime.catalog_queries.list(CatalogFilter(overdue=True), scope=EVERYTHING, now=clock.now())
    assert rows == []


def test_filters_and_paging(runtime, admin):
    d = Division(runtime, admin)
    for i in range(7):
        eid = runtime.catalog.draft(d.compiler, cmd(), resource_code=f"SX-{i}",
                                    content=content(name=f"婚姻登记信息{i}" if i % 2 else f"养老机构{i}",
                                                    data_items=items(f"C{i}", "SHARED" if i == 3 else f"D{i}"))).aggregate_id
        if i < 5:
            runtime.catalog.submit(d.compiler, cmd(), eid)
            runtime.catalog.review(d.reviewer, cmd(), eid, review=PASS, decision=ReviewDecision.APPROVE)
            runtime.catalog.publish(admin, cmd(), eid)
    runtime.projector.catch_up_all()
    q = runtime.catalog_queries
    now = runtime.now()
    assert {r.resource_code for r in q.list(CatalogFilter(q="婚姻"), scope=EVERYTHING, now=now)[0]} == {"SX-1", "SX-3", "SX-5"}
    assert [r.resource_code for r in q.list(CatalogFilter(item_code="SHARED"), scope=EVERYTHING, now=now)[0]] == ["SX-3"]
    # another organization sees only the published entries
    seen = [r.resource_code for r in q.list(CatalogFilter(), scope=Scope("someone-else"), now=now)[0]]
    assert seen == [f"SX-{i}" for i in range(5)]
    page1, cursor = q.list(CatalogFilter(), scope=EVERYTHING, now=now, limit=4)
    page2, end = q.list(CatalogFilter(), scope=EVERYTHING, now=now, limit=4, cursor=cursor)
    assert [r.resource_code for r in page1 + page2] == [f"SX-{i}" for i in range(7)] and end is None


def test_item_code_filter_matches_whole_codes_only(runtime, admin):
    """An entry's item codes are kept in one column (decision 0029): the filter finds a code as a whole, with its
    case, never inside a longer code, and '_' or '.' are no wildcards; a pending version's codes are the
    provider's own, and a retired entry's codes match nothing."""
    d = Division(runtime, admin)
    codes = {"SX-A": ("ID_1", "NAME"), "SX-B": ("ID_10", "X.Y"), "SX-C": ("id_1", "IDX1"), "SX-D": ("NAME",),
             "SX-E": ("GONE",)}
    ids = {}
    for code, item_codes in codes.items():
        eid = ids[code] = runtime.catalog.draft(d.compiler, cmd(), resource_code=code,
                                                content=content(data_items=items(*item_codes))).aggregate_id
        if code != "SX-D":  # SX-D stays a draft: its codes are the provider's own
            runtime.catalog.submit(d.compiler, cmd(), eid)
            runtime.catalog.review(d.reviewer, cmd(), eid, review=PASS, decision=ReviewDecision.APPROVE)
            runtime.catalog.publish(admin, cmd(), eid)
    runtime.catalog.retire(admin, cmd(), ids["SX-E"], reason="并入 SX-A")
    runtime.projector.catch_up_all()
    q, now = runtime.catalog_queries, runtime.now()

    def found(code: str, scope: Scope = EVERYTHING) -> list[str]:
        return [r.resource_code for r in q.list(CatalogFilter(item_code=code), scope=scope, now=now)[0]]

    assert found("ID_1") == ["SX-A"] and found("ID_10") == ["SX-B"] and found("X.Y") == ["SX-B"]
    assert found("ID") == [] and found("ID_") == [] and found("IDX") == [] and found("XXY") == []
    assert found("id_1") == ["SX-C"] and found("IDX1") == ["SX-C"] and found("name") == [] and found("X_Y") == []
    assert found("GONE") == []
    assert found("NAME") == ["SX-A", "SX-D"] and found("NAME", Scope(d.code)) == ["SX-A", "SX-D"]
    assert found("NAME", Scope("someone-else")) == ["SX-A"]
