"""Data sharing: share requests, implementation orders and the grants they create (SHR-1 … SHR-8, USE-1)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any
from uuid import UUID

from domain.base import Context, LedgerAggregate, check_calendar
from domain.catalog_values import DeliveryMethod, ShareClass
from domain.grant_status import GrantState
from domain.organizations import OrgKind, Role, require_office
from domain.rules import InvalidTransition, RuleViolation
from domain.sharing_values import (
    GrantKind,
    GrantSpec,
    GrantStatus,
    PublishedEntry,
    RequestDecision,
    RequestedEntry,
    RequestStatus,
    ReusedGrant,
    Scenario,
    UsePlan,
    check_method,
    check_shareable,
    effective_period,
    grant_id,
)

__all__ = ["REQUESTER_KINDS", "ImplementationOrder", "ShareRequest"]

#: Who may apply for shared data (第二十三条); municipal governments are named apart (SHR-3).
REQUESTER_KINDS = frozenset({
    OrgKind.DIVISION, OrgKind.AFFILIATED_UNIT, OrgKind.CITY_BUREAU, OrgKind.COUNTY_BUREAU,
    OrgKind.PROVINCIAL_DEPARTMENT,
})


CIVIL_AFFAIRS = frozenset({
    OrgKind.OFFICE, OrgKind.DIVISION, OrgKind.AFFILIATED_UNIT, OrgKind.CITY_BUREAU, OrgKind.COUNTY_BUREAU,
})


def _check_scenario(scenario: Scenario, requester_kind: OrgKind, entries: tuple[RequestedEntry, ...],
                    catalog: Mapping[UUID, PublishedEntry]) -> None:
    """第二十三条's three scenarios say who asks whom: the request must be the scenario it names (SHR-1)."""
    wants_ca_requester = scenario != Scenario.EXTERNAL_SHARING
    wants_ca_provider = scenario != Scenario.EXTERNAL_EXCHANGE
    if (requester_kind in CIVIL_AFFAIRS) != wants_ca_requester:
        who = "a civil-affairs department" if wants_ca_requester else "another provincial department"
        raise RuleViolation("SHR-1", f"In {scenario} the requester is {who}, not a {requester_kind}.",
                            scenario=str(scenario))
    for e in entries:
        pe = catalog.get(e.entry_id)
        if pe is not None and (pe.provider_kind in CIVIL_AFFAIRS) != wants_ca_provider:
            whose = "civil-affairs data" if wants_ca_provider else "another provincial department's data"
            raise RuleViolation("SHR-1", f"In {scenario} the request is for {whose}; {pe.resource_code} is "
                                f"provided by {pe.provider}.", scenario=str(scenario), entry_id=str(e.entry_id))


def _require_requester(ctx: Context, requester: str) -> None:
    if ctx.actor.acting_for != requester or ctx.actor.role != Role.REQUESTER:
        raise RuleViolation(
            "SHR-3", f"Requests of {requester} are made by its designated requesters (role requester).",
            requester=requester,
        )


class ShareRequest(LedgerAggregate):
    """共享申请书 (附件1): a department's request for catalog data, reviewed by the Office."""

    TOPIC = "civic-ledger:ShareRequest"

    class Created(LedgerAggregate.Created):
        TOPIC = "civic-ledger:ShareRequest.Created"
    KIND = "share-request"

    class Submitted(Created):
        TOPIC = "civic-ledger:ShareRequest.Submitted"
        requester: str
        requester_kind: OrgKind
        requester_parent_kind: OrgKind | None
        scenario: Scenario
        reason: str
        entries: tuple[RequestedEntry, ...]
        purpose: str
        valid_from: date
        valid_to: date
        delivery_method: DeliveryMethod

    class Approved(LedgerAggregate.Event):
        TOPIC = "civic-ledger:ShareRequest.Approved"
        entries: tuple[RequestedEntry, ...]
        comment: str

        def apply(self, r: ShareRequest) -> None:
            r.status = RequestStatus.APPROVED
            r.approved = self.entries
            r.review_comment = self.comment

    class Rejected(LedgerAggregate.Event):
        TOPIC = "civic-ledger:ShareRequest.Rejected"
        reason: str

        def apply(self, r: ShareRequest) -> None:
            r.status = RequestStatus.REJECTED
            r.review_comment = self.reason

    class Withdrawn(LedgerAggregate.Event):
        TOPIC = "civic-ledger:ShareRequest.Withdrawn"

        def apply(self, r: ShareRequest) -> None:
            r.status = RequestStatus.WITHDRAWN

    class OrderIssued(LedgerAggregate.Event):
        TOPIC = "civic-ledger:ShareRequest.OrderIssued"
        order_id: UUID

        def apply(self, r: ShareRequest) -> None:
            r.status = RequestStatus.IMPLEMENTED
            r.order_id = self.order_id

    def __init__(
        self, requester: str, requester_kind: OrgKind, requester_parent_kind: OrgKind | None, scenario: Scenario,
        reason: str, entries: tuple[RequestedEntry, ...], purpose: str, valid_from: date, valid_to: date,
        delivery_method: DeliveryMethod, **_: Any,
    ) -> None:
        self.requester = requester
        self.requester_kind = OrgKind(requester_kind)
        self.requester_parent_kind = OrgKind(requester_parent_kind) if requester_parent_kind else None
        self.scenario = Scenario(scenario)
        self.reason = reason
        self.entries = entries
        self.purpose = purpose
        self.valid_from = valid_from
        self.valid_to = valid_to
        self.delivery_method = DeliveryMethod(delivery_method)
        self.status = RequestStatus.SUBMITTED
        self.approved: tuple[RequestedEntry, ...] = ()
        self.review_comment = ""
        self.order_id: UUID | None = None

    @classmethod
    def submit(
        cls, ctx: Context, *, requester: str, requester_kind: OrgKind, requester_parent_kind: OrgKind | None,
        scenario: Scenario | str, reason: str, entries: tuple[RequestedEntry, ...], purpose: str,
        valid_from: date, valid_to: date, delivery_method: DeliveryMethod | str,
        catalog: Mapping[UUID, PublishedEntry], id: UUID,  # noqa: A002
    ) -> ShareRequest:
        _require_requester(ctx, requester)
        check_calendar(valid_from=valid_from, valid_to=valid_to)
        if scenario not in tuple(Scenario):
            raise RuleViolation(
                "SHR-1", f"Unknown scenario {scenario!r}; a request is {', '.join(Scenario)}.", scenario=str(scenario),
            )
        missing = [name for name, text in (("reason", reason), ("purpose", purpose)) if not text.strip()]
        if not entries:
            missing.append("entries")
        missing += [f"fields of {e.resource_code or e.entry_id}" for e in entries if not any(f.strip() for f in e.fields)]
        if missing:
            raise RuleViolation("SHR-2", f"The request does not state its {', '.join(missing)}.", missing=missing)
        if OrgKind.MUNICIPAL_GOVERNMENT in (requester_kind, requester_parent_kind):
            raise RuleViolation(
                "SHR-3", f"{requester} is a municipal government or one of its departments and may not apply to the "
                "Provincial Department directly.", requester=requester,
            )
        if requester_kind not in REQUESTER_KINDS:
            raise RuleViolation("SHR-3", f"A {requester_kind} does not apply for shared data (第二十三条).",
                                requester=requester)
        _check_scenario(Scenario(scenario), OrgKind(requester_kind), entries, catalog)
        ids = [e.entry_id for e in entries]
        if len(set(ids)) != len(ids):
            raise InvalidTransition("Each entry appears once in a request.")
        try:
            method = DeliveryMethod(delivery_method)
        except ValueError:
            raise InvalidTransition(f"Unknown delivery method {delivery_method!r}.") from None
        normalised = []
        for e in entries:
            fields = tuple(dict.fromkeys(f for f in e.fields if f.strip()))
            pe = check_shareable(e.entry_id, fields, catalog.get(e.entry_id))
            check_method(pe, method)
            normalised.append(RequestedEntry(entry_id=e.entry_id, resource_code=pe.resource_code, fields=fields))
        if valid_to < valid_from:
            raise InvalidTransition(f"The period ends ({valid_to}) before it starts ({valid_from}).")
        return cls._start(
            cls.Submitted, ctx, id=id, requester=requester, requester_kind=OrgKind(requester_kind),
            requester_parent_kind=OrgKind(requester_parent_kind) if requester_parent_kind else None,
            scenario=Scenario(scenario), reason=reason, entries=tuple(normalised), purpose=purpose,
            valid_from=valid_from, valid_to=valid_to, delivery_method=method,
        )

    def review(
        self, ctx: Context, *, decision: RequestDecision | str, fields: Mapping[UUID, tuple[str, ...]] | None = None,
        reason: str = "",
    ) -> None:
        """Approves (narrowing fields per entry if the Office wishes; an empty tuple drops an entry) or rejects."""
        require_office(ctx, "SHR-6", "reviews share requests")
        if self.status != RequestStatus.SUBMITTED:
            raise InvalidTransition(f"Only a submitted request is reviewed; this one is {self.status}.")
        if decision not in tuple(RequestDecision):
            raise InvalidTransition(f"A review approves or rejects, not {decision!r}.")
        if decision == RequestDecision.REJECT:
            if not reason.strip():
                raise InvalidTransition("A rejection states its reason.")
            self._record(self.Rejected, ctx, reason=reason)
            return
        asked = {e.entry_id: e for e in self.entries}
        narrowing = dict(fields or {})
        strangers = [str(k) for k in narrowing if k not in asked]
        if strangers:
            raise RuleViolation("SHR-5", f"Entries {', '.join(strangers)} were not requested.", entries=strangers)
        approved = []
        for e in self.entries:
            keep = tuple(dict.fromkeys(narrowing.get(e.entry_id, e.fields)))
            wider = tuple(f for f in keep if f not in e.fields)
            if wider:
                raise RuleViolation(
                    "SHR-5", f"The approval may narrow but never widen entry {e.resource_code}: {', '.join(wider)} "
                    "were not requested.", entry_id=str(e.entry_id), fields=list(wider),
                )
            if keep:
                approved.append(RequestedEntry(entry_id=e.entry_id, resource_code=e.resource_code, fields=keep))
        if not approved:
            raise InvalidTransition("An approval keeps at least one entry with fields; otherwise reject the request.")
        self._record(self.Approved, ctx, entries=tuple(approved), comment=reason)

    def withdraw(self, ctx: Context) -> None:
        _require_requester(ctx, self.requester)
        if self.status != RequestStatus.SUBMITTED:
            raise InvalidTransition(f"Only a request not yet reviewed is withdrawn; this one is {self.status}.")
        self._record(self.Withdrawn, ctx)

    def record_order(self, ctx: Context, *, order_id: UUID) -> None:
        """Marks the approved request as implemented by its order, so it is implemented once."""
        require_office(ctx, "SHR-6", "issues implementation orders")
        if self.status != RequestStatus.APPROVED:
            raise InvalidTransition(f"Only an approved request gets an implementation order; this one is {self.status}.")
        self._record(self.OrderIssued, ctx, order_id=order_id)


def _covers(g: GrantState, *, holder: str, spec: GrantSpec, at: datetime) -> bool:
    """An existing grant serves a new approval when it is at least as wide in fields and time (SHR-7)."""
    return (
        g.kind == GrantKind.REUSABLE and g.holder == holder and g.entry_id == spec.entry_id
        and g.method == spec.method and g.purpose == spec.purpose and g.status_at(at) == GrantStatus.ACTIVE
        and set(spec.fields) <= g.fields and g.valid_from <= spec.valid_from and g.valid_to >= spec.valid_to
    )


class ImplementationOrder(LedgerAggregate):
    """共享实施单 (附件2): the Office's order implementing an approved request, deciding its grants."""

    TOPIC = "civic-ledger:ImplementationOrder"

    class Created(LedgerAggregate.Created):
        TOPIC = "civic-ledger:ImplementationOrder.Created"
    KIND = "implementation-order"

    class Issued(Created):
        TOPIC = "civic-ledger:ImplementationOrder.Issued"
        request_id: UUID
        holder: str
        approved: tuple[RequestedEntry, ...]
        new_grants: tuple[GrantSpec, ...]
        reused: tuple[ReusedGrant, ...]

    def __init__(
        self, request_id: UUID, holder: str, approved: tuple[RequestedEntry, ...], new_grants: tuple[GrantSpec, ...],
        reused: tuple[ReusedGrant, ...], **_: Any,
    ) -> None:
        self.request_id = request_id
        self.holder = holder
        self.approved = approved
        self.new_grants = new_grants
        self.reused = reused

    @classmethod
    def issue(
        cls, ctx: Context, *, request: ShareRequest, catalog: Mapping[UUID, PublishedEntry],
        plans: Mapping[UUID, UsePlan], existing_reusable: Iterable[GrantState] = (), id: UUID,  # noqa: A002
    ) -> ImplementationOrder:
        """Decides the grants: single-use per entry for restricted data, reuse or a reusable grant otherwise."""
        require_office(ctx, "SHR-6", "issues implementation orders")
        if request.status != RequestStatus.APPROVED:
            raise InvalidTransition(f"Only an approved request is implemented; this one is {request.status}.")
        valid_from, valid_to = effective_period(request.valid_from, request.valid_to)
        if valid_to < ctx.at:
            raise InvalidTransition(f"The requested period ended on {request.valid_to}; nothing is left to implement.")
        existing = tuple(existing_reusable)
        new: list[GrantSpec] = []
        reused: list[ReusedGrant] = []
        for e in request.approved:
            pe = check_shareable(e.entry_id, e.fields, catalog.get(e.entry_id))
            check_method(pe, request.delivery_method)
            plan = plans.get(e.entry_id)
            if pe.provider_kind == OrgKind.PROVINCIAL_DEPARTMENT:
                lacking = plan.missing() if plan else ("import_plan", "storage_plan", "use_plan")
                if lacking:
                    raise RuleViolation(
                        "SHR-8", f"Entry {pe.resource_code} comes from another department ({pe.provider}); the order "
                        f"states its {', '.join(lacking)}.", entry_id=str(e.entry_id), missing=list(lacking),
                    )
            kind = GrantKind.SINGLE_USE if pe.share_class == ShareClass.RESTRICTED else GrantKind.REUSABLE
            spec = GrantSpec(
                grant_id=grant_id(id, e.entry_id), order_id=id, request_id=request.id, holder=request.requester,
                provider=pe.provider, entry_id=e.entry_id, resource_code=pe.resource_code, fields=e.fields,
                approved_fields=e.fields, purpose=request.purpose, method=request.delivery_method,
                valid_from=valid_from, valid_to=valid_to, kind=kind, use_plan=plan,
            )
            if kind == GrantKind.REUSABLE:
                serving = sorted((g for g in existing if _covers(g, holder=request.requester, spec=spec, at=ctx.at)),
                                 key=lambda g: str(g.grant_id))
                if serving:
                    reused.append(ReusedGrant(entry_id=e.entry_id, grant_id=serving[0].grant_id, fields=e.fields,
                                              use_plan=plan))
                    continue
            new.append(spec)
        return cls._start(
            cls.Issued, ctx, id=id, request_id=request.id, holder=request.requester, approved=request.approved,
            new_grants=tuple(new), reused=tuple(reused),
        )

