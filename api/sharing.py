"""HTTP routes of sharing: share requests, implementation orders, grants and the grant-status query (USE-1)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, TypeVar
from uuid import UUID

import anyio.to_thread
import msgspec
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from api.contract import Page
from api.deps import Asking, Envelope, Reads, answer
from api.params import (
    AsKnownAtQuery,
    AtQuery,
    CursorQuery,
    Instant,
    Limit,
    OptionalPosition,
    OrgQuery,
    constrained,
    plain,
)
from api.state import Past
from application.common import ApplicationError, Forbidden, NotFound, Principal
from application.sharing import (
    GrantAnswer,
    OrderAnswer,
    RequestAnswer,
    ReviewAnswer,
    SharingService,
    StatusAnswer,
)
from domain.catalog_values import DeliveryMethod
from domain.grant_reviews import ReviewOutcome, ReviewStatus
from domain.limits import MAX_ITEMS, ItemCodeList, OrgCode, ShortText, Text
from domain.organizations import Role
from domain.rules import OutOfRange
from domain.sharing_values import (
    GrantStatus,
    RequestDecision,
    RequestedEntry,
    RequestStatus,
    UsePlan,
)
from projections.scope import Scope
from projections.sharing_queries import (
    GrantRow,
    RequestDetail,
    RequestRow,
    ReviewQueries,
    ReviewRow,
    SharingQueries,
)


class AskedEntry(msgspec.Struct, forbid_unknown_fields=True):
    entry_id: UUID
    fields: ItemCodeList


class RequestBody(msgspec.Struct, forbid_unknown_fields=True):
    """共享申请书 (附件1)."""

    scenario: ShortText
    reason: Text
    entries: Annotated[list[AskedEntry], msgspec.Meta(max_length=MAX_ITEMS)]
    purpose: ShortText
    valid_from: date
    valid_to: date
    delivery_method: DeliveryMethod


class ReviewBody(msgspec.Struct, forbid_unknown_fields=True):
    decision: RequestDecision
    fields: Annotated[dict[UUID, ItemCodeList], msgspec.Meta(max_length=MAX_ITEMS)] | None = None
    reason: Text = ""


class OrderBody(msgspec.Struct, forbid_unknown_fields=True):
    """共享实施单 (附件2): per entry from another department, its import, storage and use plan (SHR-8)."""

    plans: Annotated[dict[UUID, UsePlan], msgspec.Meta(max_length=MAX_ITEMS)] = {}


class CorrectableBody(msgspec.Struct, forbid_unknown_fields=True):
    """A reason, and for the Office an earlier instant the suspension or revocation takes effect from (TIME-1)."""

    reason: Text
    effective_at: Instant | None = None


class ValidityBody(msgspec.Struct, forbid_unknown_fields=True):
    """The validity a grant really had; within the recorded one, its changed ends past (TIME-2, TIME-3)."""

    valid_from: Instant
    valid_to: Instant
    reason: Text


class StatusBody(msgspec.Struct, forbid_unknown_fields=True):
    holder: OrgCode
    entry_id: UUID
    fields: ItemCodeList
    purpose: ShortText
    method: ShortText
    at: Instant | None = None
    record_use: bool = False
    proof: bool = False
    since: Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)] | None = None
    as_known_at: Instant | None = None


Versioned = TypeVar("Versioned", GrantRow, RequestDetail, ReviewRow)


def _found(row: Versioned | None, missing: str) -> Response[Versioned]:
    """One row the caller's scope sees, with its version as the ETag; 404 when there is none it sees."""
    if row is None:
        raise NotFound(missing)
    return Response(row, headers={"ETag": f'"{row.version}"'})


class ShareRequestController(Controller):
    path = "/share-requests"
    tags = ["sharing"]

    @post("/", sync_to_thread=True, status_code=201)
    def submit(self, principal: NamedDependency[Principal], sharing: NamedDependency[SharingService],
               envelope: NamedDependency[Envelope], data: JSONBody[RequestBody]) -> Response[RequestAnswer]:
        """Submits a share request (requester role of a division, unit, bureau or provincial department)."""
        entries = tuple(RequestedEntry(entry_id=e.entry_id, resource_code="", fields=tuple(e.fields))
                        for e in data.entries)
        result = sharing.submit(principal, envelope.command("share_request.submit", data), scenario=data.scenario,
                                reason=data.reason, entries=entries, purpose=data.purpose,
                                valid_from=data.valid_from, valid_to=data.valid_to,
                                delivery_method=data.delivery_method)
        return answer(result, location=f"/share-requests/{result.aggregate_id}")

    @get("/", sync_to_thread=True)
    def list_requests(self, principal: NamedDependency[Principal], sharing_queries: NamedDependency[SharingQueries],
                      reads: NamedDependency[Reads], status: FromQuery[RequestStatus | None] = None,
                      limit: Limit = 50, cursor: CursorQuery = None) -> Response[Page[RequestRow]]:
        """Requests with their status; the Office's review queue is `?status=submitted`."""
        position = reads.wait("sharing")
        rows, nxt = sharing_queries.requests(scope=Scope.of(principal), status=plain(status), limit=limit,
                                             cursor=cursor)
        return Response({"items": rows, "next_cursor": nxt, "position": position})

    @get("/{request_id:uuid}", sync_to_thread=True)
    def get_request(self, principal: NamedDependency[Principal], sharing_queries: NamedDependency[SharingQueries],
                    reads: NamedDependency[Reads], request_id: FromPath[UUID]) -> Response[RequestDetail]:
        reads.wait("sharing")
        return _found(sharing_queries.request(request_id, Scope.of(principal)), f"No share request {request_id}.")

    @post("/{request_id:uuid}/review", sync_to_thread=True, status_code=200)
    def review(self, principal: NamedDependency[Principal], sharing: NamedDependency[SharingService],
               envelope: NamedDependency[Envelope], request_id: FromPath[UUID],
               data: JSONBody[ReviewBody]) -> Response[RequestAnswer]:
        """The Office approves (possibly narrowing fields) or rejects with a reason (SHR-5, SHR-6)."""
        fields = {k: tuple(v) for k, v in data.fields.items()} if data.fields is not None else None
        return answer(sharing.review(principal, envelope.command("share_request.review", data), request_id,
                                     decision=data.decision, fields=fields, reason=data.reason))

    @post("/{request_id:uuid}/withdraw", sync_to_thread=True, status_code=200)
    def withdraw(self, principal: NamedDependency[Principal], sharing: NamedDependency[SharingService],
                 envelope: NamedDependency[Envelope], request_id: FromPath[UUID]) -> Response[RequestAnswer]:
        return answer(sharing.withdraw(principal, envelope.command("share_request.withdraw"), request_id))

    @post("/{request_id:uuid}/orders", sync_to_thread=True, status_code=201)
    def issue_order(self, principal: NamedDependency[Principal], sharing: NamedDependency[SharingService],
                    envelope: NamedDependency[Envelope], request_id: FromPath[UUID],
                    data: JSONBody[OrderBody | None] = None) -> Response[OrderAnswer]:
        """Issues the implementation order (附件2) and the grants it decides (SHR-6, SHR-7, SHR-8)."""
        body = data or OrderBody()
        result = sharing.issue_order(principal, envelope.command("share_request.issue_order", body), request_id,
                                     plans=body.plans)
        return answer(result, location=f"/share-requests/{request_id}")


class GrantController(Controller):
    path = "/grants"
    tags = ["sharing"]

    @get("/", sync_to_thread=True)
    def list_grants(self, principal: NamedDependency[Principal], sharing_queries: NamedDependency[SharingQueries],
                    reads: NamedDependency[Reads], past: NamedDependency[Past],
                    holder: OrgQuery = None, provider: OrgQuery = None,
                    entry_id: FromQuery[UUID | None] = None, status: FromQuery[GrantStatus | None] = None,
                    limit: Limit = 50, cursor: CursorQuery = None,
                    at: AtQuery = None, as_known_at: AsKnownAtQuery = None) -> Response[Page[GrantRow]]:
        """Grants by holder, provider, entry and status; others than the Office see grants they hold or provide.
        With `at` and/or `as_known_at`, the grants as in force at `at`, as known at `as_known_at` (status
        folded at `at`, back-dated corrections known by then included)."""
        queries, position, cut = past.or_live(at, as_known_at, reads, sharing_queries, SharingQueries, "sharing")
        rows, nxt = queries.grants(scope=Scope.of(principal), holder=holder, provider=provider, entry_id=entry_id,
                                   status=plain(status), limit=limit, cursor=cursor)
        return Response({"items": rows, "next_cursor": nxt, **cut, "position": position})

    @get("/{grant_id:uuid}", sync_to_thread=True)
    def get_grant(self, principal: NamedDependency[Principal], sharing_queries: NamedDependency[SharingQueries],
                  reads: NamedDependency[Reads], grant_id: FromPath[UUID]) -> Response[GrantRow]:
        reads.wait("sharing")
        return _found(sharing_queries.grant(grant_id, Scope.of(principal)), f"No grant {grant_id}.")

    @post("/{grant_id:uuid}/suspend", sync_to_thread=True, status_code=200)
    def suspend(self, principal: NamedDependency[Principal], sharing: NamedDependency[SharingService],
                envelope: NamedDependency[Envelope], grant_id: FromPath[UUID],
                data: JSONBody[CorrectableBody]) -> Response[GrantAnswer]:
        """Suspends now; the Office may give `effective_at`, an earlier instant it takes effect from."""
        return answer(sharing.suspend(principal, envelope.command("grant.suspend", data), grant_id,
                                      reason=data.reason, effective_at=data.effective_at))

    @post("/{grant_id:uuid}/resume", sync_to_thread=True, status_code=200)
    def resume(self, principal: NamedDependency[Principal], sharing: NamedDependency[SharingService],
               envelope: NamedDependency[Envelope], grant_id: FromPath[UUID]) -> Response[GrantAnswer]:
        return answer(sharing.resume(principal, envelope.command("grant.resume"), grant_id))

    @post("/{grant_id:uuid}/revoke", sync_to_thread=True, status_code=200)
    def revoke(self, principal: NamedDependency[Principal], sharing: NamedDependency[SharingService],
               envelope: NamedDependency[Envelope], grant_id: FromPath[UUID],
               data: JSONBody[CorrectableBody]) -> Response[GrantAnswer]:
        """Revokes now, or with effect from an earlier `effective_at` (TIME-1 … TIME-3)."""
        return answer(sharing.revoke(principal, envelope.command("grant.revoke", data), grant_id,
                                     reason=data.reason, effective_at=data.effective_at))

    @post("/{grant_id:uuid}/validity", sync_to_thread=True, status_code=200)
    def correct_validity(self, principal: NamedDependency[Principal], sharing: NamedDependency[SharingService],
                         envelope: NamedDependency[Envelope], grant_id: FromPath[UUID],
                         data: JSONBody[ValidityBody]) -> Response[GrantAnswer]:
        """The Office corrects a validity recorded too wide (TIME-1 … TIME-3)."""
        return answer(sharing.correct_validity(principal, envelope.command("grant.correct_validity", data),
                                               grant_id, valid_from=data.valid_from, valid_to=data.valid_to,
                                               reason=data.reason))


class GrantStatusController(Controller):
    path = "/grant-status"
    tags = ["sharing"]

    @get("/")
    async def ask(self, asking: NamedDependency[Asking],
                  holder: Annotated[str, constrained(OrgCode)], entry_id: FromQuery[UUID],
                  fields: Annotated[list[str], QueryParameter(max_items=MAX_ITEMS)],
                  purpose: Annotated[str, constrained(ShortText)], method: Annotated[str, constrained(ShortText)],
                  at: AtQuery = None, as_known_at: AsKnownAtQuery = None,
                  proof: FromQuery[bool] = False, since: OptionalPosition = None) -> Response[StatusAnswer]:
        """May `holder` receive `fields` of `entry_id` for `purpose` by `method` — as at `at` (effective time),
        as known at `as_known_at` (recorded time), each now when left out?
        With `proof=true` the answer carries its proof: the events it rests on, each with its inclusion proof in
        a signed checkpoint (signed now if the latest does not cover them), for the offline verifier to
        re-derive the decision; `since=<tree size>` adds the consistency proof from a checkpoint the asker holds."""
        wanted = [f for part in fields for f in part.split(",") if f]
        # the same checks as the body's: the Struct's constraints apply to the query too
        try:
            asked = msgspec.convert({"holder": holder, "entry_id": str(entry_id), "fields": wanted, "purpose": purpose,
                                     "method": method}, StatusBody)
        except msgspec.ValidationError as e:
            raise OutOfRange("fields", str(e)) from None
        return await self._answer_soon(
            asking,
            msgspec.structs.replace(asked, at=at, as_known_at=as_known_at, proof=proof, since=since))

    @post("/", status_code=200)
    async def ask_many(self, asking: NamedDependency[Asking],
                       data: JSONBody[StatusBody]) -> Response[StatusAnswer]:
        """The same question with a body (many fields); `record_use: true` records the access, consuming a
        single-use grant (按次单独实施)."""
        return await self._answer_soon(asking, data)

    @classmethod
    async def _answer_soon(cls, a: Asking, q: StatusBody) -> Response[Any]:
        """Answers on the event loop when everything it needs is in memory (the grant cache current, the holder's
        grants and the entry's provider cached, no wait asked for), else in a worker thread: the answer is the same."""
        cache, principal = a.parts.grant_cache, a.principal
        if (not (q.proof or q.record_use) and q.at is None and q.as_known_at is None and cache.current_without_io()
                and cache.cached(q.holder, q.entry_id)
                and (a.reads.wanted or 0) <= a.parts.projector.board.known("sharing")
                and (principal.sees_everything or Role.PLATFORM in principal.roles or cache.known_provider(q.entry_id))):
            return cls._answer(a, q)
        return await anyio.to_thread.run_sync(cls._answer, a, q)

    @staticmethod
    def _answer(a: Asking, q: StatusBody) -> Response[StatusAnswer]:
        principal, parts, sharing = a.principal, a.parts, a.parts.sharing
        if not q.fields:
            raise ApplicationError("Name at least one field.")
        if not (principal.sees_everything or Role.PLATFORM in principal.roles):
            provider = parts.grant_cache.provider_of(q.entry_id)
            if provider is None:  # an entry published a moment ago: the catalog view may not hold it yet
                parts.catch_up_catalog()
                provider = parts.grant_cache.provider_of(q.entry_id)
            sharing.may_ask(principal, q.holder, provider)
        if q.proof:
            if q.as_known_at is not None:
                raise ApplicationError("A proof is of the answer as known now; ask `as_known_at` without `proof`.")
            if q.record_use:
                raise ApplicationError("A proof goes with a question; a recorded use is proved by "
                                       "/ledger/proofs/{position} of its event.")
            answer, bundle = parts.with_proof(holder=q.holder, entry_id=q.entry_id, fields=tuple(q.fields),
                                              purpose=q.purpose, method=q.method, at=q.at, since=q.since)
            return Response({**msgspec.to_builtins(answer), "proof": bundle})
        if q.record_use:
            if q.at is not None or q.as_known_at is not None:
                raise ApplicationError("A use is recorded now; `at` and `as_known_at` go with questions only.")
            result, position, replayed = sharing.use_or_replay(
                principal, Envelope(a.request).command("grant.use", q), holder=q.holder, entry_id=q.entry_id,
                fields=tuple(q.fields), purpose=q.purpose, method=q.method)
            headers = {"X-Ledger-Position": str(position)} if position else {}
            if replayed:
                headers["Idempotent-Replayed"] = "true"
            return Response(result, headers=headers)
        a.reads.honour("sharing")
        answer = sharing.status(holder=q.holder, entry_id=q.entry_id, fields=tuple(q.fields), purpose=q.purpose,
                                method=q.method, at=q.at, as_known_at=q.as_known_at)
        if q.at is not None or q.as_known_at is not None:
            return Response(answer)
        # The position the answer stands on at least (a consistency token, also the body's `position`): the
        # grants view's position the cache was current at. Sent back as X-Min-Position, to this process or
        # another, it asks for an answer at least that fresh (docs/api.md).
        return Response(answer, headers={"X-Ledger-Position": str(answer.position)})


class CloseReviewBody(msgspec.Struct, forbid_unknown_fields=True):
    """The Office's decision on a re-review: keep, suspend or revoke the grant, and why."""

    decision: ReviewOutcome
    comment: Text


class GrantReviewController(Controller):
    """The Office's queue of grants to re-review after a revision of their catalog entry was published."""

    path = "/grant-reviews"
    tags = ["sharing"]

    @get("/", sync_to_thread=True)
    def list_reviews(self, principal: NamedDependency[Principal], review_queries: NamedDependency[ReviewQueries],
                     reads: NamedDependency[Reads], status: FromQuery[ReviewStatus | None] = None,
                     grant_id: FromQuery[UUID | None] = None, entry_id: FromQuery[UUID | None] = None,
                     limit: Limit = 50, cursor: CursorQuery = None) -> Response[Page[ReviewRow]]:
        """Re-reviews (`status=open`: the queue), each with how the revision affected the grant."""
        if not principal.sees_everything:
            raise Forbidden("The re-review queue is the Office's (and auditors').")
        position = reads.wait("sharing")
        rows, nxt = review_queries.reviews(status=plain(status), grant_id=grant_id, entry_id=entry_id, limit=limit,
                                           cursor=cursor)
        return Response({"items": rows, "next_cursor": nxt, "position": position})

    @get("/{review_id:uuid}", sync_to_thread=True)
    def get_review(self, principal: NamedDependency[Principal], review_queries: NamedDependency[ReviewQueries],
                   reads: NamedDependency[Reads], review_id: FromPath[UUID]) -> Response[ReviewRow]:
        reads.wait("sharing")
        return _found(review_queries.review(review_id, Scope.of(principal)), f"No grant re-review {review_id}.")

    @post("/{review_id:uuid}/close", sync_to_thread=True, status_code=200)
    def close(self, principal: NamedDependency[Principal], sharing: NamedDependency[SharingService],
              envelope: NamedDependency[Envelope], review_id: FromPath[UUID],
              data: JSONBody[CloseReviewBody]) -> Response[ReviewAnswer]:
        """The Office records its decision; `suspend` and `revoke` act on the grant in the same transaction."""
        return answer(sharing.close_review(principal, envelope.command("grant_review.close", data), review_id,
                                           decision=data.decision, comment=data.comment))
