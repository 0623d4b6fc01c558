"""HTTP routes of the catalog context: thin, one application call each."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from api.contract import Page
from api.deps import Envelope, Reads, answer
from api.params import (
    AsKnownAtQuery,
    AtQuery,
    CodeQuery,
    CursorQuery,
    Instant,
    Limit,
    OrgQuery,
    ReasonBody,
    TextQuery,
    plain,
)
from api.state import Past
from application.catalog import CatalogService, EntryAnswer, ImpactAnswer
from application.common import NotFound, Principal
from domain.catalog_values import Check, EntryContent, OpenClass, Review, ReviewDecision, ShareClass
from domain.limits import Code, OrgCode, Text
from infrastructure.config import Settings
from projections.catalog_queries import (
    CatalogFilter,
    CatalogQueries,
    EntryDetail,
    EntryRow,
    OpenEntryRow,
)
from projections.scope import Scope


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


EntryStatus = Literal["drafted", "submitted", "returned", "approved", "published", "revising", "retired"]
"""The status an entry is listed under (`published` and `revising` both have a version in force)."""


class CatalogController(Controller):
    path = "/catalog"
    tags = ["catalog"]

    @get("/entries", sync_to_thread=True)
    def list_entries(
        self, principal: NamedDependency[Principal], catalog_queries: NamedDependency[CatalogQueries],
        reads: NamedDependency[Reads], past: NamedDependency[Past], settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
        provider: OrgQuery = None, status: FromQuery[EntryStatus | None] = None,
        share_class: FromQuery[ShareClass | None] = None, open_class: FromQuery[OpenClass | None] = None,
        item_code: CodeQuery = None, q: TextQuery = None,
        overdue: FromQuery[bool | None] = None, limit: Limit = 50, cursor: CursorQuery = None,
        at: AtQuery = None, as_known_at: AsKnownAtQuery = None,
    ) -> Response[Page[EntryRow]]:
        """The current catalog, filtered and paged; with `at` and/or `as_known_at`, the catalog as in force at `at`
        as known at `as_known_at` (see `/state`)."""
        queries, position, cut = past.or_live(at, as_known_at, reads, catalog_queries,
                                              lambda db: CatalogQueries(db, settings.overdue_grace_days), "catalog")
        now = cut.get("at", now)
        rows, next_cursor = queries.list(
            CatalogFilter(provider=provider, status=plain(status), share_class=plain(share_class),
                          open_class=plain(open_class),
                          item_code=item_code, q=q, overdue=overdue),
            scope=Scope.of(principal), now=now, limit=limit, cursor=cursor,
        )
        return Response({"items": rows, "next_cursor": next_cursor, **cut, "position": position})

    @get("/entries/{entry_id:uuid}", sync_to_thread=True)
    def get_entry(self, principal: NamedDependency[Principal], catalog_queries: NamedDependency[CatalogQueries],
                  reads: NamedDependency[Reads], now: NamedDependency[datetime],
                  entry_id: FromPath[UUID]) -> Response[EntryDetail]:
        """One entry with its current and pending versions; its ETag is the entry's version."""
        reads.wait("catalog")
        row = catalog_queries.get(str(entry_id), scope=Scope.of(principal), now=now)
        if row is None:
            raise NotFound(f"No catalog entry {entry_id}.")
        return Response(row, headers={"ETag": f'"{row.version}"'})

    @get("/open", sync_to_thread=True)
    def open_catalog(self, principal: NamedDependency[Principal], catalog_queries: NamedDependency[CatalogQueries],
                     reads: NamedDependency[Reads], past: NamedDependency[Past], settings: NamedDependency[Settings],
                     limit: Limit = 50, cursor: CursorQuery = None, q: TextQuery = None,
                     at: AtQuery = None, as_known_at: AsKnownAtQuery = None) -> Response[Page[OpenEntryRow]]:
        """The open-data catalog (OPEN-1): published entries whose open class is not `closed` (`at`,
        `as_known_at`: as in force then, as known then)."""
        queries, position, cut = past.or_live(at, as_known_at, reads, catalog_queries,
                                              lambda db: CatalogQueries(db, settings.overdue_grace_days), "catalog")
        rows, next_cursor = queries.open_catalog(limit=limit, cursor=cursor, q=q)
        return Response({"items": rows, "next_cursor": next_cursor, **cut, "position": position})

    @post("/entries", sync_to_thread=True, status_code=201)
    def draft(self, principal: NamedDependency[Principal], catalog: NamedDependency[CatalogService],
              envelope: NamedDependency[Envelope], data: JSONBody[DraftBody]) -> Response[EntryAnswer]:
        """Drafts a new entry (catalog_compiler of the provider)."""
        result = catalog.draft(principal, envelope.command("catalog.draft", data),
                               resource_code=data.resource_code, content=data.content, provider=data.provider)
        return answer(result, location=f"/catalog/entries/{result.aggregate_id}")

    @put("/entries/{entry_id:uuid}", sync_to_thread=True)
    def revise_draft(self, principal: NamedDependency[Principal], catalog: NamedDependency[CatalogService],
                     envelope: NamedDependency[Envelope], entry_id: FromPath[UUID],
                     data: JSONBody[ContentBody]) -> Response[EntryAnswer]:
        """Replaces the content of a drafted or returned version."""
        return answer(catalog.revise_draft(principal, envelope.command("catalog.revise_draft", data), entry_id,
                                           content=data.content))

    @post("/entries/{entry_id:uuid}/submit", sync_to_thread=True, status_code=200)
    def submit(self, principal: NamedDependency[Principal], catalog: NamedDependency[CatalogService],
               envelope: NamedDependency[Envelope], entry_id: FromPath[UUID]) -> Response[EntryAnswer]:
        return answer(catalog.submit(principal, envelope.command("catalog.submit"), entry_id))

    @post("/entries/{entry_id:uuid}/review", sync_to_thread=True, status_code=200)
    def review(self, principal: NamedDependency[Principal], catalog: NamedDependency[CatalogService],
               envelope: NamedDependency[Envelope], entry_id: FromPath[UUID],
               data: JSONBody[ReviewBody]) -> Response[EntryAnswer]:
        """Records the three checks of 第十条 and approves or returns the submitted version."""
        review = Review(accuracy=data.accuracy, completeness=data.completeness, compliance=data.compliance)
        return answer(catalog.review(principal, envelope.command("catalog.review", data), entry_id,
                                     review=review, decision=data.decision))

    @post("/entries/{entry_id:uuid}/accept-duplicate", sync_to_thread=True, status_code=200)
    def accept_duplicate(self, principal: NamedDependency[Principal], catalog: NamedDependency[CatalogService],
                         envelope: NamedDependency[Envelope], entry_id: FromPath[UUID],
                         data: JSONBody[AcceptDuplicateBody]) -> Response[EntryAnswer]:
        """The Office accepts the justification for collecting a datum another entry provides (CAT-5)."""
        return answer(catalog.accept_duplicate(principal, envelope.command("catalog.accept_duplicate", data),
                                               entry_id, item_code=data.item_code))

    @post("/entries/{entry_id:uuid}/publish", sync_to_thread=True, status_code=200)
    def publish(self, principal: NamedDependency[Principal], catalog: NamedDependency[CatalogService],
                envelope: NamedDependency[Envelope], entry_id: FromPath[UUID],
                data: JSONBody[PublishBody | None] = None) -> Response[EntryAnswer]:
        body = data or PublishBody()
        return answer(catalog.publish(principal, envelope.command("catalog.publish", body), entry_id,
                                      published_on=body.published_on))

    @get("/entries/{entry_id:uuid}/impact", sync_to_thread=True)
    def impact(self, principal: NamedDependency[Principal], catalog: NamedDependency[CatalogService],
               entry_id: FromPath[UUID]) -> Response[ImpactAnswer]:
        """The Office, before publishing the pending version: the live grants it would affect and how (fields
        removed, share class tightened, delivery method withdrawn; not shareable suspends them, SHR-4)."""
        return Response(catalog.impact(principal, entry_id))

    @post("/entries/{entry_id:uuid}/effective-date", sync_to_thread=True, status_code=200)
    def correct_effective_date(self, principal: NamedDependency[Principal], catalog: NamedDependency[CatalogService],
                               envelope: NamedDependency[Envelope], entry_id: FromPath[UUID],
                               data: JSONBody[EffectiveDateBody]) -> Response[EntryAnswer]:
        """The Office dates a published version from when it really took effect (a correction, TIME-1 … TIME-3)."""
        return answer(catalog.correct_effective_date(principal, envelope.command("catalog.correct_effective_date", data),
                                                     entry_id, version=data.version, effective_on=data.effective_on,
                                                     reason=data.reason))

    @post("/entries/{entry_id:uuid}/revise", sync_to_thread=True, status_code=200)
    def revise(self, principal: NamedDependency[Principal], catalog: NamedDependency[CatalogService],
               envelope: NamedDependency[Envelope], entry_id: FromPath[UUID],
               data: JSONBody[ContentBody]) -> Response[EntryAnswer]:
        """Opens a new version of a published entry, reviewed again (CAT-6)."""
        return answer(catalog.revise(principal, envelope.command("catalog.revise", data), entry_id,
                                     content=data.content))

    @post("/entries/{entry_id:uuid}/refresh", sync_to_thread=True, status_code=200)
    def refresh(self, principal: NamedDependency[Principal], catalog: NamedDependency[CatalogService],
                envelope: NamedDependency[Envelope], entry_id: FromPath[UUID],
                data: JSONBody[RefreshBody]) -> Response[EntryAnswer]:
        """Records that the provider refreshed the data (resets the CAT-7 clock)."""
        return answer(catalog.record_refresh(principal, envelope.command("catalog.refresh", data), entry_id,
                                             as_of=data.as_of))

    @post("/entries/{entry_id:uuid}/retire", sync_to_thread=True, status_code=200)
    def retire(self, principal: NamedDependency[Principal], catalog: NamedDependency[CatalogService],
               envelope: NamedDependency[Envelope], entry_id: FromPath[UUID],
               data: JSONBody[ReasonBody]) -> Response[EntryAnswer]:
        return answer(catalog.retire(principal, envelope.command("catalog.retire", data), entry_id,
                                     reason=data.reason))
