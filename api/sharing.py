"""HTTP routes of sharing: share requests, implementation orders, grants and the grant-status query (USE-1)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

import anyio.to_thread
import msgspec
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from api.contract import Page
from api.deps import Asking, Envelope, Reads
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
from api.routes import Decisions, Rows, fields_of, page
from api.state import Past
from application.common import ApplicationError, Forbidden, Principal
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


decide = Decisions("sharing", SharingService, RequestAnswer, request_id=FromPath[UUID])
grants = Decisions("sharing", SharingService, GrantAnswer, grant_id=FromPath[UUID])
requests = Rows("sharing_queries", SharingQueries, "sharing", request_id=FromPath[UUID])
grant_rows = Rows("sharing_queries", SharingQueries, "sharing", grant_id=FromPath[UUID])


class ShareRequestController(Controller):
    path = "/share-requests"
    tags = ["sharing"]

    submit = decide("/", SharingService.submit, "share_request.submit", RequestBody, status_code=201,
                    args=lambda b: {**fields_of(b), "entries": tuple(
                        RequestedEntry(entry_id=e.entry_id, resource_code="", fields=tuple(e.fields))
                        for e in b.entries)},
                    location="/share-requests/{aggregate_id}",
                    doc="Submits a share request (requester role of a division, unit, bureau or provincial "
                        "department).")

    @get("/", sync_to_thread=True)
    def list_requests(self, principal: NamedDependency[Principal], sharing_queries: NamedDependency[SharingQueries],
                      reads: NamedDependency[Reads], status: FromQuery[RequestStatus | None] = None,
                      limit: Limit = 50, cursor: CursorQuery = None) -> Response[Page[RequestRow]]:
        """Requests with their status; the Office's review queue is `?status=submitted`."""
        position = reads.wait("sharing")
        rows, nxt = sharing_queries.requests(scope=Scope.of(principal), status=plain(status), limit=limit,
                                             cursor=cursor)
        return page(rows, nxt, position)

    get_request = requests("/{request_id:uuid}", SharingQueries.request, RequestDetail,
                           "No share request {request_id}.")

    review = decide(
        "/{request_id:uuid}/review", SharingService.review, "share_request.review", ReviewBody,
        args=lambda b: {**fields_of(b), "fields": {k: tuple(v) for k, v in b.fields.items()} if b.fields is not None
                        else None},
        doc="The Office approves (possibly narrowing fields) or rejects with a reason (SHR-5, SHR-6).")
    withdraw = decide("/{request_id:uuid}/withdraw", SharingService.withdraw, "share_request.withdraw")
    issue_order = decide("/{request_id:uuid}/orders", SharingService.issue_order, "share_request.issue_order",
                         OrderBody, optional=True, status_code=201, location="/share-requests/{request_id}",
                         answers=OrderAnswer,
                         doc="Issues the implementation order (附件2) and the grants it decides (SHR-6, SHR-7, "
                             "SHR-8).")


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
        return page(rows, nxt, position, cut)

    get_grant = grant_rows("/{grant_id:uuid}", SharingQueries.grant, GrantRow, "No grant {grant_id}.")

    suspend = grants("/{grant_id:uuid}/suspend", SharingService.suspend, "grant.suspend", CorrectableBody,
                     doc="Suspends now; the Office may give `effective_at`, an earlier instant it takes effect from.")
    resume = grants("/{grant_id:uuid}/resume", SharingService.resume, "grant.resume")
    revoke = grants("/{grant_id:uuid}/revoke", SharingService.revoke, "grant.revoke", CorrectableBody,
                    doc="Revokes now, or with effect from an earlier `effective_at` (TIME-1 … TIME-3).")
    correct_validity = grants("/{grant_id:uuid}/validity", SharingService.correct_validity, "grant.correct_validity",
                              ValidityBody, doc="The Office corrects a validity recorded too wide (TIME-1 … TIME-3).")


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


reviews = Decisions("sharing", SharingService, ReviewAnswer, review_id=FromPath[UUID])
review_rows = Rows("review_queries", ReviewQueries, "sharing", review_id=FromPath[UUID])


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
        return page(rows, nxt, position)

    get_review = review_rows("/{review_id:uuid}", ReviewQueries.review, ReviewRow, "No grant re-review {review_id}.")

    close = reviews("/{review_id:uuid}/close", SharingService.close_review, "grant_review.close", CloseReviewBody,
                    doc="The Office records its decision; `suspend` and `revoke` act on the grant in the same "
                        "transaction.")
