"""Wires one running civic-ledger: the store, the read models, tokens and the use-case services."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import msgspec
from eventsourcing.application import AggregateNotFoundError

from application.access_log import AccessLogService
from application.catalog import CatalogService
from application.common import Clock, Principal, RuleForbidden, SystemClock
from application.compliance import ComplianceService
from application.feeds import FeedService
from application.history import HistoryService
from application.integrity import IntegrityService
from application.maintenance import MaintenanceService
from application.monitors import MonitorService
from application.organizations import OrganizationService
from application.receipts import ReceiptService
from application.sharing import SharingIndex, SharingService
from application.systems import FreshGrants, SystemsService
from application.webhooks import WebhookService
from domain.base import Actor, Cause, Context, check_calendar, ledger_date
from domain.organizations import OFFICE_CODE, Level, Organization, OrgKind, Role, organization_id
from domain.rules import RuleViolation
from infrastructure.config import Settings
from infrastructure.egress import EgressPolicy
from infrastructure.sql import MemoryDb
from infrastructure.store import Ledger
from infrastructure.tokens import TokenStore
from projections.access_log_queries import AccessLogQueries
from projections.compliance import ComplianceQueries
from projections.maintenance_queries import MaintenanceQueries
from projections.queries import CatalogQueries, OrganizationQueries
from projections.registry import all_views
from projections.runner import Projector
from projections.sharing_queries import SharingQueries
from projections.systems_queries import SystemQueries
from projections.timetravel import TimeTravel


class Runtime:
    def __init__(self, settings: Settings | None = None, clock: Clock | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.clock = clock or SystemClock()
        self.ledger = Ledger(self.settings)
        self.projector = Projector(self.ledger, all_views())
        self.tokens = TokenStore(self.ledger.db)
        self._sweeper: threading.Thread | None = None
        self._sweep_stop = threading.Event()
        nudge = self.projector.nudge
        self._callers: dict[str, tuple[float, Principal, Organization]] = {}
        self.organizations = OrganizationService(self.ledger, self.clock, self._org_saved)
        self.sharing_queries = SharingQueries(self.ledger.db)
        self.sharing = SharingService(self.ledger, self.clock, nudge, index=self._sharing_index())
        self.catalog = CatalogService(self.ledger, self.clock, nudge, sharing=self.sharing)
        self.catalog_queries = CatalogQueries(self.ledger.db, self.settings.overdue_grace_days)
        self.organization_queries = OrganizationQueries(self.ledger.db)
        self.history = HistoryService(self.ledger)
        self.maintenance = MaintenanceService(self.ledger, self.clock, nudge, load_grant=self.sharing.load_grant,
                                              deadline_days=self.settings.objection_deadline_days)
        self.maintenance_queries = MaintenanceQueries(self.ledger.db)
        self.system_queries = SystemQueries(self.ledger.db)
        self.systems = SystemsService(self.ledger, self.clock, nudge, grants_on_entry=FreshGrants(
            self.projector, self.ledger.max_position, self.system_queries.open_grants_on_entry))
        self.access_log_queries = AccessLogQueries(self.ledger.db)
        self.access_log = AccessLogService(self.ledger, self.clock, nudge, projector=self.projector,
                                           queries=self.access_log_queries)
        self.timetravel = TimeTravel(self.ledger, all_views, checkpoint_every=self.settings.state_checkpoint_every)
        self.integrity = IntegrityService(self.ledger, self.projector, self.clock)
        self.receipts = ReceiptService(self.ledger, self.integrity, self.projector, self.clock)
        self.feeds = FeedService(self.ledger, self.projector)
        self.feeds.receipt_of = self.receipts.for_reader  # access-log events carry their receipt (第二十二条)
        self.webhooks = WebhookService(self.ledger, self.feeds,
                                       egress=EgressPolicy.parse(self.settings.webhook_allow_hosts))
        self.compliance = ComplianceService(self.ledger, self.clock, nudge)
        self.compliance_queries = ComplianceQueries(self.ledger.db, self.settings.overdue_grace_days,
                                                    non_compliant_systems=self.system_queries.compliance)
        self.monitors = MonitorService(self.ledger, self.clock, nudge, projector=self.projector,
                                       catalog=self.catalog_queries, maintenance=self.maintenance_queries)

    def _org_saved(self, position: int) -> None:
        self.projector.nudge(position)
        self.forget_callers()

    def _sharing_index(self) -> SharingIndex:
        """Lookups for commands; the grants view is caught up first so no recent grant is missed."""
        q = self.sharing_queries

        def fresh(fn: Callable[..., Any]) -> Callable[..., Any]:
            def call(*args: Any) -> Any:
                self.projector.wait_for(self.ledger.max_position(), "sharing")
                return fn(*args)
            return call

        return SharingIndex(
            reusable_grant_ids=fresh(q.reusable_grant_ids),
            open_grant_ids_on_entry=fresh(q.open_grant_ids_on_entry),
            grants_for=q.grants_for,
            grant_ids_for=fresh(q.grant_ids_for),
            due_for_expiry=fresh(q.due_for_expiry),
        )

    def start_background(self, sweep_seconds: float = 60.0) -> None:
        """The projector's worker, the sweep that records expired grants, and the webhook deliveries."""
        self.projector.start()
        self.webhooks.start()
        if self._sweeper is not None:
            return
        stop = self._sweep_stop
        stop.clear()

        def sweep() -> None:
            while not stop.wait(sweep_seconds):
                try:
                    self.sharing.expire_due()
                    self.timetravel.checkpoint()
                    self.monitors.run(self.clock.now())
                    self.integrity.sign_if_due()
                except Exception:  # the next round retries
                    logging.getLogger(__name__).exception("background sweep failed")

        self._sweeper = threading.Thread(target=sweep, name="grant-sweeper", daemon=True)
        self._sweeper.start()

    def stop_background(self) -> None:
        self._sweep_stop.set()
        self.webhooks.stop()
        self.feeds.hub.stop()
        if self._sweeper is not None:
            self._sweeper.join(timeout=10)
            self._sweeper = None
        self.projector.stop()

    def close(self) -> None:
        self.stop_background()
        self.ledger.close()

    # -- bootstrap -------------------------------------------------------------------------

    def init(self, *, admin: str = "office-admin", office_name: str = "陕西省民政厅办公室") -> tuple[bool, str]:
        """Registers the Office (once) and issues a token for its first admin; returns (created, token)."""
        self.integrity.ensure_key()  # the ledger's checkpoint signing key, made once if absent
        created = False
        try:
            office: Organization = self.ledger.repository.get(organization_id(OFFICE_CODE))
        except AggregateNotFoundError:
            ctx = Context(actor=Actor(admin, OFFICE_CODE, Role.OFFICE_ADMIN), at=self.clock.now(),
                          cause=Cause("civic-ledger init"))
            office = Organization.register(ctx, code=OFFICE_CODE, name=office_name, kind=OrgKind.OFFICE,
                                           level=Level.PROVINCE, parent=None)
            office.assign_role(ctx, person=admin, role=Role.OFFICE_ADMIN)
            self.ledger.save(office)
            created = True
        if not office.holds(admin, Role.OFFICE_ADMIN):
            ctx = Context(actor=Actor(admin, OFFICE_CODE, Role.OFFICE_ADMIN), at=self.clock.now(),
                          cause=Cause("civic-ledger init"))
            office.assign_role(ctx, person=admin, role=Role.OFFICE_ADMIN)
            self.ledger.save(office)
        _, token = self.tokens.create(person=admin, organization=OFFICE_CODE, roles=(Role.OFFICE_ADMIN,))
        return created, token

    def issue_token(self, *, org: str, person: str, roles: tuple[str, ...], by: str = "office-admin") -> str:
        """Assigns the roles to the person (as the Office, ORG-1) where needed, then issues a token."""
        wanted = tuple(Role(r) for r in roles)
        try:
            target: Organization = self.ledger.repository.get(organization_id(org))
        except AggregateNotFoundError:
            raise RuleViolation("ORG-1", f"No organization {org} is registered.") from None
        ctx = Context(actor=Actor(by, OFFICE_CODE, Role.OFFICE_ADMIN), at=self.clock.now(),
                      cause=Cause("civic-ledger token create"))
        for role in wanted:
            target.assign_role(ctx, person=person, role=role)
        if target.pending_events:
            self.ledger.save(target)
            self.forget_callers()
        _, token = self.tokens.create(person=person, organization=org, roles=tuple(str(r) for r in wanted))
        return token

    def principal(self, token: str, on_behalf_of: str | None = None) -> Principal | None:
        """The caller a token stands for, with only the roles still assigned to the person.

        Naming another organization (X-On-Behalf-Of) is checked here, once for reads and writes:
        a caller without an authorisation from it active today is refused (ORG-2, 403).
        Resolved callers are cached for `CIVIC_LEDGER_AUTH_CACHE_SECONDS`; a role, authorisation
        or token change made through this process clears the cache at once, one made by another
        process takes effect within that time.
        """
        now = time.monotonic()
        cached = self._callers.get(token)
        org: Organization
        if cached is not None and cached[0] > now:
            base, org = cached[1], cached[2]
        else:
            holder = self.tokens.lookup(token)
            if holder is None:
                return None
            try:
                org = self.ledger.repository.get(organization_id(holder.organization))
            except AggregateNotFoundError:
                return None
            roles = frozenset(r for r in holder.roles if org.holds(holder.person, Role(r)))
            base = Principal(person=holder.person, organization=holder.organization, roles=roles)
            if self.settings.auth_cache_seconds > 0:
                if len(self._callers) > 10_000:
                    self._callers.clear()
                self._callers[token] = (now + self.settings.auth_cache_seconds, base, org)
        if on_behalf_of is None:
            return base
        try:
            org.check_acts_for(on_behalf_of, ledger_date(self.clock.now()))
        except RuleViolation as refused:
            raise RuleForbidden(refused) from None
        return msgspec.structs.replace(base, on_behalf_of=on_behalf_of)

    def forget_callers(self, _position: int | None = None) -> None:
        self._callers.clear()

    def revoke_token(self, token_id: str) -> bool:
        done = self.tokens.revoke(token_id)
        self.forget_callers()
        return done

    def state_at(self, at: datetime) -> tuple[int, MemoryDb]:
        """The ledger position recorded by `at`, and an in-memory replica of the read models there."""
        check_calendar(at=at)
        self.projector.wait_for(self.ledger.max_position(), "ledger_times")
        position = self.timetravel.position_at(at)
        return position, self.timetravel.replica(position)

    def today(self) -> date:
        """Today in the ledger's calendar (Beijing)."""
        return ledger_date(self.clock.now())

    def now(self) -> datetime:
        return self.clock.now()
