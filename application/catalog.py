"""Use cases of the catalog: compile, submit, review, publish, revise and retire entries."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import msgspec

from application.common import (
    Command,
    CommandResult,
    ContextMaker,
    Forbidden,
    NotFound,
    Principal,
    Service,
)
from domain.base import Context, ledger_date
from domain.catalog import SOURCE_INDEX_ID, CatalogEntry, SourceIndex, Version
from domain.catalog_values import EntryContent, Review, ReviewDecision, ShareClass
from domain.grant_reviews import GrantImpact, GrantReview, impact_of
from domain.grant_status import GrantState
from domain.organizations import Organization, Role, organization_id
from domain.rules import RuleViolation

if TYPE_CHECKING:
    from application.sharing import SharingService
    from domain.grants import Grant


class VersionAnswer(msgspec.Struct, frozen=True):
    number: int
    state: str
    compiler: str
    content: EntryContent
    review: Review | None = None
    reviewer: str | None = None
    accepted_duplicates: dict[str, str] = {}
    published_on: date | None = None


class EntryAnswer(msgspec.Struct, frozen=True):
    id: str
    resource_code: str
    provider: str
    provider_level: str
    status: str
    version: int
    current: VersionAnswer | None
    pending: VersionAnswer | None
    last_updated: datetime | None


def _version(v: Version | None) -> VersionAnswer | None:
    if v is None:
        return None
    return VersionAnswer(
        number=v.number, state=str(v.state), compiler=v.compiler, content=v.content, review=v.review,
        reviewer=v.reviewer, accepted_duplicates=dict(v.accepted_duplicates), published_on=v.published_on,
    )


def answer(e: CatalogEntry) -> EntryAnswer:
    return EntryAnswer(
        id=str(e.id), resource_code=e.resource_code, provider=e.provider, provider_level=str(e.provider_level),
        status=e.status, version=e.version, current=_version(e.current), pending=_version(e.pending),
        last_updated=e.last_updated,
    )


class ImpactRow(msgspec.Struct, frozen=True):
    """One live grant a revision affects: how, and whether publication suspends it at once (SHR-4)."""

    grant_id: UUID
    holder: str
    status: str
    how: tuple[str, ...]
    fields_removed: tuple[str, ...] = ()
    share_class_from: str | None = None
    share_class_to: str | None = None
    method_withdrawn: str | None = None
    suspended: bool = False


class ImpactAnswer(msgspec.Struct, frozen=True):
    entry_id: str
    resource_code: str
    current_version: int | None
    pending_version: int | None
    pending_state: str | None
    at: datetime
    grants: tuple[ImpactRow, ...]


COMPILER = (Role.CATALOG_COMPILER,)
#: A caller holding both acts as the Office, which reviews, publishes and retires any entry (decision 0018).
REVIEWER = (Role.OFFICE_ADMIN, Role.CATALOG_REVIEWER)


class CatalogService(Service):
    def __init__(self, *args: Any, sharing: SharingService | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sharing = sharing

    def _suspend_grants(self, ctx: Context, entry: CatalogEntry, reason: str) -> list[Grant]:
        """Retiring an entry, or making it not shareable, suspends the grants on it (SHR-4)."""
        if self.sharing is None:
            return []
        return self.sharing.grants_suspended_for_catalog(ctx, entry.id, reason)

    def draft(self, p: Principal, cmd: Command, *, resource_code: str, content: EntryContent,
              provider: str | None = None) -> CommandResult:
        def decide(context: ContextMaker) -> tuple[list[CatalogEntry], EntryAnswer]:
            ctx = context(self.actor(p, COMPILER))
            code = provider or p.acting_for
            try:
                org = self.get(Organization, organization_id(code))
            except NotFound:
                raise RuleViolation("ORG-1", f"The provider {code} is not a registered organization.") from None
            entry = CatalogEntry.draft(ctx, resource_code=resource_code, provider=org.code,
                                       provider_level=org.level, content=content)
            return [entry], answer(entry)

        return self.execute(p, cmd, decide, status=201)

    def revise_draft(self, p: Principal, cmd: Command, entry: UUID, *, content: EntryContent) -> CommandResult:
        return self._on(p, cmd, entry, COMPILER, lambda e, ctx: e.revise_draft(ctx, content=content))

    def submit(self, p: Principal, cmd: Command, entry: UUID) -> CommandResult:
        def act(e: CatalogEntry, ctx: Context) -> None:
            e.submit(ctx, existing_sources=self._index().sources_other_than(e.resource_code))

        return self._on(p, cmd, entry, COMPILER, act)

    def review(self, p: Principal, cmd: Command, entry: UUID, *, review: Review, decision: ReviewDecision) -> CommandResult:
        return self._on(p, cmd, entry, REVIEWER, lambda e, ctx: e.review(ctx, review=review, decision=decision))

    def accept_duplicate(self, p: Principal, cmd: Command, entry: UUID, *, item_code: str) -> CommandResult:
        def act(e: CatalogEntry, ctx: Context) -> None:
            source = self._index().sources_other_than(e.resource_code).get(item_code)
            if source is None:
                raise RuleViolation("CAT-5", f"No other published entry provides {item_code}; nothing to accept.")
            e.accept_duplicate_source(ctx, item_code=item_code, existing_source=source)

        return self._on(p, cmd, entry, (Role.OFFICE_ADMIN,), act)

    def publish(self, p: Principal, cmd: Command, entry: UUID, *, published_on: date | None = None) -> CommandResult:
        def decide(context: ContextMaker) -> tuple[list[CatalogEntry | SourceIndex | Grant | GrantReview], EntryAnswer]:
            ctx = context(self.actor(p, REVIEWER))
            e = self.get(CatalogEntry, entry, expected_version=cmd.expected_version)
            index = self._index(ctx)
            before = e.current.content if e.current is not None else None
            live = [GrantState.from_grant(g) for g in self.sharing.live_grants_on_entry(e.id)] if self.sharing and before else []
            e.publish(ctx, published_on=published_on or ledger_date(ctx.at),
                      existing_sources=index.sources_other_than(e.resource_code))
            index.claim(ctx, e)
            assert e.current is not None
            grants: list[Grant] = []
            if e.current.content.share_class == ShareClass.NOT_SHAREABLE:
                grants = self._suspend_grants(ctx, e, f"{e.resource_code} v{e.current.number} is not shareable")
            states = {g.grant_id: g for g in live}
            reviews = [GrantReview.open(ctx, impact=i, grant=states[i.grant_id], entry_id=e.id,
                                        resource_code=e.resource_code, entry_version=e.current.number)
                       for i in impact_of(before, e.current.content, live, ctx.at)]
            return [e, index, *grants, *reviews], answer(e)

        return self.execute(p, cmd, decide)

    def correct_effective_date(self, p: Principal, cmd: Command, entry: UUID, *, version: int, effective_on: date,
                               reason: str) -> CommandResult:
        """Dates a published version from when it really took effect (TIME-1 … TIME-3)."""
        return self._on(p, cmd, entry, (Role.OFFICE_ADMIN,), lambda e, ctx: e.correct_effective_date(
            ctx, version=version, effective_on=effective_on, reason=reason))

    def revise(self, p: Principal, cmd: Command, entry: UUID, *, content: EntryContent) -> CommandResult:
        return self._on(p, cmd, entry, COMPILER, lambda e, ctx: e.revise(ctx, content=content))

    def record_refresh(self, p: Principal, cmd: Command, entry: UUID, *, as_of: datetime) -> CommandResult:
        return self._on(p, cmd, entry, (Role.CATALOG_COMPILER, Role.SYSTEM_MANAGER, Role.OFFICE_ADMIN),
                        lambda e, ctx: e.record_refresh(ctx, as_of=as_of))

    def retire(self, p: Principal, cmd: Command, entry: UUID, *, reason: str) -> CommandResult:
        def decide(context: ContextMaker) -> tuple[list[CatalogEntry | SourceIndex | Grant], EntryAnswer]:
            ctx = context(self.actor(p, REVIEWER))
            e = self.get(CatalogEntry, entry, expected_version=cmd.expected_version)
            e.retire(ctx, reason=reason)
            index = self._index(ctx)
            index.release(ctx, e)
            grants = self._suspend_grants(ctx, e, f"{e.resource_code} was retired: {reason}")
            return [e, index, *grants], answer(e)

        return self.execute(p, cmd, decide)

    def impact(self, p: Principal, entry: UUID) -> ImpactAnswer:
        """The live grants the entry's pending version would affect if published now, and how (the Office's)."""
        if not p.is_office:
            raise Forbidden("The impact of a catalog revision on live grants is the Office's to see.")
        e = self.get(CatalogEntry, entry)
        now = self.clock.now()
        pending = e.pending
        impacts: tuple[GrantImpact, ...] = ()
        if pending is not None and e.current is not None and self.sharing is not None:
            live = [GrantState.from_grant(g) for g in self.sharing.live_grants_on_entry(e.id)]
            impacts = impact_of(e.current.content, pending.content, live, now)
        return ImpactAnswer(
            entry_id=str(e.id), resource_code=e.resource_code,
            current_version=e.current.number if e.current else None,
            pending_version=pending.number if pending else None,
            pending_state=str(pending.state) if pending else None, at=now,
            grants=tuple(ImpactRow(how=i.how, **msgspec.structs.asdict(i)) for i in impacts),
        )

    def load(self, entry: UUID) -> CatalogEntry:
        return self.get(CatalogEntry, entry)

    # -- helpers ----------------------------------------------------------------------------

    def _on(self, p: Principal, cmd: Command, entry: UUID, roles: tuple[Role, ...], act: object) -> CommandResult:
        def decide(context: ContextMaker) -> tuple[list[CatalogEntry], EntryAnswer]:
            ctx = context(self.actor(p, roles))
            e = self.get(CatalogEntry, entry, expected_version=cmd.expected_version)
            act(e, ctx)  # type: ignore[operator]
            return [e], answer(e)

        return self.execute(p, cmd, decide)

    def _index(self, ctx: Context | None = None) -> SourceIndex:
        try:
            return self.get(SourceIndex, SOURCE_INDEX_ID)
        except NotFound:
            if ctx is None:
                return SourceIndex.__new__(SourceIndex)._empty()
            return SourceIndex.open(ctx)
