"""OPEN-1 (第二十七条, 第二十八条): the open-data catalog is the published entries whose open class is not
`closed`, kept current as entries are published, revised and retired."""

from __future__ import annotations

from domain.catalog_values import OpenClass
from tests.support import Division, cmd, content, items


def _open_codes(rt) -> list[str]:  # type: ignore[no-untyped-def]
    rt.projector.catch_up_all()
    rows, _ = rt.catalog_queries.open_catalog(limit=100)
    return sorted(r.resource_code for r in rows)


def _publish(d, code, open_class, **over):  # type: ignore[no-untyped-def]
    return d.publish(code, content(open_class=open_class, data_items=items(f"{code}_A"), **over))


def test_the_open_catalog_holds_published_entries_not_closed_and_follows_revision_and_retirement(runtime, admin):
    d = Division(runtime, admin)
    opened = _publish(d, "SX-OPEN", OpenClass.OPEN)
    cond = _publish(d, "SX-COND", OpenClass.CONDITIONAL, open_conditions="经申请审核后开放")
    _publish(d, "SX-CLOSED", OpenClass.CLOSED)
    runtime.catalog.draft(d.compiler, cmd(), resource_code="SX-DRAFT",
                          content=content(open_class=OpenClass.OPEN, data_items=items("DR_A")))
    assert _open_codes(runtime) == ["SX-COND", "SX-OPEN"]          # neither closed nor unpublished

    # a revision to `closed` leaves the published version open until the new one is published (CAT-6)
    runtime.catalog.revise(d.compiler, cmd(), opened, content=content(open_class=OpenClass.CLOSED,
                                                                       data_items=items("SX-OPEN_A")))
    assert _open_codes(runtime) == ["SX-COND", "SX-OPEN"]
    d.republish(opened)
    assert _open_codes(runtime) == ["SX-COND"]

    runtime.catalog.retire(admin, cmd(), cond, reason="停止开放")
    assert _open_codes(runtime) == []
