"""HTTP routes of maintenance: tickets (MNT-1), batch modifications (MNT-2) and objections (QLT-1)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar
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
from application.common import NOBODY, Forbidden, NotFound
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


R = TypeVar("R", TicketDetail, BatchDetail, ObjectionRow)
T = TypeVar("T")


def _page(rows: list[T], nxt: str | None, position: int) -> Response[Page[T]]:
    return Response(Page(items=rows, next_cursor=nxt, position=position))


def _found(row: R | None, missing: str) -> Response[R]:
    """One row with its version as ETag, or 404 (the query answers None for a row out of the caller's scope)."""
    if row is None:
        raise NotFound(missing)
    return Response(row, headers={"ETag": f'"{row.version}"'})


class TicketController(Controller):
    path = "/maintenance/tickets"
    tags = ["maintenance"]

    @post("/", sync_to_thread=True, status_code=201)
    def declare(self, principal: Caller, maintenance: Service, envelope: EnvelopeDep,
                data: JSONBody[DeclareBody]) -> Response[TicketAnswer]:
        """申报 (maintainer of the entry's provider, MNT-1)."""
        change = Change(fields=tuple(data.fields), record_count=data.record_count, before_digest=data.before_digest,
                        description=data.description, record_refs=tuple(data.record_refs))
        result = maintenance.declare(
            principal, envelope.command("maintenance.declare", data), entry_id=data.entry_id, change=change,
            method=data.method, reason=data.reason, responsible=data.responsible, system=data.system)
        return answer(result, location=f"/maintenance/tickets/{result.aggregate_id}")

    @get("/", sync_to_thread=True)
    def list_tickets(self, principal: Caller, maintenance_queries: Queries, reads: ReadsDep,
                     status: FromQuery[TicketStatus | None] = None, system: TextQuery = None,
                     entry_id: FromQuery[UUID | None] = None, limit: Limit = 50,
                     cursor: CursorQuery = None) -> Response[Page[TicketRow]]:
        position = reads.wait(VIEW)
        rows, nxt = maintenance_queries.tickets(
            scope=Scope.of(principal), status=plain(status), system=system,
            entry_id=str(entry_id) if entry_id else None, limit=limit, cursor=cursor)
        return _page(rows, nxt, position)

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
        return _page(rows, nxt, position)

    @get("/{ticket_id:uuid}", sync_to_thread=True)
    def get_ticket(self, principal: Caller, maintenance_queries: Queries, reads: ReadsDep,
                   ticket_id: FromPath[UUID]) -> Response[TicketDetail]:
        """The ticket with every step: who, when (recorded and effective), how, and the digests."""
        reads.wait(VIEW)
        return _found(maintenance_queries.ticket(str(ticket_id), Scope.of(principal)),
                      f"No maintenance ticket {ticket_id}.")

    @post("/{ticket_id:uuid}/approve", sync_to_thread=True, status_code=200)
    def approve(self, principal: Caller, maintenance: Service, envelope: EnvelopeDep, ticket_id: FromPath[UUID],
                data: JSONBody[CommentBody | None] = None) -> Response[TicketAnswer]:
        body = data or CommentBody()
        return answer(maintenance.approve(principal, envelope.command("maintenance.approve", body), ticket_id,
                                          comment=body.comment))

    @post("/{ticket_id:uuid}/reject", sync_to_thread=True, status_code=200)
    def reject(self, principal: Caller, maintenance: Service, envelope: EnvelopeDep, ticket_id: FromPath[UUID],
               data: JSONBody[ReasonBody]) -> Response[TicketAnswer]:
        return answer(maintenance.reject(principal, envelope.command("maintenance.reject", data), ticket_id,
                                         reason=data.reason))

    @post("/{ticket_id:uuid}/apply", sync_to_thread=True, status_code=200)
    def apply(self, principal: Caller, maintenance: Service, envelope: EnvelopeDep, ticket_id: FromPath[UUID],
              data: JSONBody[ApplyBody]) -> Response[TicketAnswer]:
        """修改: when (effective time) and how the approved change was made, with the source's after-digest."""
        return answer(maintenance.apply(
            principal, envelope.command("maintenance.apply", data), ticket_id, applied_at=data.applied_at,
            after_digest=data.after_digest, method=data.method, note=data.note))

    @post("/{ticket_id:uuid}/recheck", sync_to_thread=True, status_code=200)
    def recheck(self, principal: Caller, maintenance: Service, envelope: EnvelopeDep, ticket_id: FromPath[UUID],
                data: JSONBody[RecheckBody]) -> Response[TicketAnswer]:
        """复核: `verify` (the observed digest equals the applied one) or `send_back` with the reason."""
        return answer(maintenance.recheck(
            principal, envelope.command("maintenance.recheck", data), ticket_id, outcome=data.outcome,
            observed_digest=data.observed_digest, comment=data.comment))


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
        return _page(rows, nxt, position)


class BatchController(Controller):
    path = "/maintenance/batches"
    tags = ["maintenance"]

    @post("/", sync_to_thread=True, status_code=201)
    def request_batch(self, principal: Caller, maintenance: Service, envelope: EnvelopeDep,
                      data: JSONBody[BatchBody]) -> Response[BatchAnswer]:
        """A division's maintainer requests a batch modification (MNT-2)."""
        result = maintenance.request_batch(
            principal, envelope.command("batch.request", data), system=data.system, entry_ids=data.entries,
            estimated_records=data.estimated_records, window_from=data.window_from, window_to=data.window_to,
            reason=data.reason, description=data.description)
        return answer(result, location=f"/maintenance/batches/{result.aggregate_id}")

    @get("/", sync_to_thread=True)
    def list_batches(self, principal: Caller, maintenance_queries: Queries, reads: ReadsDep,
                     status: FromQuery[BatchStatus | None] = None, limit: Limit = 50,
                     cursor: CursorQuery = None) -> Response[Page[BatchRow]]:
        position = reads.wait(VIEW)
        rows, nxt = maintenance_queries.batches(scope=Scope.of(principal), status=plain(status), limit=limit,
                                                cursor=cursor)
        return _page(rows, nxt, position)

    @get("/queue", sync_to_thread=True)
    def queue(self, principal: Caller, maintenance_queries: Queries, reads: ReadsDep, now: NowDep, limit: Limit = 50,
              cursor: CursorQuery = None) -> Response[Page[BatchRow]]:
        """The Office: requests to review. An operator: batches it was designated for whose window is not over."""
        position = reads.wait(VIEW)
        org = principal.organization if principal.roles else NOBODY  # a person without roles has no queue
        rows, nxt = maintenance_queries.batch_queue(person=principal.person, org=org, office=principal.is_office,
                                                    now=now, limit=limit, cursor=cursor)
        return _page(rows, nxt, position)

    @get("/refused", sync_to_thread=True)
    def refused(self, principal: Caller, maintenance_queries: Queries, reads: ReadsDep, limit: Limit = 50,
                cursor: CursorQuery = None) -> Response[Page[ExecutionRow]]:
        """Executions refused under MNT-2, each recorded: the violation candidates of 第三十二条."""
        position = reads.wait(VIEW)
        rows, nxt = maintenance_queries.refused_executions(scope=Scope.of(principal), limit=limit, cursor=cursor)
        return _page(rows, nxt, position)

    @get("/{batch_id:uuid}", sync_to_thread=True)
    def get_batch(self, principal: Caller, maintenance_queries: Queries, reads: ReadsDep,
                  batch_id: FromPath[UUID]) -> Response[BatchDetail]:
        """The batch with every execution attempt, executed or refused."""
        reads.wait(VIEW)
        return _found(maintenance_queries.batch(str(batch_id), Scope.of(principal)),
                      f"No batch modification {batch_id}.")

    @post("/{batch_id:uuid}/review", sync_to_thread=True, status_code=200)
    def review(self, principal: Caller, maintenance: Service, envelope: EnvelopeDep, batch_id: FromPath[UUID],
               data: JSONBody[BatchReviewBody]) -> Response[BatchAnswer]:
        """The Office approves, designating the operator (person and organization), or rejects with a reason."""
        return answer(maintenance.review_batch(
            principal, envelope.command("batch.review", data), batch_id, decision=data.decision,
            operator=data.operator, operator_org=data.operator_org, reason=data.reason))

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

    @post("/", sync_to_thread=True, status_code=201)
    def raise_objection(self, principal: Caller, maintenance: Service, envelope: EnvelopeDep,
                        data: JSONBody[ObjectionBody]) -> Response[ObjectionAnswer]:
        """异议: the holder of a grant reports fields it received as inconsistent or wrong (QLT-1)."""
        result = maintenance.raise_objection(
            principal, envelope.command("objection.raise", data), grant_id=data.grant_id, fields=tuple(data.fields),
            description=data.description)
        return answer(result, location=f"/objections/{result.aggregate_id}")

    @get("/", sync_to_thread=True)
    def list_objections(self, principal: Caller, maintenance_queries: Queries, reads: ReadsDep, now: NowDep,
                        status: FromQuery[ObjectionStatus | None] = None, overdue: FromQuery[bool | None] = None,
                        role: FromQuery[Literal["provider", "objector"] | None] = None, limit: Limit = 50,
                        cursor: CursorQuery = None) -> Response[Page[ObjectionRow]]:
        """By deadline; `role=provider&status=open` is the queue to answer, `overdue=true` the list feeding VIO-2."""
        position = reads.wait(VIEW)
        rows, nxt = maintenance_queries.objections(scope=Scope.of(principal), now=now, status=plain(status),
                                                   overdue=overdue, role=role, limit=limit, cursor=cursor)
        return _page(rows, nxt, position)

    @get("/overdue", sync_to_thread=True)
    def overdue(self, principal: Caller, maintenance_queries: Queries, reads: ReadsDep, now: NowDep, limit: Limit = 50,
                cursor: CursorQuery = None) -> Response[Page[ObjectionRow]]:
        """Open objections past their deadline (第三十八条(二), VIO-2)."""
        position = reads.wait(VIEW)
        rows, nxt = maintenance_queries.objections(scope=Scope.of(principal), now=now, overdue=True, limit=limit,
                                                   cursor=cursor)
        return _page(rows, nxt, position)

    @get("/{objection_id:uuid}", sync_to_thread=True)
    def get_objection(self, principal: Caller, maintenance_queries: Queries, reads: ReadsDep, now: NowDep,
                      objection_id: FromPath[UUID]) -> Response[ObjectionRow]:
        reads.wait(VIEW)
        return _found(maintenance_queries.objection(str(objection_id), now, Scope.of(principal)),
                      f"No objection {objection_id}.")

    @post("/{objection_id:uuid}/answer", sync_to_thread=True, status_code=200)
    def answer_objection(self, principal: Caller, maintenance: Service, envelope: EnvelopeDep,
                         objection_id: FromPath[UUID], data: JSONBody[ObjectionAnswerBody]) -> Response[ObjectionAnswer]:
        """The provider confirms, naming the ticket that corrects the data, or rejects with a reason."""
        return answer(maintenance.answer_objection(
            principal, envelope.command("objection.answer", data), objection_id, decision=data.decision,
            ticket_id=data.ticket_id, reason=data.reason))
