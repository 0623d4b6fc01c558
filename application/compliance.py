"""Use cases of the compliance board (第三十八条): the Office raises, confirms, notifies, accepts or escalates;
the subject organization reports its rectification."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import msgspec

from application.common import Command, CommandResult, ContextMaker, Principal, Service
from domain.compliance import REPORTERS, Evidence, Violation, ViolationKind
from domain.organizations import Role


class ViolationAnswer(msgspec.Struct, frozen=True):
    id: str
    kind: str
    subject: str
    status: str
    summary: str
    key: str
    evidence: tuple[Evidence, ...]
    monitor: str | None
    deadline: datetime | None
    requirements: str
    report: str
    version: int


def violation_answer(v: Violation) -> ViolationAnswer:
    return ViolationAnswer(
        id=str(v.id), kind=str(v.kind), subject=v.subject, status=str(v.status), summary=v.summary, key=v.key,
        evidence=v.evidence, monitor=v.monitor, deadline=v.deadline, requirements=v.requirements, report=v.report,
        version=v.version,
    )


OFFICE = (Role.OFFICE_ADMIN,)


class ComplianceService(Service):
    """One method per command on a `Violation`; the domain checks who may do it and in which state."""

    def raise_violation(self, p: Principal, cmd: Command, *, kind: ViolationKind | str, subject: str,
                        evidence: tuple[Evidence, ...], summary: str, key: str = "") -> CommandResult:
        """An Office person records a case directly (confirmed at once); without a key each call is a new case."""
        def decide(context: ContextMaker) -> tuple[list[Violation], ViolationAnswer]:
            ctx = context(self.actor(p, OFFICE))
            v = Violation.record(ctx, kind=kind, subject=subject, evidence=evidence, summary=summary,
                                 key=key or f"office:{uuid4()}")
            return [v], violation_answer(v)

        return self.execute(p, cmd, decide, status=201)

    def confirm(self, p: Principal, cmd: Command, violation_id: UUID, *, comment: str = "") -> CommandResult:
        return self._on(p, cmd, violation_id, OFFICE, lambda v, ctx: v.confirm(ctx, comment=comment))

    def dismiss(self, p: Principal, cmd: Command, violation_id: UUID, *, reason: str) -> CommandResult:
        return self._on(p, cmd, violation_id, OFFICE, lambda v, ctx: v.dismiss(ctx, reason=reason))

    def issue_notice(self, p: Principal, cmd: Command, violation_id: UUID, *, deadline: datetime,
                     requirements: str) -> CommandResult:
        return self._on(p, cmd, violation_id, OFFICE, lambda v, ctx: v.issue_notice(
            ctx, deadline=deadline, requirements=requirements))

    def report(self, p: Principal, cmd: Command, violation_id: UUID, *, report: str) -> CommandResult:
        return self._on(p, cmd, violation_id, REPORTERS, lambda v, ctx: v.report_rectification(ctx, report=report))

    def accept(self, p: Principal, cmd: Command, violation_id: UUID, *, comment: str = "") -> CommandResult:
        return self._on(p, cmd, violation_id, OFFICE, lambda v, ctx: v.accept(ctx, comment=comment))

    def escalate(self, p: Principal, cmd: Command, violation_id: UUID, *, reason: str) -> CommandResult:
        return self._on(p, cmd, violation_id, OFFICE, lambda v, ctx: v.escalate(ctx, reason=reason))

    def _on(self, p: Principal, cmd: Command, violation_id: UUID, roles: tuple[Role, ...],
            act: Callable[[Violation, Any], None]) -> CommandResult:
        def decide(context: ContextMaker) -> tuple[list[Violation], ViolationAnswer]:
            ctx = context(self.actor(p, roles))
            v = self.get(Violation, violation_id, expected_version=cmd.expected_version)
            act(v, ctx)
            return [v], violation_answer(v)

        return self.execute(p, cmd, decide)

    def load(self, violation_id: UUID) -> Violation:
        return self.get(Violation, violation_id)
