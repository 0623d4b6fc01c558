"""HTTP routes of the catalog context: thin, one application call each."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, Parameter

from api.contract import Page, Row
from api.deps import answer, command, provide_principal, runtime_of, wait_for_position
from api.params import (
    AsKnownAtQuery,
    AtQuery,
    CodeQuery,
    CursorQuery,
    Instant,
    OrgQuery,
    TextQuery,
    plain,
)
from api.state import as_of
from application.catalog import EntryAnswer, ImpactAnswer
from application.common import NotFound, Principal
from domain.catalog_values import Check, EntryContent, OpenClass, Review, ReviewDecision, ShareClass
from domain.limits import Code, OrgCode, Text
from projections.catalog_queries import CatalogFilter, CatalogQueries


class DraftBody(msgspec.Struct, forbid_unknown_fields=True):
    resource_code: Code
    content: EntryContent
    provider: OrgCode | None = None


class ContentBody(msgspec.Struct, forbid_unknown_fields=True):
    content: EntryContent


class ReviewBody(msgspec.Struct, forbid_unknown_fields=True):
    accuracy: Check
    completeness: Check
    compliance: Check
    decision: ReviewDecision


class PublishBody(msgspec.Struct, forbid_unknown_fields=True):
    published_on: date | None = None


class EffectiveDateBody(msgspec.Struct, forbid_unknown_fields=True):
    """The date a published version really took effect, earlier than recorded (TIME-1 … TIME-3)."""

    version: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
    effective_on: date
    reason: Text


class AcceptDuplicateBody(msgspec.Struct, forbid_unknown_fields=True):
    item_code: Code


class RefreshBody(msgspec.Struct, forbid_unknown_fields=True):
    as_of: Instant


class RetireBody(msgspec.Struct, forbid_unknown_fields=True):
    reason: Text


class EmptyBody(msgspec.Struct, forbid_unknown_fields=True):
    pass


Limit = Annotated[int, Parameter(ge=1, le=500, description="Page size")]
EntryStatus = Literal["drafted", "submitted", "returned", "approved", "published", "revising", "retired"]
"""The status an entry is listed under (`published` and `revising` both have a version in force)."""


def _viewer(p: Principal) -> str | None:
    return None if p.sees_everything else p.acting_for


class CatalogController(Controller):
    path = "/catalog"
    tags = ["catalog"]
    dependencies = {"principal": Provide(provide_principal, sync_to_thread=False)}

    @get("/entries", sync_to_thread=True)
    def list_entries(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
        provider: OrgQuery = None, status: FromQuery[EntryStatus | None] = None,
        share_class: FromQuery[ShareClass | None] = None, open_class: FromQuery[OpenClass | None] = None,
        item_code: CodeQuery = None, q: TextQuery = None,
        overdue: FromQuery[bool | None] = None, limit: Limit = 50, cursor: CursorQuery = None,
        at: AtQuery = None, as_known_at: AsKnownAtQuery = None,
    ) -> Response[Page[Row]]:
        """The current catalog, filtered and paged; with `at` and/or `as_known_at`, the catalog as in force at `at`
        as known at `as_known_at` (see `/state`)."""
        rt = runtime_of(request)
        queries, now = rt.catalog_queries, rt.now()
        cut: dict[str, Any] = {}
        if at is not None or as_known_at is not None:
            position, replica, cut = as_of(request, at, as_known_at)
            queries, now = CatalogQueries(replica, rt.settings.overdue_grace_days), cut["at"]
        else:
            position = wait_for_position(request, "catalog")
        rows, next_cursor = queries.list(
            CatalogFilter(provider=provider, status=plain(status), share_class=plain(share_class),
                          open_class=plain(open_class),
                          item_code=item_code, q=q, overdue=overdue),
            viewer_org=_viewer(principal), now=now, limit=limit, cursor=cursor,
        )
        return Response({"items": rows, "next_cursor": next_cursor, **cut, "position": position})

    @get("/entries/{entry_id:uuid}", sync_to_thread=True)
    def get_entry(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], entry_id: FromPath[UUID]) -> Response[Row]:
        """One entry with its current and pending versions; its ETag is the entry's version."""
        rt = runtime_of(request)
        wait_for_position(request, "catalog")
        row = rt.catalog_queries.get(str(entry_id), viewer_org=_viewer(principal), now=rt.now())
        if row is None:
            raise NotFound(f"No catalog entry {entry_id}.")
        return Response(row, headers={"ETag": f'"{row["version"]}"'})

    @get("/open", sync_to_thread=True)
    def open_catalog(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], limit: Limit = 50,
                     cursor: CursorQuery = None, q: TextQuery = None,
                     at: AtQuery = None, as_known_at: AsKnownAtQuery = None) -> Response[Page[Row]]:
        """The open-data catalog (OPEN-1): published entries whose open class is not `closed` (`at`,
        `as_known_at`: as in force then, as known then)."""
        rt = runtime_of(request)
        queries = rt.catalog_queries
        cut: dict[str, Any] = {}
        if at is not None or as_known_at is not None:
            position, replica, cut = as_of(request, at, as_known_at)
            queries = CatalogQueries(replica, rt.settings.overdue_grace_days)
        else:
            position = wait_for_position(request, "catalog")
        rows, next_cursor = queries.open_catalog(limit=limit, cursor=cursor, q=q)
        return Response({"items": rows, "next_cursor": next_cursor, **cut, "position": position})

    @post("/entries", sync_to_thread=True, status_code=201)
    def draft(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], data: JSONBody[DraftBody]) -> Response[EntryAnswer]:
        """Drafts a new entry (catalog_compiler of the provider)."""
        rt = runtime_of(request)
        result = rt.catalog.draft(principal, command(request, "catalog.draft", data),
                                  resource_code=data.resource_code, content=data.content, provider=data.provider)
        return answer(result, location=f"/catalog/entries/{result.aggregate_id}")

    @put("/entries/{entry_id:uuid}", sync_to_thread=True)
    def revise_draft(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], entry_id: FromPath[UUID],
                     data: JSONBody[ContentBody]) -> Response[EntryAnswer]:
        """Replaces the content of a drafted or returned version."""
        rt = runtime_of(request)
        return answer(rt.catalog.revise_draft(principal, command(request, "catalog.revise_draft", data), entry_id,
                                              content=data.content))

    @post("/entries/{entry_id:uuid}/submit", sync_to_thread=True, status_code=200)
    def submit(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], entry_id: FromPath[UUID]) -> Response[EntryAnswer]:
        rt = runtime_of(request)
        return answer(rt.catalog.submit(principal, command(request, "catalog.submit"), entry_id))

    @post("/entries/{entry_id:uuid}/review", sync_to_thread=True, status_code=200)
    def review(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], entry_id: FromPath[UUID],
               data: JSONBody[ReviewBody]) -> Response[EntryAnswer]:
        """Records the three checks of 第十条 and approves or returns the submitted version."""
        rt = runtime_of(request)
        review = Review(accuracy=data.accuracy, completeness=data.completeness, compliance=data.compliance)
        return answer(rt.catalog.review(principal, command(request, "catalog.review", data), entry_id,
                                        review=review, decision=data.decision))

    @post("/entries/{entry_id:uuid}/accept-duplicate", sync_to_thread=True, status_code=200)
    def accept_duplicate(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], entry_id: FromPath[UUID],
                         data: JSONBody[AcceptDuplicateBody]) -> Response[EntryAnswer]:
        """The Office accepts the justification for collecting a datum another entry provides (CAT-5)."""
        rt = runtime_of(request)
        return answer(rt.catalog.accept_duplicate(principal, command(request, "catalog.accept_duplicate", data),
                                                  entry_id, item_code=data.item_code))

    @post("/entries/{entry_id:uuid}/publish", sync_to_thread=True, status_code=200)
    def publish(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], entry_id: FromPath[UUID],
                data: JSONBody[PublishBody | None] = None) -> Response[EntryAnswer]:
        rt = runtime_of(request)
        body = data or PublishBody()
        return answer(rt.catalog.publish(principal, command(request, "catalog.publish", body), entry_id,
                                         published_on=body.published_on))

    @get("/entries/{entry_id:uuid}/impact", sync_to_thread=True)
    def impact(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
               entry_id: FromPath[UUID]) -> Response[ImpactAnswer]:
        """The Office, before publishing the pending version: the live grants it would affect and how (fields
        removed, share class tightened, delivery method withdrawn; not shareable suspends them, SHR-4)."""
        rt = runtime_of(request)
        return Response(rt.catalog.impact(principal, entry_id))

    @post("/entries/{entry_id:uuid}/effective-date", sync_to_thread=True, status_code=200)
    def correct_effective_date(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
                               entry_id: FromPath[UUID], data: JSONBody[EffectiveDateBody]) -> Response[EntryAnswer]:
        """The Office dates a published version from when it really took effect (a correction, TIME-1 … TIME-3)."""
        rt = runtime_of(request)
        return answer(rt.catalog.correct_effective_date(principal, command(request, "catalog.correct_effective_date",
                                                                           data), entry_id, version=data.version,
                                                        effective_on=data.effective_on, reason=data.reason))

    @post("/entries/{entry_id:uuid}/revise", sync_to_thread=True, status_code=200)
    def revise(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], entry_id: FromPath[UUID],
               data: JSONBody[ContentBody]) -> Response[EntryAnswer]:
        """Opens a new version of a published entry, reviewed again (CAT-6)."""
        rt = runtime_of(request)
        return answer(rt.catalog.revise(principal, command(request, "catalog.revise", data), entry_id,
                                        content=data.content))

    @post("/entries/{entry_id:uuid}/refresh", sync_to_thread=True, status_code=200)
    def refresh(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], entry_id: FromPath[UUID],
                data: JSONBody[RefreshBody]) -> Response[EntryAnswer]:
        """Records that the provider refreshed the data (resets the CAT-7 clock)."""
        rt = runtime_of(request)
        return answer(rt.catalog.record_refresh(principal, command(request, "catalog.refresh", data), entry_id,
                                                as_of=data.as_of))

    @post("/entries/{entry_id:uuid}/retire", sync_to_thread=True, status_code=200)
    def retire(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], entry_id: FromPath[UUID],
               data: JSONBody[RetireBody]) -> Response[EntryAnswer]:
        rt = runtime_of(request)
        return answer(rt.catalog.retire(principal, command(request, "catalog.retire", data), entry_id,
                                        reason=data.reason))
