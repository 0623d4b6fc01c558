"""HTTP routes of the catalog context: thin, one application call each."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery

from api.contract import Page
from api.deps import Reads
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
from api.routes import Decisions, Rows, page
from api.state import Past
from application.catalog import CatalogService, EntryAnswer, ImpactAnswer
from application.common import Principal
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


decide = Decisions("catalog", CatalogService, EntryAnswer, entry_id=FromPath[UUID])


entries = Rows("catalog_queries", CatalogQueries, "catalog", key=str, entry_id=FromPath[UUID])


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
        return page(rows, next_cursor, position, cut)

    get_entry = entries("/entries/{entry_id:uuid}", CatalogQueries.get, EntryDetail, "No catalog entry {entry_id}.",
                        now=True,
                        doc="One entry with its current and pending versions; its ETag is the entry's version.")

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
        return page(rows, next_cursor, position, cut)

    draft = decide("/entries", CatalogService.draft, "catalog.draft", DraftBody, status_code=201,
                   location="/catalog/entries/{aggregate_id}",
                   doc="Drafts a new entry (catalog_compiler of the provider).")
    revise_draft = decide("/entries/{entry_id:uuid}", CatalogService.revise_draft, "catalog.revise_draft", ContentBody,
                          http="PUT", doc="Replaces the content of a drafted or returned version.")
    submit = decide("/entries/{entry_id:uuid}/submit", CatalogService.submit, "catalog.submit")
    review = decide("/entries/{entry_id:uuid}/review", CatalogService.review, "catalog.review", ReviewBody,
                    args=lambda b: {"review": Review(accuracy=b.accuracy, completeness=b.completeness,
                                                     compliance=b.compliance), "decision": b.decision},
                    doc="Records the three checks of 第十条 and approves or returns the submitted version.")
    accept_duplicate = decide(
        "/entries/{entry_id:uuid}/accept-duplicate", CatalogService.accept_duplicate, "catalog.accept_duplicate",
        AcceptDuplicateBody,
        doc="The Office accepts the justification for collecting a datum another entry provides (CAT-5).")
    publish = decide("/entries/{entry_id:uuid}/publish", CatalogService.publish, "catalog.publish", PublishBody,
                     optional=True)

    @get("/entries/{entry_id:uuid}/impact", sync_to_thread=True)
    def impact(self, principal: NamedDependency[Principal], catalog: NamedDependency[CatalogService],
               entry_id: FromPath[UUID]) -> Response[ImpactAnswer]:
        """The Office, before publishing the pending version: the live grants it would affect and how (fields
        removed, share class tightened, delivery method withdrawn; not shareable suspends them, SHR-4)."""
        return Response(catalog.impact(principal, entry_id))

    correct_effective_date = decide(
        "/entries/{entry_id:uuid}/effective-date", CatalogService.correct_effective_date,
        "catalog.correct_effective_date", EffectiveDateBody,
        doc="The Office dates a published version from when it really took effect (a correction, TIME-1 … TIME-3).")
    revise = decide("/entries/{entry_id:uuid}/revise", CatalogService.revise, "catalog.revise", ContentBody,
                    doc="Opens a new version of a published entry, reviewed again (CAT-6).")
    refresh = decide("/entries/{entry_id:uuid}/refresh", CatalogService.record_refresh, "catalog.refresh", RefreshBody,
                     doc="Records that the provider refreshed the data (resets the CAT-7 clock).")
    retire = decide("/entries/{entry_id:uuid}/retire", CatalogService.retire, "catalog.retire", ReasonBody)
