"""The projector: a fault in a view surfaces instead of being mistaken for a page applied elsewhere."""

from __future__ import annotations

import pytest

from domain.organizations import Organization
from projections.base import View, on
from projections.runner import Projector


class DuplicatingView(View):
    name = "duplicating"
    version = 1
    tables = ("dup_rows",)

    def create(self, tx):
        tx.execute("CREATE TABLE IF NOT EXISTS dup_rows (k TEXT PRIMARY KEY)")

    @on(Organization.RoleAssigned)
    def _role_assigned(self, tx, event, position):
        tx.execute("INSERT INTO dup_rows VALUES (?)", ("always-the-same",))


def test_a_unique_violation_in_a_view_is_raised_not_retried_forever(runtime, admin):
    from tests.support import member, register

    register(runtime, admin, "div-a")
    member(runtime, admin, "div-a", "甲", "catalog_compiler")  # the admin's role and this one: two events
    projector = Projector(runtime.ledger, [DuplicatingView()])
    with pytest.raises(Exception) as failure:
        projector.catch_up("duplicating")
    assert "unique" in str(failure.value).lower() or "integrity" in type(failure.value).__name__.lower()
    # The first event was applied and kept; the view stops just before the one it cannot apply.
    assert 0 < projector.position("duplicating") < failure.value.failure.position


def test_two_projectors_on_one_view_apply_each_event_once(runtime, admin):
    from tests.support import Division

    Division(runtime, admin, "div-a")
    first = Projector(runtime.ledger, [type(runtime.projector.views["organizations"])()])
    second = Projector(runtime.ledger, [type(runtime.projector.views["organizations"])()])
    first.rebuild()
    Division(runtime, admin, "div-b")
    second.catch_up("organizations")
    first.catch_up("organizations")  # its page is already applied: skipped, not applied twice
    rows = runtime.ledger.db.query("SELECT organization, person, role FROM organization_members ORDER BY 1, 2, 3")
    assert len(rows) == len({tuple(r.values()) for r in rows}) == 5


def test_two_processes_projecting_one_view_at_once_neither_stalls(settings, clock):
    """Two runtimes (as two processes would) catch one view up at the same moment, page by page: the one whose
    page the other committed first meets rows already there (a unique key), and skips the page instead of
    taking it for a fault of the view."""
    import threading

    from application.common import Principal
    from bootstrap import Runtime
    from tests.support import register

    writer = Runtime(settings, clock=clock)
    writer.init(admin="office-admin")
    office = Principal(person="office-admin", organization="office", roles=frozenset({"office_admin"}))
    for i in range(60):
        register(writer, office, f"div-{i:03d}")
    head = writer.ledger.max_position()
    racers = [Runtime(settings, clock=clock) for _ in range(2)]
    try:
        for rt in racers:
            rt.projector.page_size = 3
        with writer.ledger.db.write() as tx:  # both start from nothing
            writer.projector._reset(tx, writer.projector.views["organizations"])
            writer.projector.views["organizations"].create(tx)
        errors: list[BaseException] = []
        gate = threading.Barrier(2)

        def race(rt: Runtime) -> None:
            try:
                gate.wait()
                rt.projector.catch_up("organizations")
            except BaseException as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=race, args=(rt,)) for rt in racers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert errors == []
        assert all(rt.projector.position("organizations") == head for rt in racers)
        assert not any(rt.projector.failures() for rt in racers)
        assert writer.ledger.db.scalar("SELECT COUNT(*) FROM organizations") == 61
    finally:
        for rt in racers:
            rt.close()
        writer.close()
