"""HTTP routes of maintenance: tickets (MNT-1), batch modifications (MNT-2) and objections (QLT-1)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from api import problems
from api.contract import Page, Row
from api.deps import (
    POSITION_HEADER,
    answer,
    command,
    runtime_of,
    wait_for_position,
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
from application.common import NOBODY, Forbidden, NotFound, Principal
from application.maintenance import (
    BatchAnswer,
    ExecutionAnswer,
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


def _org(p: Principal) -> str | None:
    return None if p.sees_everything else p.acting_for


def _page(request: Request[Any, Any, Any], rows: list[dict[str, Any]], nxt: str | None) -> Response[Page[Row]]:
    return Response({"items": rows, "next_cursor": nxt, "position": runtime_of(request).projector.position(VIEW)})


def _objections(request: Request[Any, Any, Any], principal: Principal, **filters: Any) -> Response[Page[Row]]:
    rt = runtime_of(request)
    wait_for_position(request, VIEW)
    rows, nxt = rt.maintenance_queries.objections(org=_org(principal), now=rt.now(), **filters)
    return _page(request, rows, nxt)




class TicketController(Controller):
    path = "/maintenance/tickets"
    tags = ["maintenance"]

    @post("/", sync_to_thread=True, status_code=201)
    def declare(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
                data: JSONBody[DeclareBody]) -> Response[TicketAnswer]:
        """申报 (maintainer of the entry's provider, MNT-1)."""
        change = Change(fields=tuple(data.fields), record_count=data.record_count, before_digest=data.before_digest,
                        description=data.description, record_refs=tuple(data.record_refs))
        result = runtime_of(request).maintenance.declare(
            principal, command(request, "maintenance.declare", data), entry_id=data.entry_id, change=change,
            method=data.method, reason=data.reason, responsible=data.responsible, system=data.system)
        return answer(result, location=f"/maintenance/tickets/{result.aggregate_id}")

    @get("/", sync_to_thread=True)
    def list_tickets(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
                     status: FromQuery[TicketStatus | None] = None, system: TextQuery = None,
                     entry_id: FromQuery[UUID | None] = None, limit: Limit = 50,
                     cursor: CursorQuery = None) -> Response[Page[Row]]:
        wait_for_position(request, VIEW)
        rows, nxt = runtime_of(request).maintenance_queries.tickets(
            org=_org(principal), status=plain(status), system=system, entry_id=str(entry_id) if entry_id else None,
            limit=limit, cursor=cursor)
        return _page(request, rows, nxt)

    @get("/queue", sync_to_thread=True)
    def queue(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
              role: FromQuery[Literal["approver", "maintainer", "verifier"] | None] = None, limit: Limit = 50,
              cursor: CursorQuery = None) -> Response[Page[Row]]:
        """What awaits the caller: `approver` — approval; `maintainer` — applying; `verifier` — a re-check it may do."""
        chosen = role or next((r for r in (Role.APPROVER, Role.VERIFIER, Role.MAINTAINER) if r in principal.roles), "")
        if chosen not in principal.roles:
            raise Forbidden(f"The caller does not hold the role {chosen or 'approver, verifier or maintainer'}.")
        wait_for_position(request, VIEW)
        rows, nxt = runtime_of(request).maintenance_queries.ticket_queue(
            person=principal.person, org=principal.acting_for, role=chosen, limit=limit, cursor=cursor)
        return _page(request, rows, nxt)

    @get("/{ticket_id:uuid}", sync_to_thread=True)
    def get_ticket(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
                   ticket_id: FromPath[UUID]) -> Response[Row]:
        """The ticket with every step: who, when (recorded and effective), how, and the digests."""
        wait_for_position(request, VIEW)
        row = runtime_of(request).maintenance_queries.ticket(str(ticket_id))
        if row is None or not (principal.sees_everything or row["organization"] == principal.acting_for):
            raise NotFound(f"No maintenance ticket {ticket_id}.")
        return Response(row, headers={"ETag": f'"{row["version"]}"'})

    @post("/{ticket_id:uuid}/approve", sync_to_thread=True, status_code=200)
    def approve(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
                ticket_id: FromPath[UUID], data: JSONBody[CommentBody | None] = None) -> Response[TicketAnswer]:
        body = data or CommentBody()
        return answer(runtime_of(request).maintenance.approve(
            principal, command(request, "maintenance.approve", body), ticket_id, comment=body.comment))

    @post("/{ticket_id:uuid}/reject", sync_to_thread=True, status_code=200)
    def reject(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
               ticket_id: FromPath[UUID], data: JSONBody[ReasonBody]) -> Response[TicketAnswer]:
        return answer(runtime_of(request).maintenance.reject(
            principal, command(request, "maintenance.reject", data), ticket_id, reason=data.reason))

    @post("/{ticket_id:uuid}/apply", sync_to_thread=True, status_code=200)
    def apply(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
              ticket_id: FromPath[UUID], data: JSONBody[ApplyBody]) -> Response[TicketAnswer]:
        """修改: when (effective time) and how the approved change was made, with the source's after-digest."""
        return answer(runtime_of(request).maintenance.apply(
            principal, command(request, "maintenance.apply", data), ticket_id, applied_at=data.applied_at,
            after_digest=data.after_digest, method=data.method, note=data.note))

    @post("/{ticket_id:uuid}/recheck", sync_to_thread=True, status_code=200)
    def recheck(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
                ticket_id: FromPath[UUID], data: JSONBody[RecheckBody]) -> Response[TicketAnswer]:
        """复核: `verify` (the observed digest equals the applied one) or `send_back` with the reason."""
        return answer(runtime_of(request).maintenance.recheck(
            principal, command(request, "maintenance.recheck", data), ticket_id, outcome=data.outcome,
            observed_digest=data.observed_digest, comment=data.comment))


class ArchiveController(Controller):
    path = "/maintenance/archive"
    tags = ["maintenance"]

    @get("/", sync_to_thread=True)
    def archive(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
                system: TextQuery = None, entry_id: FromQuery[UUID | None] = None, limit: Limit = 100,
                cursor: CursorQuery = None) -> Response[Page[Row]]:
        """维护档案: every step of every change of a system or an entry, in ledger order (第三十一条)."""
        wait_for_position(request, VIEW)
        rows, nxt = runtime_of(request).maintenance_queries.archive(
            org=_org(principal), system=system, entry_id=str(entry_id) if entry_id else None, limit=limit,
            cursor=cursor)
        return _page(request, rows, nxt)


class BatchController(Controller):
    path = "/maintenance/batches"
    tags = ["maintenance"]

    @post("/", sync_to_thread=True, status_code=201)
    def request_batch(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
                      data: JSONBody[BatchBody]) -> Response[BatchAnswer]:
        """A division's maintainer requests a batch modification (MNT-2)."""
        result = runtime_of(request).maintenance.request_batch(
            principal, command(request, "batch.request", data), system=data.system, entry_ids=data.entries,
            estimated_records=data.estimated_records, window_from=data.window_from, window_to=data.window_to,
            reason=data.reason, description=data.description)
        return answer(result, location=f"/maintenance/batches/{result.aggregate_id}")

    @get("/", sync_to_thread=True)
    def list_batches(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
                     status: FromQuery[BatchStatus | None] = None, limit: Limit = 50,
                     cursor: CursorQuery = None) -> Response[Page[Row]]:
        wait_for_position(request, VIEW)
        rows, nxt = runtime_of(request).maintenance_queries.batches(org=_org(principal), status=plain(status), limit=limit,
                                                                    cursor=cursor)
        return _page(request, rows, nxt)

    @get("/queue", sync_to_thread=True)
    def queue(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], limit: Limit = 50,
              cursor: CursorQuery = None) -> Response[Page[Row]]:
        """The Office: requests to review. An operator: batches it was designated for whose window is not over."""
        rt = runtime_of(request)
        wait_for_position(request, VIEW)
        org = principal.organization if principal.roles else NOBODY  # a person without roles has no queue
        rows, nxt = rt.maintenance_queries.batch_queue(person=principal.person, org=org,
                                                       office=principal.is_office, now=rt.now(), limit=limit,
                                                       cursor=cursor)
        return _page(request, rows, nxt)

    @get("/refused", sync_to_thread=True)
    def refused(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], limit: Limit = 50,
                cursor: CursorQuery = None) -> Response[Page[Row]]:
        """Executions refused under MNT-2, each recorded: the violation candidates of 第三十二条."""
        wait_for_position(request, VIEW)
        rows, nxt = runtime_of(request).maintenance_queries.refused_executions(org=_org(principal), limit=limit,
                                                                               cursor=cursor)
        return _page(request, rows, nxt)

    @get("/{batch_id:uuid}", sync_to_thread=True)
    def get_batch(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
                  batch_id: FromPath[UUID]) -> Response[Row]:
        """The batch with every execution attempt, executed or refused."""
        wait_for_position(request, VIEW)
        row = runtime_of(request).maintenance_queries.batch(str(batch_id))
        if row is None or not (principal.sees_everything or principal.acting_for in (row["division"],
                                                                                      row["operator_org"])):
            raise NotFound(f"No batch modification {batch_id}.")
        return Response(row, headers={"ETag": f'"{row["version"]}"'})

    @post("/{batch_id:uuid}/review", sync_to_thread=True, status_code=200)
    def review(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
               batch_id: FromPath[UUID], data: JSONBody[BatchReviewBody]) -> Response[BatchAnswer]:
        """The Office approves, designating the operator (person and organization), or rejects with a reason."""
        return answer(runtime_of(request).maintenance.review_batch(
            principal, command(request, "batch.review", data), batch_id, decision=data.decision,
            operator=data.operator, operator_org=data.operator_org, reason=data.reason))

    @post("/{batch_id:uuid}/executions", sync_to_thread=True, status_code=201)
    def execute(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
                batch_id: FromPath[UUID], data: JSONBody[ExecutionBody]) -> Response[ExecutionAnswer]:
        """The designated operator executes now; outside scope or window: 422 MNT-2, and the attempt is recorded."""
        attempt = Attempt(system=data.system, entry_ids=tuple(data.entries), record_count=data.record_count,
                          session=data.session, note=data.note)
        try:
            result = runtime_of(request).maintenance.execute_batch(
                principal, command(request, "batch.execute", data), batch_id, attempt)
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
    def raise_objection(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
                        data: JSONBody[ObjectionBody]) -> Response[ObjectionAnswer]:
        """异议: the holder of a grant reports fields it received as inconsistent or wrong (QLT-1)."""
        result = runtime_of(request).maintenance.raise_objection(
            principal, command(request, "objection.raise", data), grant_id=data.grant_id, fields=tuple(data.fields),
            description=data.description)
        return answer(result, location=f"/objections/{result.aggregate_id}")

    @get("/", sync_to_thread=True)
    def list_objections(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
                        status: FromQuery[ObjectionStatus | None] = None, overdue: FromQuery[bool | None] = None,
                        role: FromQuery[Literal["provider", "objector"] | None] = None, limit: Limit = 50,
                        cursor: CursorQuery = None) -> Response[Page[Row]]:
        """By deadline; `role=provider&status=open` is the queue to answer, `overdue=true` the list feeding VIO-2."""
        return _objections(request, principal, status=plain(status), overdue=overdue, role=role, limit=limit,
                           cursor=cursor)

    @get("/overdue", sync_to_thread=True)
    def overdue(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], limit: Limit = 50,
                cursor: CursorQuery = None) -> Response[Page[Row]]:
        """Open objections past their deadline (第三十八条(二), VIO-2)."""
        return _objections(request, principal, overdue=True, limit=limit, cursor=cursor)

    @get("/{objection_id:uuid}", sync_to_thread=True)
    def get_objection(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
                      objection_id: FromPath[UUID]) -> Response[Row]:
        rt = runtime_of(request)
        wait_for_position(request, VIEW)
        row = rt.maintenance_queries.objection(str(objection_id), rt.now())
        if row is None or not (principal.sees_everything or principal.acting_for in (row["objector"],
                                                                                      row["provider"])):
            raise NotFound(f"No objection {objection_id}.")
        return Response(row, headers={"ETag": f'"{row["version"]}"'})

    @post("/{objection_id:uuid}/answer", sync_to_thread=True, status_code=200)
    def answer_objection(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
                         objection_id: FromPath[UUID], data: JSONBody[ObjectionAnswerBody]) -> Response[ObjectionAnswer]:
        """The provider confirms, naming the ticket that corrects the data, or rejects with a reason."""
        return answer(runtime_of(request).maintenance.answer_objection(
            principal, command(request, "objection.answer", data), objection_id, decision=data.decision,
            ticket_id=data.ticket_id, reason=data.reason))
