"""HTTP routes of the access log (应用日志): the platform posts batches; the organizations concerned read them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, Parameter

from api.contract import Page
from api.deps import POSITION_HEADER, Envelope, Reads
from api.params import CursorQuery, Instant, OrgQuery, instant_query, plain
from application.access_log import AccessLogService, TooLarge
from application.access_log import BatchAnswer as AccessBatchAnswer
from application.common import Forbidden, Principal
from application.integrity import IntegrityService
from application.receipts import ReceiptFile, ReceiptPage, ReceiptService
from domain.access_log import Access, Outcome, window_start
from domain.base import check_calendar
from domain.limits import MAX_BATCH, ItemCodeList, OrgCode, RecordCount, ShortText, Token
from domain.organizations import Role
from projections.access_log_queries import (
    AccessLogFilter,
    AccessLogQueries,
    AccessRecordRow,
    DailyRow,
)
from projections.scope import Scope

Limit = Annotated[int, Parameter(ge=1, le=1000, description="Page size")]


class AccessBody(msgspec.Struct, forbid_unknown_fields=True):
    """One delivery: `request_id` is the platform's id of it, stored once ever."""

    request_id: Token
    holder: OrgCode
    provider: OrgCode
    entry_id: UUID
    fields: ItemCodeList
    purpose: ShortText
    method: ShortText
    record_count: RecordCount
    accessed_at: Instant
    grant_id: UUID | None = None


class BatchBody(msgspec.Struct, forbid_unknown_fields=True):
    records: Annotated[list[AccessBody], msgspec.Meta(max_length=MAX_BATCH, description="At most 10,000 records.")]



class AccessLogController(Controller):
    path = "/access-logs"
    tags = ["access-log"]

    @post("/", sync_to_thread=True, status_code=200)
    def ingest(self, principal: NamedDependency[Principal], access_log: NamedDependency[AccessLogService],
               receipts: NamedDependency[ReceiptService], integrity: NamedDependency[IntegrityService],
               envelope: NamedDependency[Envelope], data: JSONBody[BatchBody]) -> Response[AccessBatchAnswer]:
        """A batch of up to 10,000 records from the platform; stored all or nothing, each request id once (LOG-1)."""
        if len(data.records) > MAX_BATCH:
            raise TooLarge(f"A batch holds at most {MAX_BATCH} records, not {len(data.records)}.")
        accesses = [Access(request_id=r.request_id, holder=r.holder, provider=r.provider, entry_id=r.entry_id,
                           fields=tuple(r.fields), purpose=r.purpose, method=r.method, record_count=r.record_count,
                           accessed_at=r.accessed_at, grant_id=r.grant_id) for r in data.records]
        result, position, replayed = access_log.record_or_replay(
            principal, envelope.command("access_log.record", data), accesses)
        headers = {POSITION_HEADER: str(position)} if position else {}
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        if result.batch_id is None:  # every record was a duplicate: nothing new was accepted
            return Response(result, headers=headers)
        # signed with the ledger's key (第二十二条); none where no signing key is configured, as for checkpoints
        receipt = receipts.bundle(UUID(result.batch_id)) if integrity.public_key() is not None else None
        return Response({**msgspec.to_builtins(result), "receipt": receipt}, headers=headers)

    @get("/receipts", sync_to_thread=True)
    def receipts(self, principal: NamedDependency[Principal], receipts: NamedDependency[ReceiptService],
                 reads: NamedDependency[Reads], side: FromQuery[Literal["provider", "holder"]], org: OrgQuery = None,
                 after: Annotated[int, Parameter(ge=0, le=2**63 - 1)] = 0, limit: Limit = 50) -> Response[ReceiptPage]:
        """The signed receipts of the batches that hold the caller's records as provider or holder
        (`side=provider|holder`; the Office and auditors name `org`), oldest first: each with those records in
        clear, the others as hashes, and the batch's inclusion proof once a checkpoint covers it. Page with
        `after=` from `next_after`."""
        reads.wait("access_log")
        return Response(msgspec.convert(receipts.for_party(principal, side=side, org=org, after=after, limit=limit),
                                        ReceiptPage))

    @get("/receipts/{batch_id:uuid}", sync_to_thread=True)
    def receipt(self, principal: NamedDependency[Principal], receipts: NamedDependency[ReceiptService],
                batch_id: FromPath[UUID]) -> Response[ReceiptFile]:
        """One batch's receipt with all its records: the platform that sent it, the Office and auditors."""
        if not (principal.sees_everything or Role.PLATFORM in principal.roles):
            raise Forbidden("Only the platform, the Office and auditors read a whole batch's receipt.")
        return Response(msgspec.convert(receipts.bundle(batch_id), ReceiptFile))

    @get("/", sync_to_thread=True)
    def list_records(self, principal: NamedDependency[Principal], access_log: NamedDependency[AccessLogService],
                     access_log_queries: NamedDependency[AccessLogQueries], reads: NamedDependency[Reads],
                     now: NamedDependency[datetime],
                     provider: OrgQuery = None, holder: OrgQuery = None,
                     user: OrgQuery = None, entry_id: FromQuery[UUID | None] = None,
                     grant_id: FromQuery[UUID | None] = None, outcome: FromQuery[Outcome | None] = None,
                     from_: Annotated[datetime | None, instant_query("from")] = None,
                     to: Annotated[datetime | None, instant_query()] = None, limit: Limit = 50,
                     cursor: CursorQuery = None) -> Response[Page[AccessRecordRow]]:
        """Records of the last three years, newest first; others than the Office and auditors see the records
        of data they provide or accesses they made (LOG-2). `user` is a synonym of `holder`."""
        scope = Scope(access_log.scope_of(principal))  # refuses the platform, which writes the log
        position = reads.wait("access_log")
        f = AccessLogFilter(provider=provider, holder=holder or user, entry_id=entry_id, grant_id=grant_id,
                            outcome=plain(outcome), start=from_, end=to)
        rows, nxt = access_log_queries.records(scope=scope, since=window_start(now), f=f, limit=limit,
                                               cursor=cursor)
        return Response({"items": rows, "next_cursor": nxt, "position": position})

    @get("/daily", sync_to_thread=True)
    def daily(self, principal: NamedDependency[Principal], access_log: NamedDependency[AccessLogService],
              access_log_queries: NamedDependency[AccessLogQueries], reads: NamedDependency[Reads],
              now: NamedDependency[datetime],
              org: OrgQuery = None, side: FromQuery[Literal["provider", "holder"] | None] = None,
              entry_id: FromQuery[UUID | None] = None,
              from_: Annotated[datetime | None, instant_query("from")] = None,
              to: Annotated[datetime | None, instant_query()] = None) -> Response[Page[DailyRow]]:
        """Allowed and denied counts per day (Beijing), organization (as `provider` or `holder`) and entry."""
        scope = Scope(access_log.scope_of(principal))
        check_calendar(**{"from": from_, "to": to})
        position = reads.wait("access_log")
        since = window_start(now)
        rows = access_log_queries.daily(scope=scope, since=max(since, from_) if from_ else since, until=to,
                                        side=side, entry_id=entry_id, of=org)
        return Response({"items": rows, "position": position})
