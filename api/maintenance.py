"""HTTP routes of maintenance: tickets (MNT-1), batch modifications (MNT-2) and objections (QLT-1)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from api import problems
from api.contract import Page
from api.deps import (
    POSITION_HEADER,
    Caller,
    EnvelopeDep,
    NowDep,
    ReadsDep,
    answer,
)
from api.params import (
    CommentBody,
    CursorQuery,
    Instant,
    Limit,
    ReasonBody,
    TextQuery,
    plain,
)
from api.routes import Decisions, Rows, fields_of, page
from application.common import NOBODY, Forbidden
from application.maintenance import (
    BatchAnswer,
    ExecutionAnswer,
    MaintenanceService,
    ObjectionAnswer,
    RecordedRefusal,
    TicketAnswer,
)
from domain.limits import MAX_BATCH, MAX_ITEMS, ItemCodeList, RecordCount, ShortText, Text
from domain.maintenance_values import (
    Attempt,
    BatchStatus,
    Change,
    Decision,
    Method,
    Recheck,
    TicketStatus,
)
from domain.objections import Answer, ObjectionStatus
from domain.organizations import Role
from projections.maintenance_queries import (
    ArchiveRow,
    BatchDetail,
    BatchRow,
    ExecutionRow,
    MaintenanceQueries,
    ObjectionRow,
    TicketDetail,
    TicketRow,
)
from projections.scope import Scope

VIEW = "maintenance"


class DeclareBody(msgspec.Struct, forbid_unknown_fields=True):
    """数据维护申报: the change as the source system describes it — references and digests, never the data."""

    entry_id: UUID
    fields: ItemCodeList
    record_count: RecordCount
    before_digest: ShortText
    description: Text
    method: Method
    reason: Text
    record_refs: Annotated[list[ShortText], msgspec.Meta(max_length=MAX_BATCH)] = []
    system: ShortText = ""
    responsible: ShortText = ""


class ApplyBody(msgspec.Struct, forbid_unknown_fields=True):
    applied_at: Instant
    after_digest: ShortText
    method: Method | None = None
    note: Text = ""


class RecheckBody(msgspec.Struct, forbid_unknown_fields=True):
    outcome: Recheck
    observed_digest: ShortText
    comment: Text = ""


class BatchBody(msgspec.Struct, forbid_unknown_fields=True):
    """批量修改申请: one system, entries of the division, an estimated (ceiling) record count and a window."""

    system: ShortText
    entries: Annotated[list[UUID], msgspec.Meta(max_length=MAX_ITEMS)]
    estimated_records: RecordCount
    window_from: Instant
    window_to: Instant
    reason: Text
    description: Text


class BatchReviewBody(msgspec.Struct, forbid_unknown_fields=True):
    decision: Decision
    operator: ShortText = ""
    operator_org: ShortText = ""
    reason: Text = ""


class ExecutionBody(msgspec.Struct, forbid_unknown_fields=True):
    system: ShortText
    entries: Annotated[list[UUID], msgspec.Meta(max_length=MAX_ITEMS)]
    record_count: RecordCount
    session: ShortText = ""
    note: Text = ""


class ObjectionBody(msgspec.Struct, forbid_unknown_fields=True):
    grant_id: UUID
    fields: ItemCodeList
    description: Text


class ObjectionAnswerBody(msgspec.Struct, forbid_unknown_fields=True):
    decision: Answer
    ticket_id: UUID | None = None
    reason: Text = ""


Service = NamedDependency[MaintenanceService]
Queries = NamedDependency[MaintenanceQueries]


tickets = Decisions("maintenance", MaintenanceService, TicketAnswer, ticket_id=FromPath[UUID])
batches = Decisions("maintenance", MaintenanceService, BatchAnswer, batch_id=FromPath[UUID])
objections = Decisions("maintenance", MaintenanceService, ObjectionAnswer, objection_id=FromPath[UUID])
ticket_rows = Rows("maintenance_queries", MaintenanceQueries, VIEW, key=str, ticket_id=FromPath[UUID])
batch_rows = Rows("maintenance_queries", MaintenanceQueries, VIEW, key=str, batch_id=FromPath[UUID])
objection_rows = Rows("maintenance_queries", MaintenanceQueries, VIEW, key=str, objection_id=FromPath[UUID])


class TicketController(Controller):
    path = "/maintenance/tickets"
    tags = ["maintenance"]

    declare = tickets("/", MaintenanceService.declare, "maintenance.declare", DeclareBody, status_code=201,
                      args=lambda b: {"entry_id": b.entry_id, "change": Change(
                          fields=tuple(b.fields), record_count=b.record_count, before_digest=b.before_digest,
                          description=b.description, record_refs=tuple(b.record_refs)), "method": b.method,
                          "reason": b.reason, "responsible": b.responsible, "system": b.system},
                      location="/maintenance/tickets/{aggregate_id}",
                      doc="申报 (maintainer of the entry's provider, MNT-1).")

    @get("/", sync_to_thread=True)
    def list_tickets(self, principal: Caller, maintenance_queries: Queries, reads: ReadsDep,
                     status: FromQuery[TicketStatus | None] = None, system: TextQuery = None,
                     entry_id: FromQuery[UUID | None] = None, limit: Limit = 50,
                     cursor: CursorQuery = None) -> Response[Page[TicketRow]]:
        position = reads.wait(VIEW)
        rows, nxt = maintenance_queries.tickets(
            scope=Scope.of(principal), status=plain(status), system=system,
            entry_id=str(entry_id) if entry_id else None, limit=limit, cursor=cursor)
        return page(rows, nxt, position)

    @get("/queue", sync_to_thread=True)
    def queue(self, principal: Caller, maintenance_queries: Queries, reads: ReadsDep,
              role: FromQuery[Literal["approver", "maintainer", "verifier"] | None] = None, limit: Limit = 50,
              cursor: CursorQuery = None) -> Response[Page[TicketRow]]:
        """What awaits the caller: `approver` — approval; `maintainer` — applying; `verifier` — a re-check it may do."""
        chosen = role or next((r for r in (Role.APPROVER, Role.VERIFIER, Role.MAINTAINER) if r in principal.roles), "")
        if chosen not in principal.roles:
            raise Forbidden(f"The caller does not hold the role {chosen or 'approver, verifier or maintainer'}.")
        position = reads.wait(VIEW)
        rows, nxt = maintenance_queries.ticket_queue(
            person=principal.person, org=principal.acting_for, role=chosen, limit=limit, cursor=cursor)
        return page(rows, nxt, position)

    get_ticket = ticket_rows("/{ticket_id:uuid}", MaintenanceQueries.ticket, TicketDetail,
                             "No maintenance ticket {ticket_id}.",
                             doc="The ticket with every step: who, when (recorded and effective), how, and the "
                                 "digests.")

    approve = tickets("/{ticket_id:uuid}/approve", MaintenanceService.approve, "maintenance.approve", CommentBody,
                      optional=True)
    reject = tickets("/{ticket_id:uuid}/reject", MaintenanceService.reject, "maintenance.reject", ReasonBody)
    apply = tickets("/{ticket_id:uuid}/apply", MaintenanceService.apply, "maintenance.apply", ApplyBody,
                    doc="修改: when (effective time) and how the approved change was made, with the source's "
                        "after-digest.")
    recheck = tickets("/{ticket_id:uuid}/recheck", MaintenanceService.recheck, "maintenance.recheck", RecheckBody,
                      doc="复核: `verify` (the observed digest equals the applied one) or `send_back` with the reason.")


class ArchiveController(Controller):
    path = "/maintenance/archive"
    tags = ["maintenance"]

    @get("/", sync_to_thread=True)
    def archive(self, principal: Caller, maintenance_queries: Queries, reads: ReadsDep,
                system: TextQuery = None, entry_id: FromQuery[UUID | None] = None, limit: Limit = 100,
                cursor: CursorQuery = None) -> Response[Page[ArchiveRow]]:
        """维护档案: every step of every change of a system or an entry, in ledger order (第三十一条)."""
        position = reads.wait(VIEW)
        rows, nxt = maintenance_queries.archive(
            scope=Scope.of(principal), system=system, entry_id=str(entry_id) if entry_id else None, limit=limit,
            cursor=cursor)
        return page(rows, nxt, position)


class BatchController(Controller):
    path = "/maintenance/batches"
    tags = ["maintenance"]

    request_batch = batches("/", MaintenanceService.request_batch, "batch.request", BatchBody, status_code=201,
                            args=lambda b: {"entry_ids" if k == "entries" else k: v for k, v in fields_of(b).items()},
                            location="/maintenance/batches/{aggregate_id}",
                            doc="A division's maintainer requests a batch modification (MNT-2).")

    @get("/", sync_to_thread=True)
    def list_batches(self, principal: Caller, maintenance_queries: Queries, reads: ReadsDep,
                     status: FromQuery[BatchStatus | None] = None, limit: Limit = 50,
                     cursor: CursorQuery = None) -> Response[Page[BatchRow]]:
        position = reads.wait(VIEW)
        rows, nxt = maintenance_queries.batches(scope=Scope.of(principal), status=plain(status), limit=limit,
                                                cursor=cursor)
        return page(rows, nxt, position)

    @get("/queue", sync_to_thread=True)
    def queue(self, principal: Caller, maintenance_queries: Queries, reads: ReadsDep, now: NowDep, limit: Limit = 50,
              cursor: CursorQuery = None) -> Response[Page[BatchRow]]:
        """The Office: requests to review. An operator: batches it was designated for whose window is not over."""
        position = reads.wait(VIEW)
        org = principal.organization if principal.roles else NOBODY  # a person without roles has no queue
        rows, nxt = maintenance_queries.batch_queue(person=principal.person, org=org, office=principal.is_office,
                                                    now=now, limit=limit, cursor=cursor)
        return page(rows, nxt, position)

    @get("/refused", sync_to_thread=True)
    def refused(self, principal: Caller, maintenance_queries: Queries, reads: ReadsDep, limit: Limit = 50,
                cursor: CursorQuery = None) -> Response[Page[ExecutionRow]]:
        """Executions refused under MNT-2, each recorded: the violation candidates of 第三十二条."""
        position = reads.wait(VIEW)
        rows, nxt = maintenance_queries.refused_executions(scope=Scope.of(principal), limit=limit, cursor=cursor)
        return page(rows, nxt, position)

    get_batch = batch_rows("/{batch_id:uuid}", MaintenanceQueries.batch, BatchDetail,
                           "No batch modification {batch_id}.",
                           doc="The batch with every execution attempt, executed or refused.")

    review = batches("/{batch_id:uuid}/review", MaintenanceService.review_batch, "batch.review", BatchReviewBody,
                     doc="The Office approves, designating the operator (person and organization), or rejects "
                         "with a reason.")

    @post("/{batch_id:uuid}/executions", sync_to_thread=True, status_code=201)
    def execute(self, request: Request[Any, Any, Any], principal: Caller, maintenance: Service,
                envelope: EnvelopeDep, batch_id: FromPath[UUID],
                data: JSONBody[ExecutionBody]) -> Response[ExecutionAnswer]:
        """The designated operator executes now; outside scope or window: 422 MNT-2, and the attempt is recorded."""
        attempt = Attempt(system=data.system, entry_ids=tuple(data.entries), record_count=data.record_count,
                          session=data.session, note=data.note)
        try:
            result = maintenance.execute_batch(principal, envelope.command("batch.execute", data), batch_id, attempt)
        except RecordedRefusal as refusal:
            refused = problems.on_rule(request, refusal)
            if refusal.position is not None:
                refused.headers[POSITION_HEADER] = str(refusal.position)
            return refused
        return answer(result, location=f"/maintenance/batches/{batch_id}")


class ObjectionController(Controller):
    path = "/objections"
    tags = ["maintenance"]

    raise_objection = objections("/", MaintenanceService.raise_objection, "objection.raise", ObjectionBody,
                                 status_code=201, args=lambda b: {**fields_of(b), "fields": tuple(b.fields)},
                                 location="/objections/{aggregate_id}",
                                 doc="异议: the holder of a grant reports fields it received as inconsistent or wrong "
                                     "(QLT-1).")

    @get("/", sync_to_thread=True)
    def list_objections(self, principal: Caller, maintenance_queries: Queries, reads: ReadsDep, now: NowDep,
                        status: FromQuery[ObjectionStatus | None] = None, overdue: FromQuery[bool | None] = None,
                        role: FromQuery[Literal["provider", "objector"] | None] = None, limit: Limit = 50,
                        cursor: CursorQuery = None) -> Response[Page[ObjectionRow]]:
        """By deadline; `role=provider&status=open` is the queue to answer, `overdue=true` the list feeding VIO-2."""
        position = reads.wait(VIEW)
        rows, nxt = maintenance_queries.objections(scope=Scope.of(principal), now=now, status=plain(status),
                                                   overdue=overdue, role=role, limit=limit, cursor=cursor)
        return page(rows, nxt, position)

    @get("/overdue", sync_to_thread=True)
    def overdue(self, principal: Caller, maintenance_queries: Queries, reads: ReadsDep, now: NowDep, limit: Limit = 50,
                cursor: CursorQuery = None) -> Response[Page[ObjectionRow]]:
        """Open objections past their deadline (第三十八条(二), VIO-2)."""
        position = reads.wait(VIEW)
        rows, nxt = maintenance_queries.objections(scope=Scope.of(principal), now=now, overdue=True, limit=limit,
                                                   cursor=cursor)
        return page(rows, nxt, position)

    get_objection = objection_rows("/{objection_id:uuid}", MaintenanceQueries.objection, ObjectionRow,
                                   "No objection {objection_id}.", now=True)

    answer_objection = objections(
        "/{objection_id:uuid}/answer", MaintenanceService.answer_objection, "objection.answer", ObjectionAnswerBody,
        doc="The provider confirms, naming the ticket that corrects the data, or rejects with a reason.")
