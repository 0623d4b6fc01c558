"""Use cases of information systems (第十一条–第十八条, 第三十六条, 第三十七条): proposal to decommissioning."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, Protocol
from uuid import UUID, uuid4

import msgspec

from application.common import Command, CommandResult, ContextMaker, NotFound, Principal, Service
from domain.base import Context, ledger_date
from domain.catalog import SOURCE_INDEX_ID, CatalogEntry, SourceIndex, entry_id
from domain.organizations import Organization, Role, organization_id
from domain.rules import InvalidTransition, RuleViolation
from domain.systems import InformationSystem
from domain.systems_values import (
    ChangeKind,
    ComplianceTest,
    ConstructionPlan,
    DuplicateCollection,
    ExistingSource,
    Finding,
    Justification,
    Platform,
    ProjectEntry,
    SystemDecision,
)

MANAGER = (Role.SYSTEM_MANAGER,)
OFFICE = (Role.OFFICE_ADMIN,)
MANAGER_OR_OFFICE = (Role.SYSTEM_MANAGER, Role.OFFICE_ADMIN)


class FilingAnswer(msgspec.Struct, frozen=True):
    number: int
    kind: str
    description: str
    affects_sharing: bool
    needs_confirmation: bool
    state: str
    comment: str
    implemented_on: date | None


class AffectedGrant(msgspec.Struct, frozen=True):
    """A grant on an entry a decommissioned system fed; left as it is, listed for the Office and the provider."""

    grant_id: str
    entry: str
    holder: str
    status: str


class SystemAnswer(msgspec.Struct, frozen=True):
    id: str
    name: str
    owner: str
    level: str
    state: str
    legacy: bool
    plan: ConstructionPlan
    catalog: tuple[ProjectEntry, ...]
    justification: Justification | None
    duplicates: tuple[DuplicateCollection, ...]
    accepted_duplicates: dict[str, str]
    review_comment: str
    connections: dict[str, str]
    last_test: ComplianceTest | None
    live_since: date | None
    filings: tuple[FilingAnswer, ...]
    flagged_entries: tuple[str, ...]
    findings: tuple[Finding, ...]
    rectification: dict[str, Any] | None
    version: int
    filing: int | None = None
    """The filing the command created or acted on."""
    affected_grants: tuple[AffectedGrant, ...] = ()
    """On decommissioning: the grants on the flagged entries (untouched; see docs/walkthrough-systems.md)."""


def answer(s: InformationSystem, **extra: Any) -> SystemAnswer:
    r = s.rectification
    return SystemAnswer(
        id=str(s.id), name=s.name, owner=s.owner, level=str(s.level), state=str(s.state), legacy=s.legacy,
        plan=s.plan, catalog=s.catalog, justification=s.justification, duplicates=tuple(s.duplicates.values()),
        accepted_duplicates=dict(s.accepted), review_comment=s.review_comment,
        connections={str(k): v for k, v in s.connections.items()}, last_test=s.last_test, live_since=s.live_since,
        filings=tuple(FilingAnswer(number=f.number, kind=str(f.kind), description=f.description,
                                   affects_sharing=f.affects_sharing, needs_confirmation=f.needs_confirmation,
                                   state=str(f.state), comment=f.comment, implemented_on=f.implemented_on)
                      for f in s.filings.values()),
        flagged_entries=s.flagged_entries, findings=s.findings(),
        rectification=None if r is None else {"deadline": r.deadline.isoformat(), "withhold": r.withhold,
                                              "findings": [f.code for f in r.findings], "comment": r.comment},
        version=s.version, **extra,
    )


class GrantsOnEntry(Protocol):
    def __call__(self, entry_id: UUID) -> list[dict[str, Any]]: ...


class _Projector(Protocol):
    def wait_for(self, position: int | None, *names: str) -> None: ...


class FreshGrants:
    """Open grants on an entry from the sharing read model, caught up to the ledger's head first."""

    def __init__(self, projector: _Projector, head: Callable[[], int], lookup: GrantsOnEntry) -> None:
        self.projector, self.head, self.lookup = projector, head, lookup

    def __call__(self, entry_id: UUID) -> list[dict[str, Any]]:
        self.projector.wait_for(self.head(), "sharing")
        return self.lookup(entry_id)


class SystemsService(Service):
    def __init__(self, *args: Any, grants_on_entry: GrantsOnEntry | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.grants_on_entry = grants_on_entry

    # -- proposal and justification -------------------------------------------------------------

    def propose(self, p: Principal, cmd: Command, *, name: str, plan: ConstructionPlan,
                catalog: tuple[ProjectEntry, ...]) -> CommandResult:
        def decide(context: ContextMaker) -> tuple[list[InformationSystem], SystemAnswer]:
            ctx = context(self.actor(p, MANAGER))
            owner = self._organization(p.acting_for)
            self._check_existing_entries(owner.code, catalog)
            s = InformationSystem.propose(ctx, id=uuid4(), name=name, owner=owner.code, level=owner.level,
                                          plan=plan, catalog=catalog)
            return [s], answer(s)

        return self.execute(p, cmd, decide, status=201)

    def register_existing(self, p: Principal, cmd: Command, *, owner: str, name: str, plan: ConstructionPlan,
                          catalog: tuple[ProjectEntry, ...], in_operation_since: date) -> CommandResult:
        def decide(context: ContextMaker) -> tuple[list[InformationSystem], SystemAnswer]:
            ctx = context(self.actor(p, OFFICE))
            org = self._organization(owner)
            self._check_existing_entries(org.code, catalog)
            s = InformationSystem.register_existing(ctx, id=uuid4(), name=name, owner=org.code, level=org.level,
                                                    plan=plan, catalog=catalog, in_operation_since=in_operation_since)
            return [s], answer(s)

        return self.execute(p, cmd, decide, status=201)

    def revise_catalog(self, p: Principal, cmd: Command, system: UUID, *,
                       catalog: tuple[ProjectEntry, ...]) -> CommandResult:
        def act(s: InformationSystem, ctx: Context) -> None:
            self._check_existing_entries(s.owner, catalog)
            s.revise_catalog(ctx, catalog=catalog)

        return self._on(p, cmd, system, MANAGER, act)

    def justify(self, p: Principal, cmd: Command, system: UUID, *, justification: Justification) -> CommandResult:
        def act(s: InformationSystem, ctx: Context) -> None:
            s.justify(ctx, justification=justification, existing_sources=self.existing_sources(s.owner, s.catalog))

        return self._on(p, cmd, system, MANAGER, act)

    def accept_duplicate(self, p: Principal, cmd: Command, system: UUID, *, item_code: str) -> CommandResult:
        return self._on(p, cmd, system, OFFICE, lambda s, ctx: s.accept_duplicate(ctx, item_code=item_code))

    def review(self, p: Principal, cmd: Command, system: UUID, *, decision: SystemDecision | str,
               comment: str = "") -> CommandResult:
        def act(s: InformationSystem, ctx: Context) -> None:
            sources = self.existing_sources(s.owner, s.catalog) if decision == SystemDecision.APPROVE else {}
            s.review(ctx, decision=decision, comment=comment, existing_sources=sources)

        return self._on(p, cmd, system, OFFICE, act)

    # -- connection, test, go-live ---------------------------------------------------------------

    def connect(self, p: Principal, cmd: Command, system: UUID, *, platform: Platform | str,
                reference: str) -> CommandResult:
        return self._on(p, cmd, system, MANAGER_OR_OFFICE,
                        lambda s, ctx: s.connect(ctx, platform=platform, reference=reference))

    def record_test(self, p: Principal, cmd: Command, system: UUID, *, passed: bool, findings: tuple[str, ...],
                    tested_on: date | None = None) -> CommandResult:
        return self._on(p, cmd, system, OFFICE, lambda s, ctx: s.record_test(
            ctx, passed=passed, findings=findings, tested_on=tested_on or ledger_date(ctx.at)))

    def go_live(self, p: Principal, cmd: Command, system: UUID, *, on: date | None = None) -> CommandResult:
        return self._on(p, cmd, system, MANAGER_OR_OFFICE, lambda s, ctx: s.go_live(ctx, on=on or ledger_date(ctx.at)))

    # -- change filings ----------------------------------------------------------------------------

    def file_change(self, p: Principal, cmd: Command, system: UUID, *, kind: ChangeKind | str, description: str,
                    affects_sharing: bool) -> CommandResult:
        return self._on(p, cmd, system, MANAGER, lambda s, ctx: s.file_change(
            ctx, kind=kind, description=description, affects_sharing=affects_sharing))

    def confirm_change(self, p: Principal, cmd: Command, system: UUID, filing: int, *,
                       comment: str = "") -> CommandResult:
        def act(s: InformationSystem, ctx: Context) -> int:
            s.confirm_change(ctx, filing=filing, comment=comment)
            return filing

        return self._on(p, cmd, system, OFFICE, act)

    def decline_change(self, p: Principal, cmd: Command, system: UUID, filing: int, *, reason: str) -> CommandResult:
        def act(s: InformationSystem, ctx: Context) -> int:
            s.decline_change(ctx, filing=filing, reason=reason)
            return filing

        return self._on(p, cmd, system, OFFICE, act)

    def implement_change(self, p: Principal, cmd: Command, system: UUID, filing: int, *,
                         on: date | None = None) -> CommandResult:
        """Implements a filed change; a shutdown decommissions the system and flags its catalog entries."""
        def decide(context: ContextMaker) -> tuple[list[InformationSystem], SystemAnswer]:
            ctx = context(self.actor(p, MANAGER))
            s = self.get(InformationSystem, system, expected_version=cmd.expected_version)
            flagged = self._entries_in_catalog(s.catalog)
            s.implement_change(ctx, filing=filing, on=on or ledger_date(ctx.at), entries_to_flag=flagged)
            grants = self._affected_grants(s.flagged_entries) if s.state == "decommissioned" else ()
            return [s], answer(s, filing=filing, affected_grants=grants)

        return self.execute(p, cmd, decide)

    def record_unconfirmed_change(self, p: Principal, cmd: Command, system: UUID, *, evidence: str,
                                  kind: ChangeKind | str = ChangeKind.CONTENT_CHANGE, description: str = "",
                                  filing: int | None = None) -> CommandResult:
        return self._on(p, cmd, system, OFFICE, lambda s, ctx: s.record_unconfirmed_change(
            ctx, kind=kind, description=description, evidence=evidence, filing=filing))

    # -- SYS-5 ---------------------------------------------------------------------------------------

    def order_rectification(self, p: Principal, cmd: Command, system: UUID, *, deadline: date,
                            comment: str = "") -> CommandResult:
        return self._on(p, cmd, system, OFFICE,
                        lambda s, ctx: s.order_rectification(ctx, deadline=deadline, comment=comment))

    def close_rectification(self, p: Principal, cmd: Command, system: UUID, *, comment: str = "") -> CommandResult:
        return self._on(p, cmd, system, OFFICE, lambda s, ctx: s.close_rectification(ctx, comment=comment))

    def load(self, system: UUID) -> InformationSystem:
        return self.get(InformationSystem, system)

    # -- one datum, one source (CAT-5 at collection time) -------------------------------------------

    def existing_sources(self, owner: str, catalog: tuple[ProjectEntry, ...]) -> dict[str, ExistingSource]:
        """Per item code the system would collect, a published entry of another organization providing it.

        An item the owner already publishes itself (in the project entry or another of its entries) is
        no duplicate: the owner is its source, even if others re-collected it with the Office's consent.
        """
        index = self._index()
        providers: dict[str, str | None] = {}

        def provider(code: str) -> str | None:
            if code not in providers:
                providers[code] = self._provider_of(code)
            return providers[code]

        out: dict[str, ExistingSource] = {}
        for pe in catalog:
            others = index.sources_other_than(pe.resource_code)
            for item in pe.item_codes:
                if item in out or item not in others:
                    continue
                sources = [others[item], *index.providers.get(item, ())]
                held = [(code, provider(code)) for code in dict.fromkeys(sources)]
                if any(who == owner for _, who in held):
                    continue
                code, who = next((c, w) for c, w in held if c != pe.resource_code and w is not None)
                out[item] = ExistingSource(resource_code=code, provider=str(who))
        return out

    # -- helpers ---------------------------------------------------------------------------------------

    def _on(self, p: Principal, cmd: Command, system: UUID, roles: tuple[Role, ...],
            act: Callable[[InformationSystem, Context], int | None]) -> CommandResult:
        def decide(context: ContextMaker) -> tuple[list[InformationSystem], SystemAnswer]:
            ctx = context(self.actor(p, roles))
            s = self.get(InformationSystem, system, expected_version=cmd.expected_version)
            filing = act(s, ctx)
            return [s], answer(s, filing=filing)

        return self.execute(p, cmd, decide)

    def _organization(self, code: str) -> Organization:
        try:
            return self.get(Organization, organization_id(code))
        except NotFound:
            raise RuleViolation("ORG-1", f"{code} is not a registered organization.") from None

    def _check_existing_entries(self, owner: str, catalog: tuple[ProjectEntry, ...]) -> None:
        """An entry marked existing is one of the owner's own catalog entries."""
        for pe in catalog:
            if pe.existing and self._provider_of(pe.resource_code) != owner:
                raise InvalidTransition(
                    f"{pe.resource_code} is not an entry of {owner}'s catalog; list it as a new entry, or request "
                    "another organization's data by sharing.", resource_code=pe.resource_code,
                )

    def _provider_of(self, resource_code: str) -> str | None:
        try:
            return self.get(CatalogEntry, entry_id(resource_code)).provider
        except NotFound:
            return None

    def _entries_in_catalog(self, catalog: tuple[ProjectEntry, ...]) -> tuple[str, ...]:
        """The project catalog's entries that exist in the catalog and are not retired: these are flagged."""
        out = []
        for pe in catalog:
            try:
                e = self.get(CatalogEntry, entry_id(pe.resource_code))
            except NotFound:
                continue
            if not e.retired:
                out.append(pe.resource_code)
        return tuple(out)

    def _affected_grants(self, resource_codes: tuple[str, ...]) -> tuple[AffectedGrant, ...]:
        if self.grants_on_entry is None:
            return ()
        return tuple(
            AffectedGrant(grant_id=str(g["id"]), entry=code, holder=str(g["holder"]), status=str(g["status"]))
            for code in resource_codes for g in self.grants_on_entry(entry_id(code))
        )

    def _index(self) -> SourceIndex:
        try:
            return self.get(SourceIndex, SOURCE_INDEX_ID)
        except NotFound:
            return SourceIndex.__new__(SourceIndex)._empty()
