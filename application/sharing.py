"""Use cases of sharing (第十九条–第二十六条): requests, review, implementation orders, grants, USE-1."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid4

import msgspec
from eventsourcing.persistence import IntegrityError

from application.common import (
    Command,
    CommandResult,
    ContextMaker,
    Forbidden,
    NotFound,
    Principal,
    Service,
    VersionConflict,
)
from domain.base import Actor, Cause, Context, check_calendar
from domain.catalog import CatalogEntry
from domain.catalog_values import DeliveryMethod
from domain.grant_reviews import GrantImpact, GrantReview, ReviewOutcome
from domain.grant_status import Decision, GrantState, evaluate, grant_states_from_events
from domain.grants import Grant
from domain.organizations import OFFICE_CODE, Organization, OrgKind, Role, organization_id
from domain.sharing import ImplementationOrder, ShareRequest
from domain.sharing_values import (
    GrantKind,
    GrantStatus,
    PublishedEntry,
    RequestDecision,
    RequestedEntry,
    Scenario,
    UsePlan,
)

OFFICE = (Role.OFFICE_ADMIN,)
GRANT_KEEPERS = (Role.OFFICE_ADMIN, Role.CATALOG_REVIEWER)
SWEEPER = Actor(person="civic-ledger", organization=OFFICE_CODE, role="system")


class RequestAnswer(msgspec.Struct, frozen=True):
    id: str
    requester: str
    scenario: str
    status: str
    entries: tuple[RequestedEntry, ...]
    approved: tuple[RequestedEntry, ...]
    purpose: str
    valid_from: date
    valid_to: date
    delivery_method: str
    review_comment: str
    order_id: str | None
    version: int


class OrderAnswer(msgspec.Struct, frozen=True):
    id: str
    request_id: str
    holder: str
    new_grants: list[str]
    reused_grants: list[str]
    version: int


class GrantAnswer(msgspec.Struct, frozen=True):
    id: str
    holder: str
    provider: str
    entry_id: str
    resource_code: str
    fields: tuple[str, ...]
    purpose: str
    method: str
    valid_from: datetime
    valid_to: datetime
    kind: str
    status: str
    status_since: datetime
    consumed_at: datetime | None
    version: int


class StatusAnswer(msgspec.Struct, frozen=True):
    """The grant-status answer (USE-1) with the instant it was judged at."""

    allowed: bool
    at: datetime
    holder: str
    entry_id: UUID
    fields: tuple[str, ...]
    purpose: str
    method: str
    grant_id: UUID | None = None
    kind: str | None = None
    reasons: tuple[Any, ...] = ()
    recorded_use: bool = False
    as_known_at: datetime | None = None
    position: int | None = None


def request_answer(r: ShareRequest) -> RequestAnswer:
    return RequestAnswer(
        id=str(r.id), requester=r.requester, scenario=str(r.scenario), status=str(r.status), entries=r.entries,
        approved=r.approved, purpose=r.purpose, valid_from=r.valid_from, valid_to=r.valid_to,
        delivery_method=str(r.delivery_method), review_comment=r.review_comment,
        order_id=str(r.order_id) if r.order_id else None, version=r.version,
    )


def grant_answer(g: Grant) -> GrantAnswer:
    s = GrantState.from_grant(g)
    return GrantAnswer(
        id=str(g.id), holder=s.holder, provider=s.provider, entry_id=str(s.entry_id), resource_code=s.resource_code,
        fields=tuple(sorted(s.fields)), purpose=s.purpose, method=str(s.method), valid_from=s.valid_from,
        valid_to=s.valid_to, kind=str(s.kind), status=str(s.status), status_since=s.status_since,
        consumed_at=s.consumed_at, version=g.version,
    )


class SharingIndex(msgspec.Struct):
    """Read-model lookups a command may use to find aggregates; the aggregates themselves decide."""

    reusable_grant_ids: Callable[[str, Iterable[UUID]], list[UUID]]
    open_grant_ids_on_entry: Callable[[UUID], list[UUID]]
    grants_for: Callable[[str, UUID], list[GrantState]]
    grant_ids_for: Callable[[str, UUID], list[UUID]]
    due_for_expiry: Callable[[datetime], list[UUID]]
    #: the last ledger position recorded by an instant (None: the head), for answers as known then
    position_at: Callable[[datetime | None], int] | None = None
    #: the position the grants read model stands on
    view_position: Callable[[], int] | None = None
    #: the holder's grants on an entry with the view position they stand on at least (a cache of the view)
    grants_at: Callable[[str, UUID], tuple[list[GrantState], int]] | None = None


class SharingService(Service):
    def __init__(self, *args: Any, index: SharingIndex, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.index = index

    # -- the catalog as the sharing rules see it -----------------------------------------------

    def published(self, entry_ids: Iterable[UUID]) -> dict[UUID, PublishedEntry]:
        out: dict[UUID, PublishedEntry] = {}
        for eid in entry_ids:
            try:
                e = self.get(CatalogEntry, eid)
            except NotFound:
                continue
            if e.current is None:
                continue
            kind = self.get(Organization, organization_id(e.provider)).kind
            c = e.current.content
            out[eid] = PublishedEntry(
                entry_id=eid, resource_code=e.resource_code, provider=e.provider, provider_kind=kind,
                share_class=c.share_class, item_codes=c.item_codes(), delivery_methods=c.delivery_methods,
                published=True, retired=e.retired,
            )
        return out

    # -- requests ----------------------------------------------------------------------------

    def submit(self, p: Principal, cmd: Command, *, scenario: Scenario | str, reason: str,
               entries: tuple[RequestedEntry, ...], purpose: str, valid_from: date, valid_to: date,
               delivery_method: DeliveryMethod | str) -> CommandResult:
        def decide(context: ContextMaker) -> tuple[list[ShareRequest], RequestAnswer]:
            ctx = context(self.actor(p, (Role.REQUESTER,)))
            org = self.get(Organization, organization_id(p.acting_for))
            parent_kind: OrgKind | None = None
            if org.parent:
                try:
                    parent_kind = self.get(Organization, organization_id(org.parent)).kind
                except NotFound:
                    parent_kind = None
            r = ShareRequest.submit(
                ctx, requester=org.code, requester_kind=org.kind, requester_parent_kind=parent_kind,
                scenario=scenario, reason=reason, entries=entries, purpose=purpose, valid_from=valid_from,
                valid_to=valid_to, delivery_method=delivery_method,
                catalog=self.published(e.entry_id for e in entries), id=uuid4(),
            )
            return [r], request_answer(r)

        return self.execute(p, cmd, decide, status=201)

    def review(self, p: Principal, cmd: Command, request_id: UUID, *, decision: RequestDecision | str,
               fields: Mapping[UUID, tuple[str, ...]] | None = None, reason: str = "") -> CommandResult:
        def decide(context: ContextMaker) -> tuple[list[ShareRequest], RequestAnswer]:
            ctx = context(self.actor(p, OFFICE))
            r = self.get(ShareRequest, request_id, expected_version=cmd.expected_version)
            r.review(ctx, decision=decision, fields=fields, reason=reason)
            return [r], request_answer(r)

        return self.execute(p, cmd, decide)

    def withdraw(self, p: Principal, cmd: Command, request_id: UUID) -> CommandResult:
        def decide(context: ContextMaker) -> tuple[list[ShareRequest], RequestAnswer]:
            ctx = context(self.actor(p, (Role.REQUESTER,)))
            r = self.get(ShareRequest, request_id, expected_version=cmd.expected_version)
            r.withdraw(ctx)
            return [r], request_answer(r)

        return self.execute(p, cmd, decide)

    def issue_order(self, p: Principal, cmd: Command, request_id: UUID, *,
                    plans: Mapping[UUID, UsePlan] | None = None) -> CommandResult:
        """Issues the implementation order (附件2) and its grants, in one transaction with the request."""
        def decide(context: ContextMaker) -> tuple[list[Any], OrderAnswer]:
            ctx = context(self.actor(p, OFFICE))
            r = self.get(ShareRequest, request_id, expected_version=cmd.expected_version)
            entry_ids = [e.entry_id for e in r.approved]
            existing = [GrantState.from_grant(self.get(Grant, g)) for g in self.index.reusable_grant_ids(r.requester, entry_ids)]
            order = ImplementationOrder.issue(
                ctx, request=r, catalog=self.published(entry_ids), plans=dict(plans or {}),
                existing_reusable=existing, id=uuid4(),
            )
            grants = [Grant.create(ctx, spec=s, id=s.grant_id, decided=order.new_grants) for s in order.new_grants]
            r.record_order(ctx, order_id=order.id)
            answer = OrderAnswer(
                id=str(order.id), request_id=str(r.id), holder=order.holder,
                new_grants=[str(g.id) for g in grants], reused_grants=[str(u.grant_id) for u in order.reused],
                version=order.version,
            )
            return [order, r, *grants], answer

        return self.execute(p, cmd, decide, status=201)

    # -- grants --------------------------------------------------------------------------------

    def suspend(self, p: Principal, cmd: Command, grant_id: UUID, *, reason: str,
                effective_at: datetime | None = None) -> CommandResult:
        """Suspends now, or (the Office, TIME-1) with effect from an earlier instant."""
        return self._on_grant(p, cmd, grant_id, lambda g, ctx: g.suspend(ctx, reason, effective_at=effective_at))

    def resume(self, p: Principal, cmd: Command, grant_id: UUID) -> CommandResult:
        def act(g: Grant, ctx: Context) -> None:
            g.resume(ctx, entry=self.published([g.spec.entry_id]).get(g.spec.entry_id))

        return self._on_grant(p, cmd, grant_id, act)

    def revoke(self, p: Principal, cmd: Command, grant_id: UUID, *, reason: str,
               effective_at: datetime | None = None) -> CommandResult:
        """Revokes now, or with effect from an earlier instant (TIME-1 … TIME-3)."""
        return self._on_grant(p, cmd, grant_id, lambda g, ctx: g.revoke(ctx, reason, effective_at=effective_at),
                              roles=OFFICE)

    def correct_validity(self, p: Principal, cmd: Command, grant_id: UUID, *, valid_from: datetime,
                         valid_to: datetime, reason: str) -> CommandResult:
        """Corrects a validity recorded too wide (TIME-1 … TIME-3)."""
        return self._on_grant(p, cmd, grant_id, lambda g, ctx: g.correct_validity(
            ctx, valid_from=valid_from, valid_to=valid_to, reason=reason), roles=OFFICE)

    def _on_grant(self, p: Principal, cmd: Command, grant_id: UUID, act: Callable[[Grant, Context], None],
                  roles: tuple[Role, ...] = GRANT_KEEPERS) -> CommandResult:
        def decide(context: ContextMaker) -> tuple[list[Grant], GrantAnswer]:
            ctx = context(self.actor(p, roles))
            g = self.get(Grant, grant_id, expected_version=cmd.expected_version)
            act(g, ctx)
            return [g], grant_answer(g)

        return self.execute(p, cmd, decide)

    def load_grant(self, grant_id: UUID) -> Grant:
        return self.get(Grant, grant_id)

    def live_grants_on_entry(self, entry_id: UUID) -> list[Grant]:
        """The grants on an entry not ended (active or suspended), as the aggregates stand."""
        return [self.get(Grant, gid) for gid in self.index.open_grant_ids_on_entry(entry_id)]

    # -- re-review after a catalog revision -------------------------------------------------------

    def close_review(self, p: Principal, cmd: Command, review: UUID, *, decision: ReviewOutcome | str,
                     comment: str) -> CommandResult:
        """The Office's decision on a re-review; suspending or revoking acts on the grant in the same transaction."""
        def decide(context: ContextMaker) -> tuple[list[Any], ReviewAnswer]:
            ctx = context(self.actor(p, OFFICE))
            r = self.get(GrantReview, review, expected_version=cmd.expected_version)
            outcome = r.close(ctx, decision=decision, comment=comment)
            g = self.get(Grant, r.grant_id)
            why = f"复核 {r.resource_code} v{r.entry_version}: {comment}"
            if outcome == ReviewOutcome.SUSPEND and g.status_at(ctx.at) == GrantStatus.ACTIVE:
                g.suspend(ctx, why)
            elif outcome == ReviewOutcome.REVOKE and g.status_at(ctx.at) in (GrantStatus.ACTIVE, GrantStatus.SUSPENDED):
                g.revoke(ctx, why)
            return [r, g], review_answer(r)

        return self.execute(p, cmd, decide)

    def grants_suspended_for_catalog(self, ctx: Context, entry_id: UUID, reason: str) -> list[Grant]:
        """The open grants on an entry, suspended because it was retired or became not shareable."""
        out = []
        for gid in self.index.open_grant_ids_on_entry(entry_id):
            g = self.get(Grant, gid)
            g.suspend_for_catalog(ctx, reason)
            if g.pending_events:
                out.append(g)
        return out

    def expire_due(self, now: datetime | None = None) -> int:
        """The sweep: records `Expired` for grants past their end (the query never waits for it)."""
        at = now or self.clock.now()
        done = 0
        for gid in self.index.due_for_expiry(at):
            g = self.get(Grant, gid)
            if g.status_at(at) != "expired" or g.status == "expired":
                continue
            ctx = Context(actor=SWEEPER, at=at, cause=Cause(command="grant.expire_sweep"))
            g.expire(ctx)
            try:
                recordings = self.ledger.save(g)
            except IntegrityError:
                continue  # another sweeper or writer got there first
            done += 1
            if self.on_saved and recordings:
                self.on_saved(recordings[-1].notification.id)
        return done

    # -- USE-1: the grant-status query -----------------------------------------------------------

    def may_ask(self, p: Principal, holder: str, provider: str | None) -> None:
        if p.sees_everything or Role.PLATFORM in p.roles:
            return
        if p.acting_for in (holder, provider):
            return
        raise Forbidden("Only the platform, the Office, auditors, and the holder or provider concerned ask about a grant.")

    def status(self, *, holder: str, entry_id: UUID, fields: tuple[str, ...], purpose: str, method: str,
               at: datetime | None = None, as_known_at: datetime | None = None) -> StatusAnswer:
        """USE-1 as at `at` (effective time), as known at `as_known_at` (recorded time); None is now for each.

        Now and as known now: the active-grants read model. Otherwise the grants' events in the
        ledger prefix recorded by `as_known_at`, folded at `at` (back-dated corrections included).
        """
        check_calendar(at=at, as_known_at=as_known_at)
        now = self.clock.now()
        when = at or now
        known_now = as_known_at is None or as_known_at >= now
        known = now if known_now or as_known_at is None else as_known_at
        position: int | None
        if (at is None or at >= now) and known_now:
            if self.index.grants_at is not None:
                states, position = self.index.grants_at(holder, entry_id)
            else:
                states = self.index.grants_for(holder, entry_id)
                position = self.index.view_position() if self.index.view_position else None
        else:
            position = self.index.position_at(None if known_now else known) if self.index.position_at else None
            states = list(self._history_states(holder, entry_id, when, position).values())
        return _status_answer(evaluate(states, holder=holder, entry_id=entry_id, fields=fields, purpose=purpose,
                                       method=method, at=when), holder, entry_id, fields, purpose, method, when,
                              as_known_at=known, position=position)

    def status_from_events(self, *, holder: str, entry_id: UUID, fields: tuple[str, ...], purpose: str, method: str,
                           at: datetime | None = None) -> tuple[StatusAnswer, list[int]]:
        """The answer judged from the stored events of the holder's grants for the entry alone, and the
        positions of those events: what an answer that carries its proof rests on."""
        check_calendar(at=at)
        now = self.clock.now()
        when = at or now
        events: list[Any] = []
        positions: list[int] = []
        for gid in self.index.grant_ids_for(holder, entry_id):
            for position, stored in self.ledger.stored_events_of(gid):
                events.append(self.ledger.mapper.to_domain_event(stored))
                positions.append(position)
        head = self.index.position_at(None) if self.index.position_at else None  # every event read is at or before
        states = grant_states_from_events(events, when)
        d = evaluate(states.values(), holder=holder, entry_id=entry_id, fields=fields, purpose=purpose, method=method,
                     at=when)
        return _status_answer(d, holder, entry_id, fields, purpose, method, when, as_known_at=now,
                              position=head), positions

    def _history_states(self, holder: str, entry_id: UUID, until: datetime,
                        position: int | None = None) -> dict[UUID, GrantState]:
        """The grants of `holder` on `entry_id` at effective instant `until`, from their events up to `position`."""
        events: list[Any] = []
        for gid in self.index.grant_ids_for(holder, entry_id):
            events += [self.ledger.mapper.to_domain_event(s) for p, s in self.ledger.stored_events_of(gid)
                       if position is None or p <= position]
        return grant_states_from_events(events, until)

    def use(self, p: Principal, cmd: Command, *, holder: str, entry_id: UUID, fields: tuple[str, ...],
            purpose: str, method: str) -> tuple[StatusAnswer, int | None]:
        """Checks an access now against the grants themselves and records it: a single-use grant is consumed."""
        answer, position, _ = self.use_or_replay(p, cmd, holder=holder, entry_id=entry_id, fields=fields,
                                                 purpose=purpose, method=method)
        return answer, position

    def use_or_replay(self, p: Principal, cmd: Command, *, holder: str, entry_id: UUID, fields: tuple[str, ...],
                      purpose: str, method: str) -> tuple[StatusAnswer, int | None, bool]:
        """As `use`, and says whether the answer replays an earlier request with the same idempotency key.

        Judged from the aggregates, not the read model, so two racing uses of one single-use
        grant cannot both be allowed: the second loses on the grant's version and is judged again.
        """
        def decide(context: ContextMaker) -> tuple[list[Grant], StatusAnswer]:
            ctx = context(self.actor(p, (Role.PLATFORM, Role.OFFICE_ADMIN)))
            grants = [self.get(Grant, gid) for gid in self.index.grant_ids_for(holder, entry_id)]
            d = evaluate([GrantState.from_grant(g) for g in grants], holder=holder, entry_id=entry_id, fields=fields,
                         purpose=purpose, method=method, at=ctx.at)
            answer = _status_answer(d, holder, entry_id, fields, purpose, method, ctx.at)
            if d.allowed and d.kind == GrantKind.SINGLE_USE:
                used = next(g for g in grants if g.id == d.grant_id)
                used.consume(ctx, ctx.at)
                return [used], msgspec.structs.replace(answer, recorded_use=True)
            return [], answer

        for _ in range(3):
            try:
                result = self.execute(p, cmd, decide)
            except VersionConflict:
                continue
            return msgspec.json.decode(result.body, type=StatusAnswer), result.position, result.replayed
        raise VersionConflict("The grant was changed by concurrent accesses; ask again.")


class ReviewAnswer(msgspec.Struct, frozen=True):
    id: str
    grant_id: str
    entry_id: str
    resource_code: str
    entry_version: int
    holder: str
    status: str
    decision: str | None
    comment: str
    impact: GrantImpact
    version: int


def review_answer(r: GrantReview) -> ReviewAnswer:
    return ReviewAnswer(id=str(r.id), grant_id=str(r.grant_id), entry_id=str(r.entry_id),
                        resource_code=r.resource_code, entry_version=r.entry_version, holder=r.holder,
                        status=str(r.status), decision=str(r.decision) if r.decision else None, comment=r.comment,
                        impact=r.impact, version=r.version)


def _status_answer(d: Decision, holder: str, entry_id: UUID, fields: tuple[str, ...], purpose: str, method: str,
                   at: datetime, *, as_known_at: datetime | None = None, position: int | None = None) -> StatusAnswer:
    return StatusAnswer(
        allowed=d.allowed, at=at, holder=holder, entry_id=entry_id, fields=fields, purpose=purpose, method=method,
        grant_id=d.grant_id, kind=str(d.kind) if d.kind else None, reasons=d.reasons,
        as_known_at=as_known_at or at, position=position,
    )
