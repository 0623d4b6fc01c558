"""政务信息系统: an information system from proposal to decommissioning (COL-1, SYS-1 … SYS-5, CAT-5)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any
from uuid import UUID

from domain.base import Context, LedgerAggregate, ledger_date
from domain.organizations import Level, Role, is_office, require_office
from domain.rules import InvalidTransition, RuleViolation
from domain.systems_values import (
    ChangeKind,
    ComplianceFacts,
    ComplianceTest,
    ConstructionPlan,
    DuplicateCollection,
    ExistingSource,
    Filing,
    FilingState,
    Finding,
    Justification,
    Platform,
    ProjectEntry,
    Rectification,
    SystemDecision,
    SystemState,
    check_approvable,
    check_go_live,
    compliance_findings,
    consequence,
    duplicate_collections,
    validate_catalog,
)
from domain.time_axes import check_dated_correction, require_backdating_office

S = SystemState


class InformationSystem(LedgerAggregate):
    """政务信息系统: a system of an organization, its justification, review, connections, tests and changes."""

    TOPIC = "civic-ledger:InformationSystem"

    class Created(LedgerAggregate.Created):
        TOPIC = "civic-ledger:InformationSystem.Created"
    KIND = "system"

    class Proposed(Created):
        TOPIC = "civic-ledger:InformationSystem.Proposed"
        name: str
        owner: str
        level: Level
        plan: ConstructionPlan
        catalog: tuple[ProjectEntry, ...]

    class RegisteredExisting(Created):
        """An existing system (存量系统) already in operation when the ledger began; it is retrofitted (第十三条)."""

        TOPIC = "civic-ledger:InformationSystem.RegisteredExisting"
        name: str
        owner: str
        level: Level
        plan: ConstructionPlan
        catalog: tuple[ProjectEntry, ...]
        in_operation_since: date

    class CatalogRevised(LedgerAggregate.Event):
        TOPIC = "civic-ledger:InformationSystem.CatalogRevised"
        catalog: tuple[ProjectEntry, ...]

        def apply(self, s: InformationSystem) -> None:
            s.catalog = self.catalog

    class JustificationFiled(LedgerAggregate.Event):
        TOPIC = "civic-ledger:InformationSystem.JustificationFiled"
        justification: Justification
        duplicates: tuple[DuplicateCollection, ...]

        def apply(self, s: InformationSystem) -> None:
            s.justification = self.justification
            s.duplicates = {d.item_code: d for d in self.duplicates}
            s.accepted = {}
            s.state = S.JUSTIFIED

    class DuplicateCollectionAccepted(LedgerAggregate.Event):
        TOPIC = "civic-ledger:InformationSystem.DuplicateCollectionAccepted"
        item_code: str
        existing_source: str

        def apply(self, s: InformationSystem) -> None:
            s.accepted = {**s.accepted, self.item_code: self.existing_source}

    class Approved(LedgerAggregate.Event):
        TOPIC = "civic-ledger:InformationSystem.Approved"
        comment: str

        def apply(self, s: InformationSystem) -> None:
            s.state, s.review_comment = S.APPROVED, self.comment
            s.approved_on = ledger_date(self.timestamp)

    class Rejected(LedgerAggregate.Event):
        TOPIC = "civic-ledger:InformationSystem.Rejected"
        reasons: str

        def apply(self, s: InformationSystem) -> None:
            s.state, s.review_comment = S.REJECTED, self.reasons

    class Connected(LedgerAggregate.Event):
        TOPIC = "civic-ledger:InformationSystem.Connected"
        platform: Platform
        reference: str

        def apply(self, s: InformationSystem) -> None:
            s.connections = {**s.connections, Platform(self.platform): self.reference}

    class ComplianceTested(LedgerAggregate.Event):
        TOPIC = "civic-ledger:InformationSystem.ComplianceTested"
        test: ComplianceTest

        def apply(self, s: InformationSystem) -> None:
            s.last_test = self.test

    class WentLive(LedgerAggregate.Event):
        TOPIC = "civic-ledger:InformationSystem.WentLive"
        on: date

        def apply(self, s: InformationSystem) -> None:
            s.state, s.live_since = S.LIVE, self.on
            s.went_live_version = self.originator_version

    class ChangeFiled(LedgerAggregate.Event):
        TOPIC = "civic-ledger:InformationSystem.ChangeFiled"
        filing: int
        kind: ChangeKind
        description: str
        affects_sharing: bool
        needs_confirmation: bool

        def apply(self, s: InformationSystem) -> None:
            s.filings[self.filing] = Filing(
                number=self.filing, kind=ChangeKind(self.kind), description=self.description,
                affects_sharing=self.affects_sharing, needs_confirmation=self.needs_confirmation,
                state=FilingState.FILED,
            )

    class ChangeConfirmed(LedgerAggregate.Event):
        TOPIC = "civic-ledger:InformationSystem.ChangeConfirmed"
        filing: int
        comment: str

        def apply(self, s: InformationSystem) -> None:
            f = s.filings[self.filing]
            f.comment = self.comment
            # A change found implemented without confirmation stays implemented once confirmed late.
            f.state = FilingState.IMPLEMENTED if f.state == FilingState.IMPLEMENTED_UNCONFIRMED else FilingState.CONFIRMED

    class ChangeDeclined(LedgerAggregate.Event):
        TOPIC = "civic-ledger:InformationSystem.ChangeDeclined"
        filing: int
        reason: str

        def apply(self, s: InformationSystem) -> None:
            s.filings[self.filing].state, s.filings[self.filing].comment = FilingState.DECLINED, self.reason

    class ChangeImplemented(LedgerAggregate.Event):
        TOPIC = "civic-ledger:InformationSystem.ChangeImplemented"
        filing: int
        on: date

        def apply(self, s: InformationSystem) -> None:
            s.filings[self.filing].state = FilingState.IMPLEMENTED
            s.filings[self.filing].implemented_on = self.on

    class UnconfirmedChangeFound(LedgerAggregate.Event):
        TOPIC = "civic-ledger:InformationSystem.UnconfirmedChangeFound"
        filing: int
        kind: ChangeKind
        description: str
        evidence: str

        def apply(self, s: InformationSystem) -> None:
            f = s.filings.get(self.filing)
            if f is None:
                f = s.filings[self.filing] = Filing(
                    number=self.filing, kind=ChangeKind(self.kind), description=self.description,
                    affects_sharing=True, needs_confirmation=True, state=FilingState.FILED,
                )
            f.state, f.comment = FilingState.IMPLEMENTED_UNCONFIRMED, self.evidence

    class Decommissioned(LedgerAggregate.Event):
        TOPIC = "civic-ledger:InformationSystem.Decommissioned"
        on: date
        entries_flagged: tuple[str, ...]

        def apply(self, s: InformationSystem) -> None:
            s.state, s.decommissioned_on, s.flagged_entries = S.DECOMMISSIONED, self.on, self.entries_flagged
            s.decommissioned_version = self.originator_version

    class GoLiveDateCorrected(LedgerAggregate.Event):
        """The system really went live on `on`, earlier than recorded (a correction)."""

        TOPIC = "civic-ledger:InformationSystem.GoLiveDateCorrected"
        on: date
        reason: str
        corrects: str
        corrects_version: int

        def apply(self, s: InformationSystem) -> None:
            s.live_since = self.on

    class ShutdownDateCorrected(LedgerAggregate.Event):
        """The system was really shut down on `on`, earlier than recorded (a correction)."""

        TOPIC = "civic-ledger:InformationSystem.ShutdownDateCorrected"
        on: date
        reason: str
        corrects: str
        corrects_version: int

        def apply(self, s: InformationSystem) -> None:
            s.decommissioned_on = self.on

    class RectificationOrdered(LedgerAggregate.Event):
        TOPIC = "civic-ledger:InformationSystem.RectificationOrdered"
        findings: tuple[Finding, ...]
        withhold: str
        deadline: date
        comment: str

        def apply(self, s: InformationSystem) -> None:
            s.rectification = Rectification(findings=self.findings, withhold=self.withhold, deadline=self.deadline,
                                            comment=self.comment)

    class RectificationClosed(LedgerAggregate.Event):
        TOPIC = "civic-ledger:InformationSystem.RectificationClosed"
        comment: str

        def apply(self, s: InformationSystem) -> None:
            s.rectification = None

    def __init__(
        self, name: str, owner: str, level: Level, plan: ConstructionPlan, catalog: tuple[ProjectEntry, ...],
        in_operation_since: date | None = None, **_: Any,
    ) -> None:
        self.name, self.owner, self.level = name, owner, Level(level)
        self.plan, self.catalog = plan, catalog
        self.legacy = in_operation_since is not None
        self.state = S.LIVE if self.legacy else S.PROPOSED
        self.live_since: date | None = in_operation_since
        self.justification: Justification | None = None
        self.duplicates: dict[str, DuplicateCollection] = {}
        self.accepted: dict[str, str] = {}
        self.review_comment = ""
        self.connections: dict[Platform, str] = {}
        self.last_test: ComplianceTest | None = None
        self.filings: dict[int, Filing] = {}
        self.rectification: Rectification | None = None
        self.decommissioned_on: date | None = None
        self.flagged_entries: tuple[str, ...] = ()
        self.approved_on: date | None = None
        self.went_live_version = 0
        self.decommissioned_version = 0

    # -- proposal and justification (第十一条, 第十二条, 第十四条) -----------------------------

    @classmethod
    def propose(
        cls, ctx: Context, *, id: UUID, name: str, owner: str, level: Level,  # noqa: A002
        plan: ConstructionPlan, catalog: tuple[ProjectEntry, ...],
    ) -> InformationSystem:
        if ctx.actor.acting_for != owner or ctx.actor.role != Role.SYSTEM_MANAGER:
            raise RuleViolation("COL-1", f"Systems of {owner} are proposed by its designated system managers.",
                                owner=owner)
        if not name.strip():
            raise InvalidTransition("A system needs a name.")
        if plan.missing():
            raise RuleViolation("SYS-1", f"The construction plan (建设方案) lacks its {', '.join(plan.missing())}.",
                                missing=list(plan.missing()))
        validate_catalog(catalog)
        return cls._start(cls.Proposed, ctx, id=id, name=name, owner=owner, level=level, plan=plan, catalog=catalog)

    @classmethod
    def register_existing(
        cls, ctx: Context, *, id: UUID, name: str, owner: str, level: Level,  # noqa: A002
        plan: ConstructionPlan, catalog: tuple[ProjectEntry, ...], in_operation_since: date,
    ) -> InformationSystem:
        """Records a system that was running before the ledger; SYS-5 judges it like any live system."""
        require_office(ctx, "SYS-5", "registers systems already in operation")
        if not name.strip():
            raise InvalidTransition("A system needs a name.")
        validate_catalog(catalog)
        return cls._start(cls.RegisteredExisting, ctx, id=id, name=name, owner=owner, level=level, plan=plan,
                          catalog=catalog, in_operation_since=in_operation_since)

    def revise_catalog(self, ctx: Context, *, catalog: tuple[ProjectEntry, ...]) -> None:
        self._require_manager(ctx, "SYS-1", "compiles the project data catalog")
        self._require_state(S.PROPOSED, S.REJECTED)
        validate_catalog(catalog)
        self._record(self.CatalogRevised, ctx, catalog=catalog)

    def justify(self, ctx: Context, *, justification: Justification,
                existing_sources: Mapping[str, ExistingSource]) -> None:
        """Files the collection justification; `existing_sources` names, per item code, another organization's
        published entry that already provides it (CAT-5)."""
        self._require_manager(ctx, "COL-1", "files the collection justification")
        self._require_state(S.PROPOSED, S.REJECTED)
        missing = justification.missing()
        if missing:
            raise RuleViolation("COL-1", f"The collection justification lacks its {', '.join(missing)}.",
                                missing=list(missing))
        duplicates = duplicate_collections(self.catalog, justification, existing_sources)
        self._record(self.JustificationFiled, ctx, justification=justification, duplicates=tuple(duplicates))

    def accept_duplicate(self, ctx: Context, *, item_code: str) -> None:
        require_office(ctx, "CAT-5", "accepts collecting a datum held elsewhere")
        self._require_state(S.JUSTIFIED)
        d = self.duplicates.get(item_code)
        if d is None:
            raise InvalidTransition(f"The justification collects no data item {item_code} held elsewhere.")
        if item_code in self.accepted:
            return
        self._record(self.DuplicateCollectionAccepted, ctx, item_code=item_code, existing_source=d.existing_source)

    def review(self, ctx: Context, *, decision: SystemDecision | str, comment: str = "",
               existing_sources: Mapping[str, ExistingSource]) -> None:
        require_office(ctx, "SYS-1", "reviews system proposals")
        self._require_state(S.JUSTIFIED)
        if decision not in tuple(SystemDecision):
            raise InvalidTransition(f"A review approves or rejects, not {decision!r}.")
        if decision == SystemDecision.REJECT:
            if not comment.strip():
                raise InvalidTransition("A rejection states its reasons.")
            self._record(self.Rejected, ctx, reasons=comment)
            return
        check_approvable(self.name, self.plan, self.catalog, self.justification, self.accepted, existing_sources)
        self._record(self.Approved, ctx, comment=comment)

    # -- connection, test, go-live (第十三条, 第十八条, 第三十六条) ---------------------------

    def connect(self, ctx: Context, *, platform: Platform | str, reference: str) -> None:
        self._require_manager(ctx, "SYS-2", "records platform connections", office_too=True)
        self._require_state(S.APPROVED, S.LIVE)
        try:
            which = Platform(platform)
        except ValueError:
            raise InvalidTransition(f"Unknown platform {platform!r}; it is {' or '.join(Platform)}.") from None
        if which in self.connections:
            raise InvalidTransition(f"{self.name} is already connected to the {which} platform.")
        if not reference.strip():
            raise InvalidTransition("A connection names its access reference (接入编号).")
        self._record(self.Connected, ctx, platform=which, reference=reference)

    def record_test(self, ctx: Context, *, passed: bool, findings: tuple[str, ...], tested_on: date) -> None:
        require_office(ctx, "SYS-4", "records catalog compliance tests")
        self._require_state(S.APPROVED, S.LIVE)
        kept = tuple(f for f in findings if f.strip())
        if not passed and not kept:
            raise InvalidTransition("A failed compliance test states its findings.")
        self._record(self.ComplianceTested, ctx, test=ComplianceTest(passed=passed, tested_on=tested_on, findings=kept))

    def go_live(self, ctx: Context, *, on: date) -> None:
        self._require_manager(ctx, "SYS-4", "puts the system into operation", office_too=True)
        self._require_state(S.APPROVED)
        check_go_live(self.name, set(self.connections), self.last_test)
        self._record(self.WentLive, ctx, on=on)

    # -- corrections of dates (TIME-1 … TIME-3) ------------------------------------------------

    def correct_go_live(self, ctx: Context, *, on: date, reason: str) -> None:
        """Dates the go-live when it really happened, never before the Office approved the system."""
        require_backdating_office(ctx, "dates a system's go-live before it was recorded")
        if not self.went_live_version or self.live_since is None or self.approved_on is None:
            raise InvalidTransition(f"{self.name} has no recorded go-live to correct.")
        check_dated_correction(ctx, on=on, earliest=self.approved_on, earliest_what="its approval",
                               recorded=self.live_since, what=f"The go-live of {self.name}")
        if not reason.strip():
            raise InvalidTransition("A correction states its reason.")
        self._record(self.GoLiveDateCorrected, ctx, on=on, reason=reason, corrects="live_since",
                     corrects_version=self.went_live_version)

    def correct_shutdown(self, ctx: Context, *, on: date, reason: str) -> None:
        """Dates the shutdown when it really happened, never before the system went live."""
        require_backdating_office(ctx, "dates a system's shutdown before it was recorded")
        if self.state != S.DECOMMISSIONED or self.decommissioned_on is None:
            raise InvalidTransition(f"{self.name} has no recorded shutdown to correct.")
        earliest = self.live_since or self.decommissioned_on
        check_dated_correction(ctx, on=on, earliest=earliest, earliest_what="its go-live",
                               recorded=self.decommissioned_on, what=f"The shutdown of {self.name}")
        if not reason.strip():
            raise InvalidTransition("A correction states its reason.")
        self._record(self.ShutdownDateCorrected, ctx, on=on, reason=reason, corrects="decommissioned_on",
                     corrects_version=self.decommissioned_version)

    # -- change filings (第十五条) ---------------------------------------------------------

    def file_change(self, ctx: Context, *, kind: ChangeKind | str, description: str, affects_sharing: bool) -> int:
        self._require_manager(ctx, "SYS-3", "files changes")
        self._require_state(S.LIVE)
        try:
            which = ChangeKind(kind)
        except ValueError:
            raise InvalidTransition(f"Unknown change {kind!r}; it is one of {', '.join(ChangeKind)}.") from None
        if not description.strip():
            raise InvalidTransition("A change filing describes the change.")
        # Shutting down a connected system always affects what it shares.
        affects = affects_sharing or (which == ChangeKind.SHUTDOWN and Platform.EXCHANGE in self.connections)
        number = len(self.filings) + 1
        self._record(self.ChangeFiled, ctx, filing=number, kind=which, description=description,
                     affects_sharing=affects, needs_confirmation=affects and self.level == Level.PROVINCE)
        return number

    def confirm_change(self, ctx: Context, *, filing: int, comment: str = "") -> None:
        require_office(ctx, "SYS-3", "confirms filed changes")
        f = self._filing(filing, FilingState.FILED, FilingState.IMPLEMENTED_UNCONFIRMED)
        self._record(self.ChangeConfirmed, ctx, filing=f.number, comment=comment)

    def decline_change(self, ctx: Context, *, filing: int, reason: str) -> None:
        require_office(ctx, "SYS-3", "declines filed changes")
        f = self._filing(filing, FilingState.FILED)
        if not reason.strip():
            raise InvalidTransition("Declining a change states the reason.")
        self._record(self.ChangeDeclined, ctx, filing=f.number, reason=reason)

    def implement_change(self, ctx: Context, *, filing: int, on: date, entries_to_flag: tuple[str, ...] = ()) -> None:
        """Implements a filed change; a shutdown decommissions the system, flagging `entries_to_flag` for review."""
        self._require_manager(ctx, "SYS-3", "implements changes")
        self._require_state(S.LIVE)
        f = self._filing(filing, FilingState.FILED, FilingState.CONFIRMED, FilingState.DECLINED)
        if f.state == FilingState.DECLINED:
            raise InvalidTransition(f"Change {filing} was declined by the Office: {f.comment}")
        if f.needs_confirmation and f.state != FilingState.CONFIRMED:
            raise RuleViolation(
                "SYS-3", f"Change {filing} ({f.kind}) of provincial system {self.name} affects sharing; it is "
                "implemented only after the Office confirms it.", filing=filing,
            )
        self._record(self.ChangeImplemented, ctx, filing=f.number, on=on)
        if f.kind == ChangeKind.SHUTDOWN:
            self._record(self.Decommissioned, ctx, on=on, entries_flagged=entries_to_flag)

    def record_unconfirmed_change(self, ctx: Context, *, kind: ChangeKind | str, description: str, evidence: str,
                                  filing: int | None = None) -> int:
        """The Office records a change found implemented without filing or confirmation (SYS-3, for SYS-5)."""
        require_office(ctx, "SYS-5", "records changes found implemented without confirmation")
        self._require_state(S.LIVE)
        if not evidence.strip():
            raise InvalidTransition("A finding states its evidence.")
        if filing is not None:
            f = self._filing(filing, FilingState.FILED, FilingState.DECLINED)
            which, text = f.kind, f.description
        else:
            try:
                which = ChangeKind(kind)
            except ValueError:
                raise InvalidTransition(f"Unknown change {kind!r}.") from None
            text = description
            if not text.strip():
                raise InvalidTransition("Describe the change that was found.")
        number = filing if filing is not None else len(self.filings) + 1
        self._record(self.UnconfirmedChangeFound, ctx, filing=number, kind=which, description=text, evidence=evidence)
        return number

    # -- SYS-5 (第三十七条) ----------------------------------------------------------------

    @property
    def facts(self) -> ComplianceFacts:
        return ComplianceFacts(
            state=self.state, catalog_size=len(self.catalog),
            justification_missing=self.justification.missing() if self.justification else None,
            unaccepted_duplicates=tuple(sorted(set(self.duplicates) - set(self.accepted))),
            exchange_connected=Platform.EXCHANGE in self.connections,
            integration_connected=Platform.INTEGRATION in self.connections,
            last_test_passed=self.last_test.passed if self.last_test else None,
            unconfirmed_filings=tuple(sorted(n for n, f in self.filings.items()
                                             if f.state == FilingState.IMPLEMENTED_UNCONFIRMED)),
        )

    def findings(self) -> tuple[Finding, ...]:
        return compliance_findings(self.facts)

    def order_rectification(self, ctx: Context, *, deadline: date, comment: str = "") -> None:
        require_office(ctx, "SYS-5", "orders rectification")
        found = self.findings()
        if not found:
            raise InvalidTransition(f"{self.name} meets its rules; there is nothing to rectify.")
        if self.rectification is not None:
            raise InvalidTransition(f"A rectification is already ordered, due {self.rectification.deadline}.")
        self._record(self.RectificationOrdered, ctx, findings=found, withhold=consequence(self.state),
                     deadline=deadline, comment=comment)

    def close_rectification(self, ctx: Context, *, comment: str = "") -> None:
        require_office(ctx, "SYS-5", "closes rectifications")
        if self.rectification is None:
            raise InvalidTransition("No rectification is open.")
        left = self.findings()
        if left:
            raise RuleViolation("SYS-5", f"{self.name} still falls short: {'; '.join(f.detail for f in left)}",
                                findings=[f.code for f in left])
        self._record(self.RectificationClosed, ctx, comment=comment)

    # -- helpers ------------------------------------------------------------------------------

    def _require_manager(self, ctx: Context, rule_id: str, what: str, *, office_too: bool = False) -> None:
        if office_too and is_office(ctx):
            return
        if ctx.actor.acting_for != self.owner or ctx.actor.role != Role.SYSTEM_MANAGER:
            raise RuleViolation(rule_id, f"A designated system manager of {self.owner} {what}"
                                f"{' (or the Office)' if office_too else ''}.", owner=self.owner)

    def _require_state(self, *states: SystemState) -> None:
        if self.state not in states:
            raise InvalidTransition(f"This needs the system to be {' or '.join(states)}; it is {self.state}.")

    def _filing(self, number: int, *states: FilingState) -> Filing:
        f = self.filings.get(number)
        if f is None:
            raise InvalidTransition(f"{self.name} has no change filing {number}.")
        if f.state not in states:
            raise InvalidTransition(f"Change {number} is {f.state}; this needs it {' or '.join(states)}.")
        return f
