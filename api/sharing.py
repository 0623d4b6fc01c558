"""HTTP routes of sharing: share requests, implementation orders, grants and the grant-status query (USE-1)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, Parameter

from api.deps import (
    answer,
    command,
    honour_min_position,
    provide_principal,
    runtime_of,
    wait_for_position,
)
from api.params import AtQuery, Instant, OptionalPosition
from application.answer_proofs import grant_status_with_proof
from application.common import ApplicationError, NotFound, Principal
from domain.catalog_values import DeliveryMethod
from domain.organizations import Role
from domain.sharing_values import RequestDecision, RequestedEntry, UsePlan
from projections.sharing_queries import SharingQueries

Limit = Annotated[int, Parameter(ge=1, le=500, description="Page size")]


class AskedEntry(msgspec.Struct, forbid_unknown_fields=True):
    entry_id: UUID
    fields: list[str]


class RequestBody(msgspec.Struct, forbid_unknown_fields=True):
    """共享申请书 (附件1)."""

    scenario: str
    reason: str
    entries: list[AskedEntry]
    purpose: str
    valid_from: date
    valid_to: date
    delivery_method: DeliveryMethod


class ReviewBody(msgspec.Struct, forbid_unknown_fields=True):
    decision: RequestDecision
    fields: dict[UUID, list[str]] | None = None
    reason: str = ""


class OrderBody(msgspec.Struct, forbid_unknown_fields=True):
    """共享实施单 (附件2): per entry from another department, its import, storage and use plan (SHR-8)."""

    plans: dict[UUID, UsePlan] = {}


class ReasonBody(msgspec.Struct, forbid_unknown_fields=True):
    reason: str


class StatusBody(msgspec.Struct, forbid_unknown_fields=True):
    holder: str
    entry_id: UUID
    fields: list[str]
    purpose: str
    method: str
    at: Instant | None = None
    record_use: bool = False
    proof: bool = False
    since: Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)] | None = None


def _org(p: Principal) -> str | None:
    return None if p.sees_everything else p.acting_for


class ShareRequestController(Controller):
    path = "/share-requests"
    tags = ["sharing"]
    dependencies = {"principal": Provide(provide_principal, sync_to_thread=False)}

    @post("/", sync_to_thread=True, status_code=201)
    def submit(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
               data: JSONBody[RequestBody]) -> Response[bytes]:
        """Submits a share request (requester role of a division, unit, bureau or provincial department)."""
        rt = runtime_of(request)
        entries = tuple(RequestedEntry(entry_id=e.entry_id, resource_code="", fields=tuple(e.fields))
                        for e in data.entries)
        result = rt.sharing.submit(principal, command(request, "share_request.submit", data), scenario=data.scenario,
                                   reason=data.reason, entries=entries, purpose=data.purpose,
                                   valid_from=data.valid_from, valid_to=data.valid_to,
                                   delivery_method=data.delivery_method)
        return answer(result, location=f"/share-requests/{result.aggregate_id}")

    @get("/", sync_to_thread=True)
    def list_requests(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
                      status: FromQuery[str | None] = None, limit: Limit = 50,
                      cursor: FromQuery[str | None] = None) -> Response[Any]:
        """Requests with their status; the Office's review queue is `?status=submitted`."""
        rt = runtime_of(request)
        position = wait_for_position(request, "sharing")
        rows, nxt = rt.sharing_queries.requests(org=_org(principal), status=status, limit=limit, cursor=cursor)
        return Response({"items": rows, "next_cursor": nxt, "position": position})

    @get("/{request_id:uuid}", sync_to_thread=True)
    def get_request(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
                    request_id: FromPath[UUID]) -> Response[Any]:
        rt = runtime_of(request)
        wait_for_position(request, "sharing")
        row = rt.sharing_queries.request(request_id)
        if row is None or not (principal.sees_everything or row["requester"] == principal.acting_for):
            raise NotFound(f"No share request {request_id}.")
        return Response(row, headers={"ETag": f'"{row["version"]}"'})

    @post("/{request_id:uuid}/review", sync_to_thread=True, status_code=200)
    def review(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
               request_id: FromPath[UUID], data: JSONBody[ReviewBody]) -> Response[bytes]:
        """The Office approves (possibly narrowing fields) or rejects with a reason (SHR-5, SHR-6)."""
        rt = runtime_of(request)
        fields = {k: tuple(v) for k, v in data.fields.items()} if data.fields is not None else None
        return answer(rt.sharing.review(principal, command(request, "share_request.review", data), request_id,
                                        decision=data.decision, fields=fields, reason=data.reason))

    @post("/{request_id:uuid}/withdraw", sync_to_thread=True, status_code=200)
    def withdraw(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
                 request_id: FromPath[UUID]) -> Response[bytes]:
        rt = runtime_of(request)
        return answer(rt.sharing.withdraw(principal, command(request, "share_request.withdraw"), request_id))

    @post("/{request_id:uuid}/orders", sync_to_thread=True, status_code=201)
    def issue_order(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
                    request_id: FromPath[UUID], data: JSONBody[OrderBody | None] = None) -> Response[bytes]:
        """Issues the implementation order (附件2) and the grants it decides (SHR-6, SHR-7, SHR-8)."""
        rt = runtime_of(request)
        body = data or OrderBody()
        result = rt.sharing.issue_order(principal, command(request, "share_request.issue_order", body), request_id,
                                        plans=body.plans)
        return answer(result, location=f"/share-requests/{request_id}")


class GrantController(Controller):
    path = "/grants"
    tags = ["sharing"]
    dependencies = {"principal": Provide(provide_principal, sync_to_thread=False)}

    @get("/", sync_to_thread=True)
    def list_grants(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
                    holder: FromQuery[str | None] = None, provider: FromQuery[str | None] = None,
                    entry_id: FromQuery[UUID | None] = None, status: FromQuery[str | None] = None,
                    limit: Limit = 50, cursor: FromQuery[str | None] = None,
                    at: AtQuery = None) -> Response[Any]:
        """Grants by holder, provider, entry and status; others than the Office see grants they hold or provide.
        With `at`, the grants as they stood then (recorded time)."""
        rt = runtime_of(request)
        queries = rt.sharing_queries
        if at is not None:
            position, replica = rt.state_at(at)
            queries = SharingQueries(replica)
        else:
            position = wait_for_position(request, "sharing")
        rows, nxt = queries.grants(org=_org(principal), holder=holder, provider=provider,
                                              entry_id=entry_id, status=status, limit=limit, cursor=cursor)
        return Response({"items": rows, "next_cursor": nxt, "position": position})

    @get("/{grant_id:uuid}", sync_to_thread=True)
    def get_grant(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
                  grant_id: FromPath[UUID]) -> Response[Any]:
        rt = runtime_of(request)
        wait_for_position(request, "sharing")
        row = rt.sharing_queries.grant(grant_id)
        if row is None or not (principal.sees_everything or principal.acting_for in (row["holder"], row["provider"])):
            raise NotFound(f"No grant {grant_id}.")
        return Response(row, headers={"ETag": f'"{row["version"]}"'})

    @post("/{grant_id:uuid}/suspend", sync_to_thread=True, status_code=200)
    def suspend(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
                grant_id: FromPath[UUID], data: JSONBody[ReasonBody]) -> Response[bytes]:
        rt = runtime_of(request)
        return answer(rt.sharing.suspend(principal, command(request, "grant.suspend", data), grant_id,
                                         reason=data.reason))

    @post("/{grant_id:uuid}/resume", sync_to_thread=True, status_code=200)
    def resume(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
               grant_id: FromPath[UUID]) -> Response[bytes]:
        rt = runtime_of(request)
        return answer(rt.sharing.resume(principal, command(request, "grant.resume"), grant_id))

    @post("/{grant_id:uuid}/revoke", sync_to_thread=True, status_code=200)
    def revoke(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
               grant_id: FromPath[UUID], data: JSONBody[ReasonBody]) -> Response[bytes]:
        rt = runtime_of(request)
        return answer(rt.sharing.revoke(principal, command(request, "grant.revoke", data), grant_id,
                                        reason=data.reason))


class GrantStatusController(Controller):
    path = "/grant-status"
    tags = ["sharing"]
    dependencies = {"principal": Provide(provide_principal, sync_to_thread=False)}

    @get("/", sync_to_thread=True)
    def ask(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
            holder: FromQuery[str], entry_id: FromQuery[UUID], fields: FromQuery[list[str]], purpose: FromQuery[str],
            method: FromQuery[str], at: AtQuery = None, proof: FromQuery[bool] = False,
            since: OptionalPosition = None) -> Response[Any]:
        """May `holder` receive `fields` of `entry_id` for `purpose` by `method` (now, or at a past instant)?
        With `proof=true` the answer carries its proof: the events it rests on, each with its inclusion proof in
        a signed checkpoint (signed now if the latest does not cover them), for the offline verifier to
        re-derive the decision; `since=<tree size>` adds the consistency proof from a checkpoint the asker holds."""
        wanted = tuple(f for part in fields for f in part.split(",") if f)
        return self._answer(request, principal, StatusBody(holder=holder, entry_id=entry_id, fields=list(wanted),
                                                           purpose=purpose, method=method, at=at, proof=proof,
                                                           since=since))

    @post("/", sync_to_thread=True, status_code=200)
    def ask_many(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
                 data: JSONBody[StatusBody]) -> Response[Any]:
        """The same question with a body (many fields); `record_use: true` records the access, consuming a
        single-use grant (按次单独实施)."""
        return self._answer(request, principal, data)

    @staticmethod
    def _answer(request: Request[Any, Any, Any], principal: Principal, q: StatusBody) -> Response[Any]:
        rt = runtime_of(request)
        if not q.fields:
            raise ApplicationError("Name at least one field.")
        if not (principal.sees_everything or Role.PLATFORM in principal.roles):
            rt.sharing.may_ask(principal, q.holder, rt.sharing_queries.provider_of(q.entry_id))
        if q.proof:
            if q.record_use:
                raise ApplicationError("A proof goes with a question; a recorded use is proved by "
                                       "/ledger/proofs/{position} of its event.")
            answer, bundle = grant_status_with_proof(rt.sharing, rt.integrity, rt.ledger, holder=q.holder,
                                                     entry_id=q.entry_id, fields=tuple(q.fields), purpose=q.purpose,
                                                     method=q.method, at=q.at, since=q.since)
            return Response({**msgspec.to_builtins(answer), "proof": bundle})
        if q.record_use:
            if q.at is not None:
                raise ApplicationError("A use is recorded now; `at` goes with questions about the past only.")
            result, position = rt.sharing.use(principal, command(request, "grant.use", q), holder=q.holder,
                                               entry_id=q.entry_id, fields=tuple(q.fields), purpose=q.purpose,
                                               method=q.method)
            headers = {"X-Ledger-Position": str(position)} if position else {}
            return Response(result, headers=headers)
        honour_min_position(request, "sharing")
        return Response(rt.sharing.status(holder=q.holder, entry_id=q.entry_id, fields=tuple(q.fields),
                                          purpose=q.purpose, method=q.method, at=q.at))
