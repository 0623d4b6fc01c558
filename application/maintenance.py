"""Use cases of maintenance (第三十条–第三十二条, 第三十八条(二)): tickets, batch modifications, objections."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import msgspec

from application.common import Command, CommandResult, ContextMaker, NotFound, Principal, Service
from domain.catalog import CatalogEntry
from domain.grant_status import GrantState
from domain.grants import Grant
from domain.maintenance import BatchModification, MaintenanceTicket
from domain.maintenance_values import (
    Attempt,
    BatchScope,
    Change,
    Decision,
    EntryFacts,
    Method,
    Recheck,
    ScopeEntry,
)
from domain.objections import ANSWERERS, RAISERS, Answer, Objection
from domain.organizations import Organization, Role, organization_id
from domain.rules import InvalidTransition, RuleViolation


class TicketAnswer(msgspec.Struct, frozen=True):
    id: str
    organization: str
    system: str
    entry_id: str
    resource_code: str
    status: str
    change: Change
    method: str
    reason: str
    responsible: str
    declarer: str
    approver: str | None
    applied_at: datetime | None
    after_digest: str | None
    attempts: int
    verifier: str | None
    version: int


class BatchAnswer(msgspec.Struct, frozen=True):
    id: str
    division: str
    status: str
    scope: BatchScope
    reason: str
    description: str
    operator: str | None
    operator_org: str | None
    executions: int
    records_done: int
    refused_attempts: int
    version: int


class ExecutionAnswer(msgspec.Struct, frozen=True):
    """One execution attempt: `refused` with the rule and reasons when MNT-2 turned it down (and recorded it)."""

    id: str
    attempt_version: int
    refused: bool
    record_count: int
    records_done: int
    number: int | None = None
    rule: str | None = None
    reasons: tuple[str, ...] = ()
    detail: str = ""
    version: int = 0


class ObjectionAnswer(msgspec.Struct, frozen=True):
    id: str
    objector: str
    provider: str
    grant_id: str
    entry_id: str
    resource_code: str
    fields: tuple[str, ...]
    description: str
    deadline: datetime
    status: str
    ticket_id: str | None
    answered_at: datetime | None
    version: int


class RecordedRefusal(RuleViolation):
    """An MNT-2 refusal whose attempt is already on the ledger at `position` (a violation candidate)."""

    def __init__(self, answer: ExecutionAnswer, position: int | None) -> None:
        super().__init__(answer.rule or "MNT-2", answer.detail, reasons=list(answer.reasons), batch_id=answer.id,
                         recorded_version=answer.attempt_version, position=position)
        self.position = position


def ticket_answer(t: MaintenanceTicket) -> TicketAnswer:
    return TicketAnswer(
        id=str(t.id), organization=t.organization, system=t.system, entry_id=str(t.entry_id),
        resource_code=t.resource_code, status=str(t.status), change=t.change, method=str(t.method), reason=t.reason,
        responsible=t.responsible, declarer=t.declarer, approver=t.approver, applied_at=t.applied_at,
        after_digest=t.after_digest, attempts=t.attempts, verifier=t.verifier, version=t.version,
    )


def batch_answer(b: BatchModification) -> BatchAnswer:
    return BatchAnswer(
        id=str(b.id), division=b.division, status=str(b.status), scope=b.scope, reason=b.reason,
        description=b.description, operator=b.operator, operator_org=b.operator_org, executions=b.executions,
        records_done=b.records_done, refused_attempts=b.refusals, version=b.version,
    )


def objection_answer(o: Objection) -> ObjectionAnswer:
    return ObjectionAnswer(
        id=str(o.id), objector=o.objector, provider=o.provider, grant_id=str(o.grant_id), entry_id=str(o.entry_id),
        resource_code=o.resource_code, fields=o.fields, description=o.description, deadline=o.deadline,
        status=str(o.status), ticket_id=str(o.ticket_id) if o.ticket_id else None, answered_at=o.answered_at,
        version=o.version,
    )


class MaintenanceService(Service):
    def __init__(self, *args: Any, load_grant: Callable[[UUID], Grant], deadline_days: int = 15,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.load_grant = load_grant
        self.deadline_days = deadline_days

    def entry_facts(self, entry_id: UUID) -> EntryFacts:
        """The entry as the maintenance rules need it: provider, every item code of any version, source system."""
        e = self.get(CatalogEntry, entry_id)
        versions = [v for v in (e.current, e.pending) if v is not None]
        codes = tuple(dict.fromkeys(c for v in versions for c in v.content.item_codes()))
        return EntryFacts(entry_id=entry_id, resource_code=e.resource_code, provider=e.provider, item_codes=codes,
                          source_system=versions[0].content.source_system if versions else "")

    # -- tickets (MNT-1) ---------------------------------------------------------------------

    def declare(self, p: Principal, cmd: Command, *, entry_id: UUID, change: Change, method: Method | str,
                reason: str, responsible: str = "", system: str = "") -> CommandResult:
        def decide(context: ContextMaker) -> tuple[list[MaintenanceTicket], TicketAnswer]:
            ctx = context(self.actor(p, (Role.MAINTAINER,)))
            t = MaintenanceTicket.declare(ctx, entry=self.entry_facts(entry_id), change=change, method=method,
                                          reason=reason, responsible=responsible, system=system, id=uuid4())
            return [t], ticket_answer(t)

        return self.execute(p, cmd, decide, status=201)

    def approve(self, p: Principal, cmd: Command, ticket_id: UUID, *, comment: str = "") -> CommandResult:
        return self._on_ticket(p, cmd, ticket_id, (Role.APPROVER,), lambda t, ctx: t.approve(ctx, comment=comment))

    def reject(self, p: Principal, cmd: Command, ticket_id: UUID, *, reason: str) -> CommandResult:
        return self._on_ticket(p, cmd, ticket_id, (Role.APPROVER,), lambda t, ctx: t.reject(ctx, reason=reason))

    def apply(self, p: Principal, cmd: Command, ticket_id: UUID, *, applied_at: datetime, after_digest: str,
              method: Method | str | None = None, note: str = "") -> CommandResult:
        return self._on_ticket(p, cmd, ticket_id, (Role.MAINTAINER,), lambda t, ctx: t.apply_change(
            ctx, applied_at=applied_at, after_digest=after_digest, method=method, note=note))

    def recheck(self, p: Principal, cmd: Command, ticket_id: UUID, *, outcome: Recheck | str, observed_digest: str,
                comment: str = "") -> CommandResult:
        return self._on_ticket(p, cmd, ticket_id, (Role.VERIFIER,), lambda t, ctx: t.recheck(
            ctx, outcome=outcome, observed_digest=observed_digest, comment=comment))

    def _on_ticket(self, p: Principal, cmd: Command, ticket_id: UUID, roles: tuple[Role, ...],
                   act: Callable[[MaintenanceTicket, Any], None]) -> CommandResult:
        def decide(context: ContextMaker) -> tuple[list[MaintenanceTicket], TicketAnswer]:
            ctx = context(self.actor(p, roles))
            t = self.get(MaintenanceTicket, ticket_id, expected_version=cmd.expected_version)
            act(t, ctx)
            return [t], ticket_answer(t)

        return self.execute(p, cmd, decide)

    def load_ticket(self, ticket_id: UUID) -> MaintenanceTicket:
        return self.get(MaintenanceTicket, ticket_id)

    # -- batch modifications (MNT-2) ------------------------------------------------------------

    def request_batch(self, p: Principal, cmd: Command, *, system: str, entry_ids: Iterable[UUID],
                      estimated_records: int, window_from: datetime, window_to: datetime, reason: str,
                      description: str) -> CommandResult:
        def decide(context: ContextMaker) -> tuple[list[BatchModification], BatchAnswer]:
            ctx = context(self.actor(p, (Role.MAINTAINER,)))
            division = self.get(Organization, organization_id(p.acting_for))
            ids = tuple(dict.fromkeys(entry_ids))
            facts = {}
            for eid in ids:
                try:
                    facts[eid] = self.entry_facts(eid)
                except NotFound:
                    continue
            scope = BatchScope(system=system, entries=tuple(ScopeEntry(entry_id=e, resource_code="") for e in ids),
                               estimated_records=estimated_records, window_from=window_from, window_to=window_to)
            b = BatchModification.request(ctx, division=division.code, division_kind=division.kind, scope=scope,
                                          reason=reason, description=description, entries=facts, id=uuid4())
            return [b], batch_answer(b)

        return self.execute(p, cmd, decide, status=201)

    def review_batch(self, p: Principal, cmd: Command, batch_id: UUID, *, decision: Decision | str,
                     operator: str = "", operator_org: str = "", reason: str = "") -> CommandResult:
        def decide(context: ContextMaker) -> tuple[list[BatchModification], BatchAnswer]:
            ctx = context(self.actor(p, (Role.OFFICE_ADMIN,)))
            b = self.get(BatchModification, batch_id, expected_version=cmd.expected_version)
            if decision == Decision.APPROVE and operator and operator_org:
                self._check_operator(operator, operator_org)
            b.review(ctx, decision=decision, operator=operator, operator_org=operator_org, reason=reason)
            return [b], batch_answer(b)

        return self.execute(p, cmd, decide)

    def _check_operator(self, person: str, org_code: str) -> None:
        try:
            org = self.get(Organization, organization_id(org_code))
        except NotFound:
            raise RuleViolation("MNT-2", f"No organization {org_code} is registered.") from None
        if not org.holds(person, Role.OPERATOR):
            raise RuleViolation("MNT-2", f"{person} is not a designated operator (bastion-host role) of {org_code}.",
                                operator=person, organization=org_code)

    def execute_batch(self, p: Principal, cmd: Command, batch_id: UUID, attempt: Attempt) -> CommandResult:
        """Records an execution; one outside scope or window is recorded as refused, then raised as MNT-2."""
        def decide(context: ContextMaker) -> tuple[list[BatchModification], ExecutionAnswer]:
            ctx = context(self.actor(p, (Role.OPERATOR,)))
            b = self.get(BatchModification, batch_id, expected_version=cmd.expected_version)
            try:
                b.execute(ctx, attempt)
            except RuleViolation as refusal:
                if refusal.rule != "MNT-2":
                    raise
                b.refuse(ctx, attempt, refusal)
                last = b.pending_events[-1]
                return [b], ExecutionAnswer(
                    id=str(b.id), attempt_version=b.version, refused=True, record_count=attempt.record_count,
                    records_done=b.records_done, rule=refusal.rule, reasons=last.reasons,  # type: ignore[attr-defined]
                    detail=refusal.detail, version=b.version)
            return [b], ExecutionAnswer(id=str(b.id), attempt_version=b.version, refused=False,
                                        record_count=attempt.record_count, records_done=b.records_done,
                                        number=b.executions, version=b.version)

        result = self.execute(p, cmd, decide, status=201)
        answered = msgspec.json.decode(result.body, type=ExecutionAnswer)
        if answered.refused:
            raise RecordedRefusal(answered, result.position)
        return result

    def load_batch(self, batch_id: UUID) -> BatchModification:
        return self.get(BatchModification, batch_id)

    # -- objections (QLT-1) ---------------------------------------------------------------------

    def raise_objection(self, p: Principal, cmd: Command, *, grant_id: UUID, fields: tuple[str, ...],
                        description: str) -> CommandResult:
        def decide(context: ContextMaker) -> tuple[list[Objection], ObjectionAnswer]:
            ctx = context(self.actor(p, RAISERS))
            grant = self.load_grant(grant_id)
            o = Objection.lodge(ctx, grant=GrantState.from_grant(grant), fields=fields, description=description,
                                deadline_days=self.deadline_days, id=uuid4())
            return [o], objection_answer(o)

        return self.execute(p, cmd, decide, status=201)

    def answer_objection(self, p: Principal, cmd: Command, objection_id: UUID, *, decision: Answer | str,
                         ticket_id: UUID | None = None, reason: str = "") -> CommandResult:
        """The provider confirms (linking the correcting ticket) or rejects with a reason."""
        def decide(context: ContextMaker) -> tuple[list[Objection], ObjectionAnswer]:
            ctx = context(self.actor(p, ANSWERERS))
            o = self.get(Objection, objection_id, expected_version=cmd.expected_version)
            if decision == Answer.CONFIRM:
                if ticket_id is None:
                    raise RuleViolation("QLT-1", "A confirmed objection names the maintenance ticket that corrects it.")
                o.confirm(ctx, ticket=self.get(MaintenanceTicket, ticket_id), comment=reason)
            elif decision == Answer.REJECT:
                o.reject(ctx, reason=reason)
            else:
                raise InvalidTransition(f"An answer confirms or rejects, not {decision!r}.")
            return [o], objection_answer(o)

        return self.execute(p, cmd, decide)

    def load_objection(self, objection_id: UUID) -> Objection:
        return self.get(Objection, objection_id)
