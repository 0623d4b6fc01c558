"""Rebuild equals live for every read model the projector keeps (`all_views()`), on both stores.

The state is the demo (share requests in every status, orders, grants active, suspended, revoked, expired and
consumed; tickets, batches with refused executions, objections answered and late; a day of access-log traffic;
the monitors' candidates), then compliance cases taken through every step of their lifecycle. The live tables,
built page by page while all that happened, must equal the tables a rebuild replays from the ledger.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from api.cli import load_demo
from application.common import Principal
from demo.data import DEMO_ADMIN
from domain.compliance import Evidence, EvidenceKind, ViolationKind
from domain.organizations import OFFICE_CODE, Role
from projections.registry import all_views
from projections.scope import EVERYTHING
from tests.support import cmd, member

VIEWS = all_views()


def dump(rt: Any, tables: tuple[str, ...]) -> dict[str, list[tuple[tuple[str, str], ...]]]:
    """Every row of every table, columns by name, in a fixed order."""
    out = {}
    for t in tables:
        rows = rt.ledger.db.query(f"SELECT * FROM {t}")
        out[t] = sorted(tuple(sorted((k, str(v)) for k, v in r.items())) for r in rows)
    return out


def take_cases_through_their_lifecycle(rt: Any, clock: Any) -> None:
    office = Principal(person=DEMO_ADMIN, organization=OFFICE_CODE, roles=frozenset({str(Role.OFFICE_ADMIN)}))
    rt.projector.catch_up_all()
    rows, _ = rt.compliance_queries.violations(scope=EVERYTHING, status="candidate", limit=500)
    assert len(rows) >= 4, "the demo raised candidates to work on"
    accepted, escalated, reported, dismissed = (UUID(r.id) for r in rows[:4])
    reporters: dict[str, Principal] = {}

    def reporter(subject: str) -> Principal:
        if subject not in reporters:
            reporters[subject] = member(rt, office, subject, f"{subject}-整改负责人", Role.SYSTEM_MANAGER)
        return reporters[subject]

    deadline = clock.now() + timedelta(days=30)
    for v in (accepted, escalated, reported):
        rt.compliance.confirm(office, cmd(), v, comment="核实属实")
        rt.compliance.issue_notice(office, cmd(), v, deadline=deadline, requirements="限期整改")
    subject = {r.id: r.subject for r in rows}
    rt.compliance.report(reporter(subject[str(accepted)]), cmd(), accepted, report="已整改")
    rt.compliance.accept(office, cmd(), accepted, comment="整改到位")
    rt.projector.catch_up_all()  # the live view advances between the steps
    rt.compliance.dismiss(office, cmd(), dismissed, reason="经核查为测试调用")
    raised = rt.compliance.raise_violation(
        office, cmd(), kind=ViolationKind.OTHER, subject=subject[str(accepted)],
        evidence=(Evidence(kind=EvidenceKind.ENTRY, ref=str(rt.ledger.db.scalar("SELECT MIN(id) FROM catalog_entries"))),),
        summary="巡检发现的其他违规").aggregate_id
    assert raised is not None
    clock.advance(days=31)
    rt.compliance.report(reporter(subject[str(reported)]), cmd(), reported, report="逾期整改")
    rt.compliance.escalate(office, cmd(), escalated, reason="逾期未整改")


def statuses(rt: Any, table: str, column: str = "status") -> set[str]:
    return {r[column] for r in rt.ledger.db.query(f"SELECT DISTINCT {column} FROM {table}")}


def test_each_rebuilt_view_equals_the_live_one(runtime, clock):
    load_demo(runtime)
    take_cases_through_their_lifecycle(runtime, clock)
    runtime.projector.catch_up_all()
    # the rows compared cover every lifecycle the views record, so a thinner demo cannot make this pass vacuously
    assert {"active", "suspended", "revoked", "expired", "consumed"} <= statuses(runtime, "grants")
    assert statuses(runtime, "violations") == {"candidate", "confirmed", "dismissed", "rectification_reported",
                                               "accepted", "escalated"}
    assert statuses(runtime, "batch_executions", "outcome") == {"executed", "refused"}
    assert statuses(runtime, "access_log", "outcome") == {"allowed", "denied"}

    assert {v.name for v in VIEWS} == set(runtime.projector.views), "every view the projector keeps is compared"
    differing = []
    for view in VIEWS:
        live = dump(runtime, view.tables)
        assert all(live[t] for t in view.tables), f"the demo left a table of {view.name} empty"
        runtime.projector.rebuild([view.name])
        assert runtime.projector.position(view.name) == runtime.ledger.max_position()
        rebuilt = dump(runtime, view.tables)
        differing += [t for t in view.tables if rebuilt[t] != live[t]]
    assert differing == []
