"""数据资源目录条目: a catalog entry and its lifecycle (CAT-1 … CAT-7, OPEN-1)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import msgspec

from domain.base import Actor, Context, LedgerAggregate, check_calendar
from domain.catalog_values import (
    EntryContent,
    Review,
    ReviewDecision,
    VersionState,
)
from domain.organizations import Level, Role, is_office
from domain.rules import InvalidTransition, RuleViolation
from domain.time_axes import check_dated_correction, require_backdating_office


def entry_id(resource_code: str) -> UUID:
    """Entry ids derive from the unique resource code, so a code is catalogued at most once."""
    return uuid5(NAMESPACE_URL, f"civic-ledger:catalog-entry:{resource_code}")


class Version(msgspec.Struct):
    """One version of an entry as it moves through compile, review and publication.

    `compiler` is who opened the version; `compilers` is everyone who drafted, revised or submitted
    it, in order of first appearance: none of them may review it (CAT-2).
    """

    number: int
    content: EntryContent
    state: VersionState
    compiler: str
    review: Review | None = None
    reviewer: str | None = None
    accepted_duplicates: dict[str, str] = {}
    published_on: date | None = None
    compilers: tuple[str, ...] = ()

    def compiled_by(self, person: str) -> None:
        if person and person not in self.compilers:
            self.compilers = (*self.compilers, person)


class CatalogEntry(LedgerAggregate):
    """数据资源目录条目: a data resource of a provider, published after review."""

    TOPIC = "civic-ledger:CatalogEntry"

    class Created(LedgerAggregate.Created):
        TOPIC = "civic-ledger:CatalogEntry.Created"
    KIND = "catalog-entry"

    class Drafted(Created):
        TOPIC = "civic-ledger:CatalogEntry.Drafted"
        resource_code: str
        provider: str
        provider_level: Level
        content: EntryContent

    class DraftRevised(LedgerAggregate.Event):
        TOPIC = "civic-ledger:CatalogEntry.DraftRevised"
        version: int
        content: EntryContent

        def apply(self, e: CatalogEntry) -> None:
            assert e.pending is not None
            e.pending.content = self.content
            e.pending.state = VersionState.DRAFTED
            e.pending.accepted_duplicates = {}
            e.pending.compiled_by(self.actor.person)

    class Submitted(LedgerAggregate.Event):
        TOPIC = "civic-ledger:CatalogEntry.Submitted"
        version: int

        def apply(self, e: CatalogEntry) -> None:
            assert e.pending is not None
            e.pending.state = VersionState.SUBMITTED
            e.pending.compiled_by(self.actor.person)

    class Reviewed(LedgerAggregate.Event):
        TOPIC = "civic-ledger:CatalogEntry.Reviewed"
        version: int
        review: Review
        decision: ReviewDecision

        def apply(self, e: CatalogEntry) -> None:
            assert e.pending is not None
            e.pending.review = self.review
            e.pending.reviewer = self.actor.person
            e.pending.state = (
                VersionState.APPROVED if self.decision == ReviewDecision.APPROVE else VersionState.RETURNED
            )

    class DuplicateSourceAccepted(LedgerAggregate.Event):
        TOPIC = "civic-ledger:CatalogEntry.DuplicateSourceAccepted"
        version: int
        item_code: str
        existing_source: str

        def apply(self, e: CatalogEntry) -> None:
            assert e.pending is not None
            e.pending.accepted_duplicates = {**e.pending.accepted_duplicates, self.item_code: self.existing_source}

    class Published(LedgerAggregate.Event):
        TOPIC = "civic-ledger:CatalogEntry.Published"
        version: int
        published_on: date
        content: EntryContent

        def apply(self, e: CatalogEntry) -> None:
            assert e.pending is not None
            if e.current is not None:
                e.current.state = VersionState.SUPERSEDED
                e.history.append(e.current)
            e.pending.state = VersionState.PUBLISHED
            e.pending.published_on = self.published_on
            e.current, e.pending = e.pending, None
            e.published_events[self.version] = self.originator_version
            published = datetime.combine(self.published_on, time(), tzinfo=UTC)
            e.last_updated = max(e.last_updated, published) if e.last_updated else published

    class EffectiveDateCorrected(LedgerAggregate.Event):
        """A published version really took effect on `effective_on`, earlier than recorded (a correction)."""

        TOPIC = "civic-ledger:CatalogEntry.EffectiveDateCorrected"
        version: int
        effective_on: date
        reason: str
        corrects: str
        corrects_version: int

        def apply(self, e: CatalogEntry) -> None:
            for v in (*e.history, e.current):
                if v is not None and v.number == self.version:
                    v.published_on = self.effective_on

    class RevisionStarted(LedgerAggregate.Event):
        TOPIC = "civic-ledger:CatalogEntry.RevisionStarted"
        version: int
        content: EntryContent

        def apply(self, e: CatalogEntry) -> None:
            e.pending = Version(self.version, self.content, VersionState.DRAFTED, self.actor.person,
                                compilers=(self.actor.person,))

    class DataRefreshed(LedgerAggregate.Event):
        TOPIC = "civic-ledger:CatalogEntry.DataRefreshed"
        as_of: datetime

        def apply(self, e: CatalogEntry) -> None:
            e.last_updated = max(e.last_updated or self.as_of, self.as_of)

    class Retired(LedgerAggregate.Event):
        TOPIC = "civic-ledger:CatalogEntry.Retired"
        reason: str

        def apply(self, e: CatalogEntry) -> None:
            e.retired = True
            e.pending = None

    def __init__(
        self, resource_code: str, provider: str, provider_level: Level, content: EntryContent,
        actor: Actor | None = None, **_: Any,
    ) -> None:
        # The library passes __init__ only the event fields it names, so `actor` must be named here.
        self.resource_code = resource_code
        self.provider = provider
        self.provider_level = Level(provider_level)
        compiler = actor.person if actor else ""
        self.pending: Version | None = Version(1, content, VersionState.DRAFTED, compiler,
                                               compilers=(compiler,) if compiler else ())
        self.current: Version | None = None
        self.history: list[Version] = []
        self.retired = False
        self.last_updated: datetime | None = None
        self.published_events: dict[int, int] = {}

    # -- commands -------------------------------------------------------------------------

    @classmethod
    def draft(
        cls, ctx: Context, *, resource_code: str, provider: str, provider_level: Level, content: EntryContent
    ) -> CatalogEntry:
        if not resource_code.strip():
            raise InvalidTransition("An entry needs a resource code.")
        _require_compiler(ctx, provider)
        content.validate()
        return cls._start(
            cls.Drafted, ctx, id=entry_id(resource_code),
            resource_code=resource_code, provider=provider, provider_level=provider_level, content=content,
        )

    def revise_draft(self, ctx: Context, *, content: EntryContent) -> None:
        pending = self._pending_in(VersionState.DRAFTED, VersionState.RETURNED)
        _require_compiler(ctx, self.provider)
        content.validate()
        self._record(self.DraftRevised, ctx, version=pending.number, content=content)

    def submit(self, ctx: Context, *, existing_sources: Mapping[str, str]) -> None:
        pending = self._pending_in(VersionState.DRAFTED, VersionState.RETURNED)
        _require_compiler(ctx, self.provider)
        pending.content.validate()
        for item in pending.content.data_items:
            source = existing_sources.get(item.code)
            if source is not None and not (item.duplicate_justification or "").strip():
                raise RuleViolation(
                    "CAT-5",
                    f"Data item {item.code} is already provided by published entry {source}; "
                    "state a justification for collecting it again.",
                    item_code=item.code, existing_source=source,
                )
        self._record(self.Submitted, ctx, version=pending.number)

    def review(self, ctx: Context, *, review: Review, decision: ReviewDecision) -> None:
        pending = self._pending_in(VersionState.SUBMITTED)
        is_provider_reviewer = ctx.actor.acting_for == self.provider and ctx.actor.role == Role.CATALOG_REVIEWER
        if not (is_provider_reviewer or is_office(ctx)):
            raise RuleViolation("CAT-2", "Entries are reviewed by a designated catalog reviewer of the provider, or by the Office.")
        if ctx.actor.person in pending.compilers:
            raise RuleViolation("CAT-2", f"{ctx.actor.person} compiled version {pending.number} and may not review it.")
        if decision == ReviewDecision.APPROVE and not review.all_passed():
            raise RuleViolation(
                "CAT-1", f"Cannot approve: the review failed {', '.join(review.failed())}.",
                failed=list(review.failed()),
            )
        self._record(self.Reviewed, ctx, version=pending.number, review=review, decision=decision)

    def accept_duplicate_source(self, ctx: Context, *, item_code: str, existing_source: str) -> None:
        pending = self._pending_in(VersionState.SUBMITTED, VersionState.APPROVED)
        if not is_office(ctx):
            raise RuleViolation("CAT-5", "Only the Office accepts a justification for collecting a datum again.")
        item = next((i for i in pending.content.data_items if i.code == item_code), None)
        if item is None:
            raise InvalidTransition(f"Version {pending.number} has no data item {item_code}.")
        if not (item.duplicate_justification or "").strip():
            raise RuleViolation("CAT-5", f"Data item {item_code} states no justification to accept.")
        self._record(self.DuplicateSourceAccepted, ctx, version=pending.number, item_code=item_code, existing_source=existing_source)

    def publish(self, ctx: Context, *, published_on: date, existing_sources: Mapping[str, str]) -> None:
        if self.retired:
            raise InvalidTransition("A retired entry is not published again.")
        check_calendar(published_on=published_on)
        pending = self.pending
        if pending is None or pending.state != VersionState.APPROVED or pending.review is None or not pending.review.all_passed():
            state = pending.state if pending else "none"
            raise RuleViolation("CAT-1", f"Only an approved version whose review passed all three checks is published (pending version: {state}).")
        if self.provider_level == Level.PROVINCE:
            if not is_office(ctx):
                raise RuleViolation("CAT-3", "Provincial-level entries are published by the Office only.")
        elif not (is_office(ctx) or (ctx.actor.acting_for == self.provider and ctx.actor.role == Role.CATALOG_REVIEWER)):
            raise RuleViolation("CAT-2", "Entries are published by the provider's designated reviewer or by the Office.")
        for code in pending.content.item_codes():
            source = existing_sources.get(code)
            if source is not None and code not in pending.accepted_duplicates:
                raise RuleViolation(
                    "CAT-5",
                    f"Data item {code} is already provided by published entry {source}; the Office has not accepted collecting it again.",
                    item_code=code, existing_source=source,
                )
        self._record(self.Published, ctx, version=pending.number, published_on=published_on, content=pending.content)

    def correct_effective_date(self, ctx: Context, *, version: int, effective_on: date, reason: str) -> None:
        """Dates a published version from when it really took effect (TIME-1 … TIME-3); never rewrites its publication."""
        require_backdating_office(ctx, "dates a catalog revision before its publication")
        published = [v for v in (*self.history, self.current) if v is not None and v.published_on is not None]
        target = next((v for v in published if v.number == version), None)
        if target is None or target.published_on is None:
            raise InvalidTransition(f"Version {version} of {self.resource_code} was never published.")
        check_calendar(effective_on=effective_on)
        before = [v for v in published if v.number < version]
        earliest = before[-1].published_on if before else target.published_on
        assert earliest is not None
        check_dated_correction(
            ctx, on=effective_on, earliest=earliest, recorded=target.published_on,
            earliest_what=f"version {before[-1].number}'s effective date" if before else "the entry's first publication",
            what=f"Version {version} of {self.resource_code}",
        )
        if not reason.strip():
            raise InvalidTransition("A correction states its reason.")
        self._record(self.EffectiveDateCorrected, ctx, version=version, effective_on=effective_on, reason=reason,
                     corrects="published_on", corrects_version=self.published_events.get(version, 0))

    def revise(self, ctx: Context, *, content: EntryContent) -> None:
        """Opens a new version of a published entry; the published one stays current (CAT-6)."""
        if self.retired or self.current is None:
            raise RuleViolation("CAT-6", "Only a published entry is revised into a new version.")
        if self.pending is not None:
            raise InvalidTransition(f"Version {self.pending.number} is already under way ({self.pending.state}).")
        _require_compiler(ctx, self.provider)
        content.validate()
        self._record(self.RevisionStarted, ctx, version=self.current.number + 1, content=content)

    def record_refresh(self, ctx: Context, *, as_of: datetime) -> None:
        if self.current is None or self.retired:
            raise InvalidTransition("Only a published entry records data updates.")
        if ctx.actor.acting_for != self.provider and not is_office(ctx):
            raise RuleViolation("CAT-2", "Data updates are recorded by the provider.")
        check_calendar(as_of=as_of)
        self._record(self.DataRefreshed, ctx, as_of=as_of)

    def retire(self, ctx: Context, *, reason: str) -> None:
        if self.retired:
            raise InvalidTransition("The entry is already retired.")
        if not reason.strip():
            raise InvalidTransition("Retiring an entry states a reason.")
        office = is_office(ctx)
        if self.provider_level == Level.PROVINCE and self.current is not None and not office:
            raise RuleViolation("CAT-3", "A published provincial entry is retired by the Office only.")
        if not (office or (ctx.actor.acting_for == self.provider and ctx.actor.role == Role.CATALOG_REVIEWER)):
            raise RuleViolation("CAT-2", "Entries are retired by the provider's designated reviewer or by the Office.")
        self._record(self.Retired, ctx, reason=reason)

    # -- helpers --------------------------------------------------------------------------

    def _pending_in(self, *states: VersionState) -> Version:
        if self.retired:
            raise InvalidTransition("The entry is retired.")
        if self.pending is None or self.pending.state not in states:
            now = self.pending.state if self.pending else "no pending version"
            raise InvalidTransition(
                f"This needs a pending version in state {' or '.join(states)}; it is {now}."
            )
        return self.pending

    @property
    def status(self) -> str:
        if self.retired:
            return "retired"
        if self.current is not None:
            return "published" if self.pending is None else "revising"
        assert self.pending is not None
        return str(self.pending.state)


def _require_compiler(ctx: Context, provider: str) -> None:
    if ctx.actor.acting_for != provider or ctx.actor.role != Role.CATALOG_COMPILER:
        raise RuleViolation(
            "CAT-2", f"Entries of {provider} are compiled by its designated catalog compilers.",
            provider=provider,
        )


SOURCE_INDEX_ID = uuid5(NAMESPACE_URL, "civic-ledger:catalog:source-index")


class SourceIndex(LedgerAggregate):
    """一数一源: which published entries provide each data item code (CAT-5).

    Saved in the same transaction as the publication or retirement that changes it, so two
    concurrent publications of one datum cannot both pass the check.
    """

    TOPIC = "civic-ledger:SourceIndex"

    class Created(LedgerAggregate.Created):
        TOPIC = "civic-ledger:SourceIndex.Created"
    KIND = "source-index"

    class Opened(Created):
        TOPIC = "civic-ledger:SourceIndex.Opened"

    class SourcesClaimed(LedgerAggregate.Event):
        TOPIC = "civic-ledger:SourceIndex.SourcesClaimed"
        resource_code: str
        codes: tuple[str, ...]

        def apply(self, idx: SourceIndex) -> None:
            idx._release(self.resource_code)
            for code in self.codes:
                idx.providers.setdefault(code, []).append(self.resource_code)

    class SourcesReleased(LedgerAggregate.Event):
        TOPIC = "civic-ledger:SourceIndex.SourcesReleased"
        resource_code: str

        def apply(self, idx: SourceIndex) -> None:
            idx._release(self.resource_code)

    def __init__(self, **_: Any) -> None:
        self.providers: dict[str, list[str]] = {}

    def _empty(self) -> SourceIndex:
        """An index with nothing in it, for checks made before the first publication."""
        self.providers = {}
        return self

    @classmethod
    def open(cls, ctx: Context) -> SourceIndex:
        return cls._start(cls.Opened, ctx, id=SOURCE_INDEX_ID)

    def _release(self, resource_code: str) -> None:
        for code in list(self.providers):
            kept = [r for r in self.providers[code] if r != resource_code]
            if kept:
                self.providers[code] = kept
            else:
                del self.providers[code]

    def sources_other_than(self, resource_code: str) -> dict[str, str]:
        """Item code -> the first other published entry providing it."""
        out: dict[str, str] = {}
        for code, providers in self.providers.items():
            other = [r for r in providers if r != resource_code]
            if other:
                out[code] = other[0]
        return out

    def claim(self, ctx: Context, entry: CatalogEntry) -> None:
        assert entry.current is not None
        self._record(self.SourcesClaimed, ctx, resource_code=entry.resource_code, codes=entry.current.content.item_codes())

    def release(self, ctx: Context, entry: CatalogEntry) -> None:
        if any(entry.resource_code in p for p in self.providers.values()):
            self._record(self.SourcesReleased, ctx, resource_code=entry.resource_code)
