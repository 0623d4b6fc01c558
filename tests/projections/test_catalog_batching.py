"""The catalog view applies a page of events in memory and writes it in a few batched statements:
whatever the page size, it must leave exactly the rows that one event per page leaves."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import msgspec
import pytest
from eventsourcing.utils import get_topic

from domain.catalog import CatalogEntry
from domain.catalog_values import OpenClass, ReviewDecision, ShareClass
from projections.catalog import CatalogView
from projections.runner import Projector
from tests.support import PASS, Division, cmd, content, fail, items

TABLES = ("catalog_entries", "catalog_items", "open_catalog")


def dump(rt) -> dict[str, list[tuple[Any, ...]]]:
    return {
        t: sorted(tuple(str(v) for v in r.values()) for r in rt.ledger.db.query(f"SELECT * FROM {t}"))
        for t in TABLES
    }


def approve(rt, d: Division, eid) -> None:
    rt.catalog.submit(d.compiler, cmd(), eid)
    rt.catalog.review(d.reviewer, cmd(), eid, review=PASS, decision=ReviewDecision.APPROVE)


def busy_history(rt, admin, clock) -> dict[str, Any]:
    """Many entries interleaved, and one entry living through every kind of catalog event."""
    d = Division(rt, admin)
    e = rt.catalog
    a = e.draft(d.compiler, cmd(), resource_code="SX-A", content=content(data_items=items("A1", "SHARED"))).aggregate_id
    others = []
    for i in range(6):
        others.append(e.draft(d.compiler, cmd(), resource_code=f"SX-O{i}",
                              content=content(name=f"资源{i}", data_items=items(f"O{i}"))).aggregate_id)
        e.revise_draft(d.compiler, cmd(), a, content=content(name=f"修订{i}", data_items=items("A1", f"A{i + 10}", "SHARED")))
    e.submit(d.compiler, cmd(), a)
    e.review(d.reviewer, cmd(), a, review=fail("accuracy"), decision=ReviewDecision.RETURN)
    e.revise_draft(d.compiler, cmd(), a, content=content(name="低保对象", data_items=items("A1", "SHARED")))
    approve(rt, d, a)
    e.publish(admin, cmd(), a)
    clock.advance(days=3)
    e.record_refresh(d.compiler, cmd(), a, as_of=clock.now() - timedelta(days=1))
    e.record_refresh(d.compiler, cmd(), a, as_of=clock.now() - timedelta(days=2))  # older: last_updated stays
    e.revise(d.compiler, cmd(), a, content=content(name="低保对象（二版）", data_items=items("A1", "A9", "SHARED"),
                                                   open_class=OpenClass.OPEN))
    e.revise_draft(d.compiler, cmd(), a, content=content(name="低保对象（二版修订）", open_class=OpenClass.OPEN,
                                                         data_items=items("A1", "A8", "SHARED")))
    approve(rt, d, a)
    e.publish(admin, cmd(), a)
    e.record_refresh(d.compiler, cmd(), a, as_of=clock.now())
    # an entry that collects a published datum again, with the Office's acceptance, then is retired
    justified = msgspec.structs.replace(items("SHARED")[0], duplicate_justification="业务需要独立采集")
    b = e.draft(d.compiler, cmd(), resource_code="SX-B",
                content=content(data_items=(*items("B1"), justified), open_class=OpenClass.OPEN,
                                share_class=ShareClass.RESTRICTED, share_conditions="仅限业务使用")).aggregate_id
    e.submit(d.compiler, cmd(), b)
    e.accept_duplicate(admin, cmd(), b, item_code="SHARED")
    e.review(d.reviewer, cmd(), b, review=PASS, decision=ReviewDecision.APPROVE)
    e.publish(admin, cmd(), b)
    e.revise(d.compiler, cmd(), b, content=content(data_items=items("B1", "B2")))
    e.retire(admin, cmd(), b, reason="资源停止采集")
    for i, eid in enumerate(others):
        if i % 2:
            approve(rt, d, eid)
        if i % 3 == 0:
            e.retire(d.reviewer, cmd(), eid, reason="重复编目")
    return {"a": a, "b": b, "division": d}


def check_rows(rt) -> None:
    """What the busy history must leave, whatever the paging."""
    db = rt.ledger.db
    rows = {r["resource_code"]: r for r in db.query("SELECT * FROM catalog_entries")}
    assert {c: r["status"] for c, r in rows.items()} == {
        "SX-A": "published", "SX-B": "retired", "SX-O0": "retired", "SX-O1": "approved", "SX-O2": "drafted",
        "SX-O3": "retired", "SX-O4": "drafted", "SX-O5": "approved",
    }
    a, b = rows["SX-A"], rows["SX-B"]
    assert (a["name"], a["current_version"], a["pending_version"], a["accepted_duplicates"]) == (
        "低保对象（二版修订）", 2, None, "{}")
    assert a["last_updated"] > a["published_on"] and a["open_class"] == "open"
    assert (b["current_version"], b["pending_version"], b["pending_content"]) == (1, None, None)
    items_of = {}
    for r in db.query("SELECT * FROM catalog_items"):
        items_of.setdefault(r["entry_id"], set()).update((code, r["published"]) for code in r["codes"].split())
    assert items_of == {
        a["id"]: {("A1", 1), ("A8", 1), ("SHARED", 1)},
        rows["SX-O1"]["id"]: {("O1", 0)}, rows["SX-O2"]["id"]: {("O2", 0)},
        rows["SX-O4"]["id"]: {("O4", 0)}, rows["SX-O5"]["id"]: {("O5", 0)},
    }
    assert [(r["id"], r["name"]) for r in db.query("SELECT * FROM open_catalog")] == [(a["id"], a["name"])]


@pytest.mark.parametrize("page_size", [2, 5, 500])
def test_any_page_size_leaves_the_rows_of_one_event_per_page(runtime, admin, clock, page_size):
    busy_history(runtime, admin, clock)
    Projector(runtime.ledger, [CatalogView()], page_size=1).rebuild()
    expected = dump(runtime)
    check_rows(runtime)

    Projector(runtime.ledger, [CatalogView()], page_size=page_size).rebuild()
    assert dump(runtime) == expected


def test_an_event_applied_outside_a_page_is_written_at_once(runtime, admin, clock):
    busy_history(runtime, admin, clock)
    projector = Projector(runtime.ledger, [CatalogView()], page_size=500)
    projector.rebuild()
    expected = dump(runtime)
    view = CatalogView()
    with runtime.ledger.db.write() as tx:
        for t in TABLES:
            tx.execute(f"DELETE FROM {t}")
    for n in runtime.ledger.recorder.select_notifications(start=0, limit=10_000):
        if view.wants(n.topic):
            with runtime.ledger.db.write() as tx:
                view.apply(tx, runtime.ledger.mapper.to_domain_event(n), n.id)
    assert dump(runtime) == expected


def test_an_abandoned_page_leaks_nothing_into_the_next(runtime, admin, clock):
    ids = busy_history(runtime, admin, clock)
    log = runtime.ledger.recorder.select_notifications(start=0, limit=10_000)
    retired = next(n for n in log if n.topic == get_topic(CatalogEntry.Retired) and n.originator_id == ids["b"])
    view = CatalogView()
    Projector(runtime.ledger, [view], page_size=1).rebuild()
    expected = dump(runtime)
    with runtime.ledger.db.write() as tx:  # the view dropped with its position: the next projector starts afresh
        for table in view.tables:
            tx.execute(f"DROP TABLE {table}")
        tx.execute(f"DELETE FROM {runtime.projector._tracking_table} WHERE application_name = 'view:catalog'")
        tx.execute("DELETE FROM view_schemas WHERE name = 'catalog'")
    projector = Projector(runtime.ledger, [view], page_size=1)
    assert projector.position("catalog") == 0
    projector.catch_up("catalog", until=retired.id - 2)
    with pytest.raises(RuntimeError), runtime.ledger.db.write() as tx:
        view.begin_page(tx)  # a page that gets as far as B's retirement, then crashes
        view.apply(tx, runtime.ledger.mapper.to_domain_event(retired), retired.id)
        raise RuntimeError("crash before the end of the page")
    projector.catch_up("catalog", until=retired.id - 1)
    status = runtime.ledger.db.scalar("SELECT status FROM catalog_entries WHERE resource_code = 'SX-B'")
    assert status == "revising", "the abandoned page's retirement leaked into the next page"
    projector.catch_up("catalog")
    assert dump(runtime) == expected
