"""The maintenance demo: loaded after the demo's organizations, catalog and sharing, every state present."""

from __future__ import annotations

from api.cli import demo_parts, load_demo
from application.common import Principal
from demo.data import DEMO_ADMIN
from demo.maintenance import maintenance_summary
from domain.maintenance_values import BatchStatus, TicketStatus

OFFICE = Principal(person=DEMO_ADMIN, organization="office", roles=frozenset({"office_admin"}))


def test_maintenance_demo_has_every_state(runtime, clock):
    """`load_demo` loads the maintenance phase between the catalog's waves and its late part after the gap."""
    load_demo(runtime)
    s = maintenance_summary(demo_parts(runtime).store)
    assert set(s["tickets_by_status"]) == {str(t) for t in TicketStatus}
    assert set(s["batches_by_status"]) == {str(b) for b in BatchStatus}
    assert s["refused_executions"] == 1
    assert set(s["objections_by_status"]) == {"open", "confirmed", "rejected"}
    assert s["overdue_objections"] == 2 and s["objections_by_status"]["open"] == 3
