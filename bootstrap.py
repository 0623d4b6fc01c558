"""The composition root: wires one running civic-ledger — the store, the read models, the use-case
services and the background duties — for the API, the CLI and the tests.

Nothing in `domain/`, `application/`, `projections/` or `infrastructure/` imports this module
(an import-linter contract says so); they take the parts they use.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import psycopg
from eventsourcing.application import AggregateNotFoundError

from application.access_log import AccessLogService
from application.answer_proofs import GrantStatusParts
from application.backup import LedgerParts
from application.callers import Callers
from application.catalog import CatalogService
from application.common import ApplicationError, Clock, Principal, SystemClock
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
from infrastructure.config import Settings, sqlite_path
from infrastructure.egress import EgressPolicy
from infrastructure.election import (
    AdvisoryLockElection,
    AlwaysLeader,
    Election,
    active_worker,
    candidates,
    lock_key,
)
from infrastructure.pg_channel import CALLERS, Listener, conninfo, process_name
from infrastructure.sql import MemoryDb, SqliteCommits
from infrastructure.store import Ledger
from infrastructure.tokens import TokenStore
from projections.access_log_queries import AccessLogQueries
from projections.catalog_queries import CatalogQueries
from projections.compliance import ComplianceQueries
from projections.maintenance_queries import MaintenanceQueries
from projections.organization_queries import OrganizationQueries
from projections.registry import all_views
from projections.runner import Projector
from projections.sharing_queries import GrantCache, ReviewQueries, SharingQueries
from projections.state_changes import changes as state_changes
from projections.systems_queries import SystemQueries
from projections.timetravel import Cut, TimeTravel

log = logging.getLogger(__name__)
SETUP_LOCK = 1  # the second key of the advisory lock taken while a process creates its tables


class Runtime:
    """One process's civic-ledger: the store, the read models, tokens and the services.

    `role` says what the process is for: `standalone` (the tests and the CLI's one-shot commands:
    it catches read models up itself when it reads), `serve` (HTTP, and the background duties under
    the election unless `background=False` is given to `start`), or `worker` (the duties only).
    """

    def __init__(self, settings: Settings | None = None, clock: Clock | None = None, *,
                 role: str = "standalone") -> None:
        self.settings = settings or Settings.from_env()
        self.clock = clock or SystemClock()
        self.role = role
        with schema_lock(self.settings):
            self._wire()

    def _wire(self) -> None:
        self.ledger = Ledger(self.settings)
        self.projector = Projector(self.ledger, all_views(), build_page_size=10000)
        self.projector.max_wait = self.settings.min_position_wait_seconds
        self.channel: str | None = None
        if self.ledger.backend == "postgres":  # other processes learn of committed pages and caller changes
            self.channel = self.ledger.recorder.channel_name  # type: ignore[attr-defined]
            self.projector.channel = self.channel
        self.tokens = TokenStore(self.ledger.db)
        self.callers = Callers(self.ledger, self.tokens, self.clock, self.settings.auth_cache_seconds)
        nudge = self.projector.nudge
        self.organizations = OrganizationService(self.ledger, self.clock, self._org_saved)
        self.sharing_queries = SharingQueries(self.ledger.db)
        self.review_queries = ReviewQueries(self.ledger.db)
        path = sqlite_path(self.settings.database_url) if self.ledger.backend == "sqlite" else ":memory:"
        self._sqlite_commits = SqliteCommits(path) if path != ":memory:" else None
        self._sqlite_seen = -1  # the file's commit number when the grants view's position was last read
        self.grant_cache = GrantCache(self.sharing_queries, self._sharing_stored, self._sharing_announced,
                                      recheck_seconds=self.settings.grant_cache_recheck_seconds)
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
        self.timetravel = TimeTravel(self.ledger, all_views, checkpoint_every=self.settings.state_checkpoint_every,
                                     rebase_share=self.settings.state_checkpoint_rebase)
        self.integrity = IntegrityService(self.ledger, self.projector, self.clock)
        self.grant_status = GrantStatusParts(self.sharing, self.grant_cache, self.projector, self.integrity,
                                             self.ledger)
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
        self.duties = Duties(self)
        self.election: Election = (AdvisoryLockElection(self.settings, self.role)
                                   if self.ledger.backend == "postgres" else AlwaysLeader())
        self.listener: Listener | None = None
        self.background = False
        self.started_at = time.time()

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
            grants_at=self.grant_cache.grants_at,
            grant_ids_for=fresh(q.grant_ids_for),
            due_for_expiry=fresh(q.due_for_expiry),
            position_at=self._known_position,
            view_position=lambda: self.projector.position("sharing"),
        )

    def _sharing_stored(self) -> int:
        """The grants view's stored position, which this process now knows too."""
        seen = self._sqlite_commits.version() if self._sqlite_commits is not None else -1
        position = self.projector.position("sharing")
        self._sqlite_seen = seen  # a commit after `seen` is looked at again next time
        self.projector.board.tell("sharing", position)
        return position

    def _sharing_announced(self) -> int | None:
        """The grants view's position as this process was told of it, or None when it may have missed a page:
        on SQLite when anything was committed to the file since the last look (another process on the same
        file tells nothing), on PostgreSQL without a listener or while it reconnects."""
        if self._sqlite_commits is not None:
            if self._sqlite_commits.version() != self._sqlite_seen:
                return None
            return self.projector.board.known("sharing")
        listener = self.listener
        if listener is None or not listener.connected:
            return None
        return self.projector.board.known("sharing")

    def _known_position(self, at: datetime | None) -> int:
        """The last ledger position recorded by `at` (the head for None)."""
        head = self.ledger.max_position()
        if at is None:
            return head
        self.projector.wait_for(head, "ledger_times", "ledger_corrections")
        return self.timetravel.position_at(at)

    # -- background duties -------------------------------------------------------------------

    def start_background(self, sweep_seconds: float = 60.0) -> None:
        """Takes part in the election and, while elected, runs the duties: the projector's worker, the sweep
        (expiry, state checkpoints, monitors, signing) and the webhooks. On SQLite this process is elected at once."""
        self.listen()
        self.background = True
        election = self.election
        self.projector.self_serve = lambda: election.is_leader
        election.start(on_elected=lambda: self.duties.start(sweep_seconds), on_deposed=self.duties.stop)

    def serve_only(self) -> None:
        """An API process without duties (PostgreSQL): reads wait for the elected worker's projection."""
        if self.ledger.backend != "postgres":
            raise ValueError("Only PostgreSQL has other processes to do the background work.")
        self.listen()
        self.projector.self_serve = lambda: False

    def listen(self) -> None:
        """Follows the other processes (PostgreSQL): their committed pages, events and caller changes."""
        if self.channel is None or self.listener is not None:
            return
        projector, hub, callers = self.projector, self.feeds.hub, self.callers

        def on_event() -> None:  # a commit in any process: the event streams wake, then the projector
            # The streams first: the hub reads the tail in this thread before the projector, woken, competes
            # with it for the interpreter; the projector's catch-up waits only for that one read.
            try:
                hub.wake()
            finally:
                projector.nudge()

        def on_connected() -> None:  # what was announced while disconnected is re-read
            callers.forget()
            hub.wake()

        self.listener = Listener(self.settings, self.channel, role=self.role, on_event=on_event,
                                 on_view=projector.board.tell, on_callers=callers.forget,
                                 on_connected=on_connected, on_disconnected=hub.wake)
        listener = self.listener
        self.callers.trusted = lambda: listener.connected  # announcements may be missed while it reconnects
        hub.channel_up = lambda: listener.connected  # while it is down the streams poll the head again
        self.projector.projector_active = self.worker_active
        listener.start()

    def worker_active(self) -> bool:
        if self.election.is_leader:
            return True
        return self.ledger.backend == "postgres" and active_worker(self.ledger.db, self.settings) is not None

    def stop_background(self) -> None:
        self.election.stop()
        self.duties.stop()
        self.feeds.hub.stop()

    def close(self) -> None:
        self.stop_background()
        if self.listener is not None:
            self.listener.stop()
            self.listener = None
        if self._sqlite_commits is not None:
            self._sqlite_commits.close()
        self.ledger.close()

    def process(self) -> dict[str, Any]:
        """Which process this is and what it does (for /health and /metrics)."""
        return {"pid": os.getpid(), "host": socket.gethostname(), "role": self.role,
                "background": "elected" if self.election.is_leader else "standby" if self.background else "none",
                "listening": None if self.listener is None else self.listener.connected}

    def election_state(self) -> dict[str, Any]:
        """The election as this process and the database see it."""
        postgres = self.ledger.backend == "postgres"
        if postgres:
            active = active_worker(self.ledger.db, self.settings)
        elif self.election.is_leader:
            active = {"role": self.role, "host": socket.gethostname(), "pid": os.getpid()}
        else:
            active = None
        return {"kind": self.election.kind, "active_worker": active, "this_process_active": self.election.is_leader,
                "candidates": candidates(self.ledger.db) if postgres else int(self.background),
                "terms": self.election.terms}

    # -- bootstrap of the first admin and of tokens -----------------------------------------

    def init(self, *, admin: str = "office-admin", office_name: str = "陕西省民政厅办公室") -> tuple[bool, str]:
        """Registers the Office (once) and issues a token for its first admin; returns (created, token)."""
        self.integrity.ensure_key()  # the ledger's checkpoint signing key, made once if absent
        created = False
        ctx = Context(actor=Actor(admin, OFFICE_CODE, Role.OFFICE_ADMIN), at=self.clock.now(),
                      cause=Cause("civic-ledger init"))
        try:
            office: Organization = self.ledger.repository.get(organization_id(OFFICE_CODE))
        except AggregateNotFoundError:
            office = Organization.register(ctx, code=OFFICE_CODE, name=office_name, kind=OrgKind.OFFICE,
                                           level=Level.PROVINCE, parent=None)
            office.assign_role(ctx, person=admin, role=Role.OFFICE_ADMIN)
            self.ledger.save(office)
            created = True
        if not office.holds(admin, Role.OFFICE_ADMIN):
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

    # -- callers -----------------------------------------------------------------------------

    def principal(self, token: str, on_behalf_of: str | None = None) -> Principal | None:
        """The caller a token stands for (see `application.callers`)."""
        return self.callers.principal(token, on_behalf_of)

    def backup_parts(self) -> LedgerParts:
        """The parts of this runtime a backup reads and a restore writes (`application.backup`)."""
        return LedgerParts(ledger=self.ledger, projector=self.projector, integrity=self.integrity,
                           forget_callers=self.forget_callers)

    def forget_callers(self, _position: int | None = None) -> None:
        """A token, role or authorisation changed: this process forgets its callers now, the others when
        the notification reaches them (within milliseconds)."""
        self.callers.forget()
        if self.channel is not None:
            try:
                with self.ledger.db.write() as tx:
                    tx.execute("SELECT pg_notify(?, ?)", (self.channel, CALLERS))
            except Exception:  # the change is committed; the others' cache lifetime still bounds it
                log.exception("could not announce a caller change")

    def revoke_token(self, token_id: str) -> bool:
        done = self.tokens.revoke(token_id)
        self.forget_callers()
        return done

    # -- time --------------------------------------------------------------------------------

    def state_at(self, at: datetime) -> tuple[int, MemoryDb]:
        """The state as at `at`, as known now: the position it is cut at and a replica of the read models."""
        cut, db = self.state_as_of(at, None)
        return cut.position, db

    def state_as_of(self, at: datetime | None, as_known_at: datetime | None) -> tuple[Cut, MemoryDb]:
        """The read models as at `at` (effective time), as known at `as_known_at` (recorded time); None is now."""
        check_calendar(at=at, as_known_at=as_known_at)
        self.projector.wait_for(self.ledger.max_position(), "ledger_times", "ledger_corrections")
        now = self.clock.now()
        cut = self.timetravel.cut(at or now, min(as_known_at or now, now))
        return cut, self.timetravel.replica_for(cut)

    def state_changes(self, at: datetime | None, known_from: datetime,
                      known_to: datetime | None) -> dict[str, Any]:
        """What the ledger learned between `known_from` and `known_to` (now) that changed its answer about `at`."""
        check_calendar(at=at, known_from=known_from, known_to=known_to)
        self.projector.wait_for(self.ledger.max_position(), "ledger_times", "ledger_corrections")
        now = self.clock.now()
        to = min(known_to or now, now)
        if known_from > to:
            raise ApplicationError("known_from comes before known_to (and neither after now).")
        return state_changes(self.timetravel, at or now, known_from, to)

    def today(self) -> date:
        """Today in the ledger's calendar (Beijing)."""
        return ledger_date(self.clock.now())

    def now(self) -> datetime:
        return self.clock.now()


@contextmanager
def schema_lock(settings: Settings) -> Iterator[None]:
    """On PostgreSQL, one process at a time creates its tables (CREATE … IF NOT EXISTS is not safe against
    another session doing the same at that moment): processes started together on an empty database
    take turns; on SQLite the file's write lock already serialises them."""
    if settings.backend != "postgres":
        yield
        return
    with psycopg.connect(**conninfo(settings, process_name("setup", "any"))) as conn:
        conn.execute("SELECT pg_advisory_lock(%s, %s)", (lock_key(settings)[0], SETUP_LOCK))
        yield


class Duties:
    """The background duties of one process: the projector's worker, the webhook deliveries, and the
    sweep that records expired grants, stores state checkpoints, runs the monitors and signs checkpoints."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._sweeper: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._sweeper is not None

    def start(self, sweep_seconds: float = 60.0) -> None:
        with self._lock:
            if self._sweeper is not None:
                return
            self.rt.projector.start()
            self.rt.webhooks.start()
            self._stop.clear()
            self._sweeper = threading.Thread(target=self._sweep, args=(sweep_seconds,), name="grant-sweeper",
                                             daemon=True)
            self._sweeper.start()

    def stop(self) -> None:
        with self._lock:
            # Every duty is told first, so none starts new work while another finishes what it holds
            # (a webhook attempt in flight ends within its timeout, under its lease).
            self._stop.set()
            self.rt.projector.stop(join=False)
            self.rt.webhooks.stop()
            if self._sweeper is not None:
                self._sweeper.join(timeout=10)
                self._sweeper = None
            self.rt.projector.stop()

    def sweep_once(self) -> None:
        rt = self.rt
        rt.sharing.expire_due()
        rt.timetravel.checkpoint()
        rt.monitors.run(rt.clock.now())
        rt.integrity.sign_if_due()

    def _sweep(self, every: float) -> None:
        while not self._stop.wait(every):
            try:
                self.sweep_once()
            except Exception:  # the next round retries
                log.exception("background sweep failed")
