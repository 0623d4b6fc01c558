"""Objections (第十六条, 第三十八条(二)): a data user reports data it received as wrong; the provider answers in time (QLT-1)."""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta
from uuid import UUID

from domain.base import Context, LedgerAggregate, day_end, ledger_date
from domain.grant_status import GrantState
from domain.maintenance import MaintenanceTicket
from domain.maintenance_values import TicketStatus, check_no_personal_data, missing, require
from domain.organizations import Role
from domain.rules import InvalidTransition, RuleViolation

RAISERS = (Role.REQUESTER, Role.MAINTAINER)
ANSWERERS = (Role.MAINTAINER, Role.APPROVER, Role.VERIFIER)


def answer_by(raised_at: datetime, days: int) -> datetime:
    """The end of the `days`-th calendar day (Beijing) after the day an objection was raised (QLT-1)."""
    return day_end(ledger_date(raised_at) + timedelta(days=days)).astimezone(UTC)


class ObjectionStatus(enum.StrEnum):
    OPEN = "open"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class Answer(enum.StrEnum):
    CONFIRM = "confirm"
    REJECT = "reject"


class Objection(LedgerAggregate):
    """异议: a holder's report that data received under a grant is inconsistent or wrong (数据校核)."""

    TOPIC = "civic-ledger:Objection"
    KIND = "objection"

    class Created(LedgerAggregate.Created):
        TOPIC = "civic-ledger:Objection.Created"

    class Raised(Created):
        TOPIC = "civic-ledger:Objection.Raised"
        objector: str
        provider: str
        grant_id: UUID
        entry_id: UUID
        resource_code: str
        fields: tuple[str, ...]
        description: str
        deadline: datetime

    class Confirmed(LedgerAggregate.Event):
        """The provider agrees and names the maintenance ticket that corrects the data."""

        TOPIC = "civic-ledger:Objection.Confirmed"
        ticket_id: UUID
        comment: str
        late: bool

        def apply(self, o: Objection) -> None:
            o.status, o.ticket_id, o.answered_at = ObjectionStatus.CONFIRMED, self.ticket_id, self.timestamp

    class Rejected(LedgerAggregate.Event):
        TOPIC = "civic-ledger:Objection.Rejected"
        reason: str
        late: bool

        def apply(self, o: Objection) -> None:
            o.status, o.answered_at = ObjectionStatus.REJECTED, self.timestamp

    def __init__(self, objector: str, provider: str, grant_id: UUID, entry_id: UUID, resource_code: str,
                 fields: tuple[str, ...], description: str, deadline: datetime) -> None:
        self.objector = objector
        self.provider = provider
        self.grant_id = grant_id
        self.entry_id = entry_id
        self.resource_code = resource_code
        self.fields = fields
        self.description = description
        self.deadline = deadline
        self.status = ObjectionStatus.OPEN
        self.ticket_id: UUID | None = None
        self.answered_at: datetime | None = None

    @classmethod
    def lodge(cls, ctx: Context, *, grant: GrantState, fields: tuple[str, ...], description: str,
              deadline_days: int, id: UUID) -> Objection:  # noqa: A002
        """The holder of the grant objects to fields it received; the provider has `deadline_days` to answer."""
        if ctx.actor.acting_for != grant.holder or ctx.actor.role not in RAISERS:
            raise RuleViolation(
                "QLT-1", f"An objection is raised by the holder of the grant ({grant.holder}) through its "
                f"{' or '.join(RAISERS)}; {ctx.actor.person} acts as {ctx.actor.role} for {ctx.actor.acting_for}.",
                grant_id=str(grant.grant_id),
            )
        lacking = missing(fields=fields, description=description)
        if lacking:
            raise RuleViolation("QLT-1", f"The objection does not state its {', '.join(lacking)}.", missing=lacking)
        foreign = [f for f in fields if f not in grant.fields]
        if foreign:
            raise RuleViolation("QLT-1", f"Grant {grant.grant_id} did not deliver {', '.join(foreign)}; an objection "
                                "concerns data received.", fields=foreign)
        if ctx.at < grant.valid_from:
            raise RuleViolation("QLT-1", f"Grant {grant.grant_id} delivers nothing before {grant.valid_from.isoformat()}.")
        if deadline_days < 1:
            raise InvalidTransition("The deadline to answer is at least one day.")
        check_no_personal_data(description=description)
        return cls._start(
            cls.Raised, ctx, id=id, objector=grant.holder, provider=grant.provider, grant_id=grant.grant_id,
            entry_id=grant.entry_id, resource_code=grant.resource_code, fields=tuple(dict.fromkeys(fields)),
            description=description, deadline=answer_by(ctx.at, deadline_days),
        )

    def confirm(self, ctx: Context, *, ticket: MaintenanceTicket, comment: str = "") -> None:
        """校核属实: the provider links the maintenance ticket (same entry, its own) that corrects the data."""
        self._answering(ctx)
        if ticket.organization != self.provider or ticket.entry_id != self.entry_id:
            raise RuleViolation("QLT-1", f"Ticket {ticket.id} maintains {ticket.resource_code} of "
                                f"{ticket.organization}; the correction is a ticket of {self.provider} on "
                                f"{self.resource_code}.", ticket_id=str(ticket.id))
        if ticket.status == TicketStatus.REJECTED:
            raise RuleViolation("QLT-1", f"Ticket {ticket.id} was rejected and corrects nothing.",
                                ticket_id=str(ticket.id))
        check_no_personal_data(comment=comment)
        self._record(self.Confirmed, ctx, ticket_id=ticket.id, comment=comment, late=ctx.at > self.deadline)

    def reject(self, ctx: Context, *, reason: str) -> None:
        """The provider finds the data consistent with what it holds, and says why."""
        self._answering(ctx)
        if not reason.strip():
            raise RuleViolation("QLT-1", "An objection is rejected only with a reason.")
        check_no_personal_data(reason=reason)
        self._record(self.Rejected, ctx, reason=reason, late=ctx.at > self.deadline)

    def _answering(self, ctx: Context) -> None:
        require(ctx, "QLT-1", self.provider, *ANSWERERS, what="Answering an objection")
        if self.status != ObjectionStatus.OPEN:
            raise InvalidTransition(f"The objection was already answered ({self.status}).")

    def overdue_at(self, at: datetime) -> bool:
        """Unanswered past its deadline: what VIO-2 (第三十八条(二)) is raised on."""
        return self.status == ObjectionStatus.OPEN and at > self.deadline
