"""Data maintenance (第三十条–第三十二条): maintenance tickets (MNT-1) and batch modifications (MNT-2)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from uuid import UUID

from domain.base import Actor, Context, LedgerAggregate
from domain.limits import RecordCount, check
from domain.maintenance_values import (
    Attempt,
    BatchScope,
    BatchStatus,
    Change,
    Decision,
    EntryFacts,
    Method,
    Recheck,
    ScopeEntry,
    TicketStatus,
    check_digest,
    check_instant,
    check_no_personal_data,
    missing,
    require,
)
from domain.organizations import OrgKind, Role, is_office
from domain.rules import InvalidTransition, RuleViolation


class MaintenanceTicket(LedgerAggregate):
    """数据维护单: one change to data a source system holds — 申报、审批、修改、复核 (第三十一条)."""

    TOPIC = "civic-ledger:MaintenanceTicket"
    KIND = "maintenance-ticket"

    class Created(LedgerAggregate.Created):
        TOPIC = "civic-ledger:MaintenanceTicket.Created"

    class Declared(Created):
        TOPIC = "civic-ledger:MaintenanceTicket.Declared"
        organization: str
        system: str
        entry_id: UUID
        resource_code: str
        change: Change
        method: Method
        reason: str
        responsible: str

    class Approved(LedgerAggregate.Event):
        TOPIC = "civic-ledger:MaintenanceTicket.Approved"
        comment: str

        def apply(self, t: MaintenanceTicket) -> None:
            t.status, t.approver, t.approved_at = TicketStatus.APPROVED, self.actor.person, self.timestamp

    class Rejected(LedgerAggregate.Event):
        TOPIC = "civic-ledger:MaintenanceTicket.Rejected"
        reason: str

        def apply(self, t: MaintenanceTicket) -> None:
            t.status, t.approver = TicketStatus.REJECTED, self.actor.person

    class Applied(LedgerAggregate.Event):
        TOPIC = "civic-ledger:MaintenanceTicket.Applied"
        applied_at: datetime
        method: Method
        after_digest: str
        attempt: int
        note: str

        def apply(self, t: MaintenanceTicket) -> None:
            t.status, t.after_digest, t.applied_at = TicketStatus.APPLIED, self.after_digest, self.applied_at
            t.appliers.add(self.actor.person)
            t.attempts = self.attempt

    class Verified(LedgerAggregate.Event):
        TOPIC = "civic-ledger:MaintenanceTicket.Verified"
        observed_digest: str
        comment: str

        def apply(self, t: MaintenanceTicket) -> None:
            t.status, t.verifier = TicketStatus.VERIFIED, self.actor.person

    class SentBack(LedgerAggregate.Event):
        TOPIC = "civic-ledger:MaintenanceTicket.SentBack"
        observed_digest: str
        reason: str

        def apply(self, t: MaintenanceTicket) -> None:
            t.status, t.sent_back_at = TicketStatus.SENT_BACK, self.timestamp
            t.checkers.add(self.actor.person)

    def __init__(self, organization: str, system: str, entry_id: UUID, resource_code: str, change: Change,
                 method: Method, reason: str, responsible: str, actor: Actor | None = None) -> None:
        self.organization = organization
        self.system = system
        self.entry_id = entry_id
        self.resource_code = resource_code
        self.change = change
        self.method = Method(method)
        self.reason = reason
        self.responsible = responsible
        self.declarer = actor.person if actor else ""
        self.status = TicketStatus.DECLARED
        self.approver: str | None = None
        self.approved_at: datetime | None = None
        self.appliers: set[str] = set()
        self.checkers: set[str] = set()
        self.applied_at: datetime | None = None
        self.after_digest: str | None = None
        self.sent_back_at: datetime | None = None
        self.attempts = 0
        self.verifier: str | None = None

    @classmethod
    def declare(
        cls, ctx: Context, *, entry: EntryFacts, change: Change, method: Method | str, reason: str,
        responsible: str = "", system: str = "", id: UUID,  # noqa: A002
    ) -> MaintenanceTicket:
        """申报: a maintainer of the entry's provider declares the change it means to make."""
        require(ctx, "MNT-1", entry.provider, Role.MAINTAINER, what="Declaring maintenance")
        system = (system or entry.source_system).strip()
        responsible = (responsible or ctx.actor.person).strip()
        lacking = missing(system=system, fields=change.fields, description=change.description, reason=reason)
        if lacking:
            raise RuleViolation("MNT-1", f"The declaration does not state its {', '.join(lacking)}.", missing=lacking)
        unknown = [f for f in change.fields if f not in entry.item_codes]
        if unknown:
            raise RuleViolation("MNT-1", f"Entry {entry.resource_code} has no data items {', '.join(unknown)}.",
                                fields=unknown)
        check(change.record_count, RecordCount, "record_count")
        if change.record_count < max(1, len(change.record_refs)):
            raise RuleViolation("MNT-1", "The record count covers at least one record and every reference named.")
        try:
            how = Method(method)
        except ValueError:
            raise InvalidTransition(f"Unknown method {method!r}; one of {', '.join(Method)}.") from None
        check_digest("before_digest", change.before_digest)
        check_no_personal_data(record_refs=change.record_refs, description=change.description, reason=reason)
        fields = tuple(dict.fromkeys(change.fields))
        return cls._start(
            cls.Declared, ctx, id=id, organization=entry.provider, system=system, entry_id=entry.entry_id,
            resource_code=entry.resource_code, change=Change(
                fields=fields, record_count=change.record_count, before_digest=change.before_digest,
                description=change.description, record_refs=tuple(dict.fromkeys(change.record_refs))),
            method=how, reason=reason, responsible=responsible,
        )

    def approve(self, ctx: Context, *, comment: str = "") -> None:
        """审批: an approver of the organization, never the declarer (MNT-1)."""
        self._review(ctx)
        self._record(self.Approved, ctx, comment=comment)

    def reject(self, ctx: Context, *, reason: str) -> None:
        self._review(ctx)
        if not reason.strip():
            raise InvalidTransition("A rejection states its reason.")
        self._record(self.Rejected, ctx, reason=reason)

    def _review(self, ctx: Context) -> None:
        require(ctx, "MNT-1", self.organization, Role.APPROVER, what="Approving maintenance")
        if ctx.actor.person == self.declarer:
            raise RuleViolation("MNT-1", f"{self.declarer} declared this change and may not also approve it.",
                                person=self.declarer)
        if self.status != TicketStatus.DECLARED:
            raise InvalidTransition(f"Only a declared ticket is approved or rejected; this one is {self.status}.")

    def apply_change(self, ctx: Context, *, applied_at: datetime, after_digest: str, method: Method | str | None = None,
                     note: str = "") -> None:
        """修改: a maintainer records when and how the approved change was made, with the after-digest."""
        require(ctx, "MNT-1", self.organization, Role.MAINTAINER, what="Applying maintenance")
        if self.status in (TicketStatus.DECLARED, TicketStatus.REJECTED):
            raise RuleViolation("MNT-1", f"A change is applied only after its approval; this ticket is {self.status}.")
        if self.status not in (TicketStatus.APPROVED, TicketStatus.SENT_BACK):
            raise InvalidTransition(f"This ticket is {self.status}; there is nothing to apply.")
        if ctx.actor.person in (self.approver, *self.checkers):
            raise RuleViolation("MNT-1", f"{ctx.actor.person} approved or re-checked this change and may not also "
                                "apply it.", person=ctx.actor.person)
        check_instant("applied_at", applied_at)
        since = self.sent_back_at or self.approved_at
        assert since is not None
        if applied_at < since:
            raise RuleViolation("MNT-1", f"The change is recorded as made at {applied_at.isoformat()}, before it was "
                                f"{'sent back' if self.sent_back_at else 'approved'} ({since.isoformat()}).")
        if applied_at > ctx.at:
            raise InvalidTransition(f"The change cannot be recorded as made in the future ({applied_at.isoformat()}).")
        how = Method(method) if method else self.method
        if how != self.method:
            raise RuleViolation("MNT-1", f"The change was approved to be made by {self.method}, not {how}.")
        check_digest("after_digest", after_digest)
        check_no_personal_data(note=note)
        self._record(self.Applied, ctx, applied_at=applied_at, method=how, after_digest=after_digest,
                     attempt=self.attempts + 1, note=note)

    def recheck(self, ctx: Context, *, outcome: Recheck | str, observed_digest: str, comment: str = "") -> None:
        """复核: a verifier who neither declared, approved nor applied it verifies the change or sends it back."""
        require(ctx, "MNT-1", self.organization, Role.VERIFIER, what="Re-checking maintenance")
        if ctx.actor.person in {self.declarer, self.approver, *self.appliers}:
            raise RuleViolation("MNT-1", f"{ctx.actor.person} declared, approved or applied this change and may not "
                                "re-check it: the three steps are done by different persons.", person=ctx.actor.person)
        if self.status in (TicketStatus.DECLARED, TicketStatus.APPROVED, TicketStatus.SENT_BACK):
            raise RuleViolation("MNT-1", f"A change is re-checked only after it was applied; this ticket is {self.status}.")
        if self.status != TicketStatus.APPLIED:
            raise InvalidTransition(f"This ticket is {self.status}; there is nothing to re-check.")
        check_digest("observed_digest", observed_digest)
        check_no_personal_data(comment=comment)
        if outcome == Recheck.VERIFY:
            if observed_digest != self.after_digest:
                raise RuleViolation("MNT-1", "The digest observed in the source system differs from the one recorded "
                                    "when the change was applied; send the ticket back instead.")
            self._record(self.Verified, ctx, observed_digest=observed_digest, comment=comment)
        elif outcome == Recheck.SEND_BACK:
            if not comment.strip():
                raise InvalidTransition("Sending a change back states why.")
            self._record(self.SentBack, ctx, observed_digest=observed_digest, reason=comment)
        else:
            raise InvalidTransition(f"A re-check verifies or sends back, not {outcome!r}.")


class BatchModification(LedgerAggregate):
    """批量修改: a division's batch change, approved by the Office, run by a designated operator via the bastion host."""

    TOPIC = "civic-ledger:BatchModification"
    KIND = "batch-modification"

    class Created(LedgerAggregate.Created):
        TOPIC = "civic-ledger:BatchModification.Created"

    class Requested(Created):
        TOPIC = "civic-ledger:BatchModification.Requested"
        division: str
        scope: BatchScope
        reason: str
        description: str

    class Approved(LedgerAggregate.Event):
        TOPIC = "civic-ledger:BatchModification.Approved"
        operator: str
        operator_org: str
        comment: str

        def apply(self, b: BatchModification) -> None:
            b.status, b.operator, b.operator_org = BatchStatus.APPROVED, self.operator, self.operator_org

    class Rejected(LedgerAggregate.Event):
        TOPIC = "civic-ledger:BatchModification.Rejected"
        reason: str

        def apply(self, b: BatchModification) -> None:
            b.status = BatchStatus.REJECTED

    class Executed(LedgerAggregate.Event):
        TOPIC = "civic-ledger:BatchModification.Executed"
        attempt: Attempt
        number: int

        def apply(self, b: BatchModification) -> None:
            b.executions, b.records_done = self.number, b.records_done + self.attempt.record_count

    class ExecutionRefused(LedgerAggregate.Event):
        """An execution refused under MNT-2, kept on the ledger as a violation candidate."""

        TOPIC = "civic-ledger:BatchModification.ExecutionRefused"
        attempt: Attempt
        rule: str
        reasons: tuple[str, ...]
        detail: str

        def apply(self, b: BatchModification) -> None:
            b.refusals += 1

    def __init__(self, division: str, scope: BatchScope, reason: str, description: str) -> None:
        self.division = division
        self.scope = scope
        self.reason = reason
        self.description = description
        self.status = BatchStatus.REQUESTED
        self.operator: str | None = None
        self.operator_org: str | None = None
        self.executions = 0
        self.records_done = 0
        self.refusals = 0

    @classmethod
    def request(
        cls, ctx: Context, *, division: str, division_kind: OrgKind, scope: BatchScope, reason: str,
        description: str, entries: Mapping[UUID, EntryFacts], id: UUID,  # noqa: A002
    ) -> BatchModification:
        """A division applies (第三十二条) for one system, some of its own entries, a record ceiling and a window."""
        require(ctx, "MNT-2", division, Role.MAINTAINER, what="Requesting a batch modification")
        if division_kind != OrgKind.DIVISION:
            raise RuleViolation("MNT-2", f"A batch modification is requested by a division, not a {division_kind}.")
        lacking = missing(system=scope.system, entries=scope.entries, reason=reason, description=description)
        if lacking:
            raise RuleViolation("MNT-2", f"The request does not state its {', '.join(lacking)}.", missing=lacking)
        check(scope.estimated_records, RecordCount, "estimated_records")
        if scope.estimated_records < 1:
            raise RuleViolation("MNT-2", "The scope states how many records the batch will change (at least one).")
        others = [str(e.entry_id) for e in scope.entries
                  if e.entry_id not in entries or entries[e.entry_id].provider != division]
        if others:
            raise RuleViolation("MNT-2", f"A division modifies only entries it provides: {', '.join(others)}.",
                                entries=others)
        check_instant("window_from", scope.window_from)
        check_instant("window_to", scope.window_to)
        if scope.window_to <= scope.window_from or scope.window_to <= ctx.at:
            raise InvalidTransition("The window ends after it starts, and after now.")
        check_no_personal_data(reason=reason, description=description)
        scoped = tuple(ScopeEntry(entry_id=e.entry_id, resource_code=entries[e.entry_id].resource_code)
                       for e in dict((e.entry_id, e) for e in scope.entries).values())
        return cls._start(cls.Requested, ctx, id=id, division=division,
                          scope=BatchScope(system=scope.system.strip(), entries=scoped,
                                           estimated_records=scope.estimated_records,
                                           window_from=scope.window_from, window_to=scope.window_to),
                          reason=reason, description=description)

    def review(self, ctx: Context, *, decision: Decision | str, operator: str = "", operator_org: str = "",
               reason: str = "") -> None:
        """The Office approves, designating the operator (指定人员), or rejects with a reason."""
        if not is_office(ctx):
            raise RuleViolation("MNT-2", "Only the Office (office_admin) approves batch modifications.")
        if self.status != BatchStatus.REQUESTED:
            raise InvalidTransition(f"Only a requested batch modification is reviewed; this one is {self.status}.")
        if decision == Decision.REJECT:
            if not reason.strip():
                raise InvalidTransition("A rejection states its reason.")
            self._record(self.Rejected, ctx, reason=reason)
        elif decision == Decision.APPROVE:
            if not operator.strip() or not operator_org.strip():
                raise RuleViolation("MNT-2", "The approval designates the operator who executes the batch.")
            if self.scope.window_to <= ctx.at:
                raise InvalidTransition("The requested window has ended; the division requests again.")
            self._record(self.Approved, ctx, operator=operator, operator_org=operator_org, comment=reason)
        else:
            raise InvalidTransition(f"A review approves or rejects, not {decision!r}.")

    def refusals_of(self, ctx: Context, attempt: Attempt) -> tuple[str, ...]:
        """Every MNT-2 reason this execution, now, by this actor, is outside what the Office approved."""
        out = []
        if self.status != BatchStatus.APPROVED:
            out.append("not_approved")
        elif (ctx.actor.person, ctx.actor.organization, ctx.actor.role) != (self.operator, self.operator_org,
                                                                            Role.OPERATOR):
            out.append("not_designated_operator")
        if ctx.at < self.scope.window_from:
            out.append("before_window")
        if ctx.at > self.scope.window_to:
            out.append("after_window")
        if attempt.system.strip() != self.scope.system:
            out.append("other_system")
        if not set(attempt.entry_ids) <= self.scope.entry_ids():
            out.append("entry_outside_scope")
        if self.records_done + attempt.record_count > self.scope.estimated_records:
            out.append("over_estimate")
        return tuple(out)

    def execute(self, ctx: Context, attempt: Attempt) -> None:
        """Records an execution within scope and window, or refuses it under MNT-2 (see `refuse`)."""
        check(attempt.record_count, RecordCount, "record_count")
        if attempt.record_count < 1 or not attempt.entry_ids:
            raise InvalidTransition("An execution names the entries it touches and changes at least one record.")
        check_no_personal_data(note=attempt.note, session=attempt.session)
        reasons = self.refusals_of(ctx, attempt)
        if reasons:
            raise RuleViolation("MNT-2", _refusal_text(self, ctx, reasons), reasons=list(reasons),
                                batch_id=str(self.id))
        self._record(self.Executed, ctx, attempt=attempt, number=self.executions + 1)

    def refuse(self, ctx: Context, attempt: Attempt, refusal: RuleViolation) -> None:
        """Keeps a refused execution on the ledger, as a violation candidate, before the refusal is answered."""
        raw = refusal.context.get("reasons", ())
        reasons = tuple(str(r) for r in raw) if isinstance(raw, list | tuple) else ()
        self._record(self.ExecutionRefused, ctx, attempt=attempt, rule=refusal.rule, reasons=reasons,
                     detail=refusal.detail)


def _refusal_text(b: BatchModification, ctx: Context, reasons: tuple[str, ...]) -> str:
    s = b.scope
    texts = {
        "not_approved": f"the batch is {b.status}, not approved by the Office",
        "not_designated_operator": f"the Office designated {b.operator} ({b.operator_org}) as its operator",
        "before_window": f"the approved window opens at {s.window_from.isoformat()}",
        "after_window": f"the approved window closed at {s.window_to.isoformat()}",
        "other_system": f"the approved system is {s.system}",
        "entry_outside_scope": "an entry is outside the approved scope",
        "over_estimate": f"the approved scope is {s.estimated_records} records, {b.records_done} already changed",
    }
    return "Execution refused and recorded: " + "; ".join(texts[r] for r in reasons) + "."

