"""HTTP routes of the access log (应用日志): the platform posts batches; the organizations concerned read them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, Parameter

from api.deps import POSITION_HEADER, command, provide_principal, runtime_of, wait_for_position
from api.params import Instant, instant_query
from application.access_log import TooLarge
from application.common import ApplicationError, Forbidden, Principal
from domain.access_log import MAX_BATCH, Access, window_start
from domain.base import check_calendar
from domain.organizations import Role
from projections.access_log_queries import AccessLogFilter

Limit = Annotated[int, Parameter(ge=1, le=1000, description="Page size")]


class AccessBody(msgspec.Struct, forbid_unknown_fields=True):
    """One delivery: `request_id` is the platform's id of it, stored once ever."""

    request_id: str
    holder: str
    provider: str
    entry_id: UUID
    fields: list[str]
    purpose: str
    method: str
    record_count: int
    accessed_at: Instant
    grant_id: UUID | None = None


class BatchBody(msgspec.Struct, forbid_unknown_fields=True):
    records: list[AccessBody]



class AccessLogController(Controller):
    path = "/access-logs"
    tags = ["access-log"]
    dependencies = {"principal": Provide(provide_principal, sync_to_thread=False)}

    @post("/", sync_to_thread=True, status_code=200)
    def ingest(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
               data: JSONBody[BatchBody]) -> Response[Any]:
        """A batch of up to 10,000 records from the platform; stored all or nothing, each request id once (LOG-1)."""
        if len(data.records) > MAX_BATCH:
            raise TooLarge(f"A batch holds at most {MAX_BATCH} records, not {len(data.records)}.")
        accesses = [Access(request_id=r.request_id, holder=r.holder, provider=r.provider, entry_id=r.entry_id,
                           fields=tuple(r.fields), purpose=r.purpose, method=r.method, record_count=r.record_count,
                           accessed_at=r.accessed_at, grant_id=r.grant_id) for r in data.records]
        rt = runtime_of(request)
        result, position = rt.access_log.record(principal, command(request, "access_log.record", data), accesses)
        headers = {POSITION_HEADER: str(position)} if position else {}
        if result.batch_id is None:  # every record was a duplicate: nothing new was accepted
            return Response(result, headers=headers)
        # signed with the ledger's key (第二十二条); none where no signing key is configured, as for checkpoints
        receipt = rt.receipts.bundle(UUID(result.batch_id)) if rt.integrity.public_key() is not None else None
        return Response({**msgspec.to_builtins(result), "receipt": receipt}, headers=headers)

    @get("/receipts", sync_to_thread=True)
    def receipts(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
                 side: FromQuery[str], org: FromQuery[str | None] = None,
                 after: Annotated[int, Parameter(ge=0, le=2**63 - 1)] = 0, limit: Limit = 50) -> Response[Any]:
        """The signed receipts of the batches that hold the caller's records as provider or holder
        (`side=provider|holder`; the Office and auditors name `org`), oldest first: each with those records in
        clear, the others as hashes, and the batch's inclusion proof once a checkpoint covers it. Page with
        `after=` from `next_after`."""
        wait_for_position(request, "access_log")
        return Response(runtime_of(request).receipts.for_party(principal, side=side, org=org, after=after,
                                                               limit=limit))

    @get("/receipts/{batch_id:uuid}", sync_to_thread=True)
    def receipt(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
                batch_id: FromPath[UUID]) -> Response[Any]:
        """One batch's receipt with all its records: the platform that sent it, the Office and auditors."""
        if not (principal.sees_everything or Role.PLATFORM in principal.roles):
            raise Forbidden("Only the platform, the Office and auditors read a whole batch's receipt.")
        return Response(runtime_of(request).receipts.bundle(batch_id))

    @get("/", sync_to_thread=True)
    def list_records(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
                     provider: FromQuery[str | None] = None, holder: FromQuery[str | None] = None,
                     user: FromQuery[str | None] = None, entry_id: FromQuery[UUID | None] = None,
                     grant_id: FromQuery[UUID | None] = None, outcome: FromQuery[str | None] = None,
                     from_: Annotated[datetime | None, instant_query("from")] = None,
                     to: Annotated[datetime | None, instant_query()] = None, limit: Limit = 50,
                     cursor: FromQuery[str | None] = None) -> Response[Any]:
        """Records of the last three years, newest first; others than the Office and auditors see the records
        of data they provide or accesses they made (LOG-2). `user` is a synonym of `holder`."""
        rt = runtime_of(request)
        org = rt.access_log.scope_of(principal)
        if outcome is not None and outcome not in ("allowed", "denied"):
            raise ApplicationError("outcome is allowed or denied.")
        position = wait_for_position(request, "access_log")
        f = AccessLogFilter(provider=provider, holder=holder or user, entry_id=entry_id, grant_id=grant_id,
                            outcome=outcome, start=from_, end=to)
        rows, nxt = rt.access_log_queries.records(org=org, since=window_start(rt.now()), f=f, limit=limit,
                                                  cursor=cursor)
        return Response({"items": rows, "next_cursor": nxt, "position": position})

    @get("/daily", sync_to_thread=True)
    def daily(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
              org: FromQuery[str | None] = None, side: FromQuery[str | None] = None,
              entry_id: FromQuery[UUID | None] = None,
              from_: Annotated[datetime | None, instant_query("from")] = None,
              to: Annotated[datetime | None, instant_query()] = None) -> Response[Any]:
        """Allowed and denied counts per day (Beijing), organization (as `provider` or `holder`) and entry."""
        rt = runtime_of(request)
        scope = rt.access_log.scope_of(principal)
        if side is not None and side not in ("provider", "holder"):
            raise ApplicationError("side is provider or holder.")
        check_calendar(**{"from": from_, "to": to})
        position = wait_for_position(request, "access_log")
        since = window_start(rt.now())
        rows = rt.access_log_queries.daily(org=scope, since=max(since, from_) if from_ else since, until=to,
                                           side=side, entry_id=entry_id, of=org)
        return Response({"items": rows, "position": position})

