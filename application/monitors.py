"""The compliance monitors: they follow the ledger and the read models and raise violation candidates, each once.

A candidate's id follows from its kind, subject and evidence key (`violation_id`), so a monitor
run again, after a crash, or after the read models were rebuilt finds the candidate already on
the ledger and records nothing. Which case each monitor watches:

- VIO-1: a published entry overdue for update (CAT-7), once per missed cycle (key: entry id and due date);
- VIO-2: an objection unanswered past its deadline (QLT-1), once per objection;
- VIO-3: an access denied for lack of grant, another purpose or fields not granted (key: request id), and a
  batch execution refused under MNT-2 (key: batch id and attempt version);
- VIO-4: a delivery asked for under a grant held by another organization: the log record names a grant whose
  holder is not the record's holder, so the grant's holder was acting as a proxy (USE-2); the subject is the
  grant's holder. Such a record is raised as VIO-4 only, not also as VIO-3.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from application.common import Service
from domain.access_log import AccessLogBatch, AccessRecord, Outcome
from domain.base import Actor, Cause, Context, ledger_date
from domain.catalog_values import CYCLE_PERIOD, UpdateCycle
from domain.compliance import Evidence, EvidenceKind, Violation, ViolationKind, violation_id
from domain.grants import Grant
from domain.maintenance import BatchModification
from domain.organizations import OFFICE_CODE, Role
from infrastructure import side_tables
from projections.catalog_queries import CatalogFilter, CatalogQueries
from projections.maintenance_queries import MaintenanceQueries
from projections.runner import Projector
from projections.scope import EVERYTHING

NAME = "compliance"
MONITOR = f"monitor:{NAME}"
DENIALS = frozenset({"no_grant", "other_purpose", "field_not_granted"})
_TOPICS = (get_topic(AccessLogBatch.Recorded), get_topic(BatchModification.ExecutionRefused))


class Candidate(msgspec.Struct, frozen=True):
    kind: ViolationKind
    subject: str
    key: str
    summary: str
    evidence: tuple[Evidence, ...]

    @property
    def id(self) -> UUID:
        return violation_id(self.kind, self.subject, self.key)


class MonitorRun(msgspec.Struct, frozen=True):
    """What one run did: candidates raised (new ones only), events scanned, and the position reached."""

    raised: int
    scanned: int
    position: int
    by_kind: dict[str, int]


class MonitorService(Service):
    def __init__(self, *args: Any, projector: Projector, catalog: CatalogQueries, maintenance: MaintenanceQueries,
                 page_size: int = 500, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.projector = projector
        self.catalog = catalog
        self.maintenance = maintenance
        self.page_size = page_size
        side_tables.create(self.ledger.db, side_tables.MONITOR_POSITIONS)

    def position(self) -> int:
        return side_tables.monitor_position(self.ledger.db, NAME)

    def run(self, now: datetime | None = None) -> MonitorRun:
        """Scans the ledger since the last run, then the read models at `now`; raises what is new."""
        now = now or self.clock.now()
        counts: dict[str, int] = {}
        scanned = 0
        start = self.position()
        head = self.ledger.max_position()
        while start < head:
            notes = self.ledger.recorder.select_notifications(start=start, limit=self.page_size, stop=head,
                                                              topics=_TOPICS, inclusive_of_start=False)
            found = [c for n in notes for c in self._from_event(self.ledger.mapper.to_domain_event(n), n.id)]
            self._raise(found, now, counts)
            scanned += len(notes)
            start = notes[-1].id if len(notes) == self.page_size else head
            self._advance(start)
        self.projector.wait_for(head, "catalog", "maintenance")
        self._raise(list(self._overdue_entries(now)), now, counts)
        self._raise(list(self._overdue_objections(now)), now, counts)
        return MonitorRun(raised=sum(counts.values()), scanned=scanned, position=start, by_kind=counts)

    # -- from the event stream ------------------------------------------------------------

    def _from_event(self, event: Any, position: int) -> Iterator[Candidate]:
        ref = f"{event.originator_id}:{event.originator_version}"
        if isinstance(event, AccessLogBatch.Recorded):
            holders: dict[UUID, str | None] = {}
            for r in event.records:
                if r.outcome == Outcome.DENIED:
                    c = self._denied(r, ref, position, holders)
                    if c is not None:
                        yield c
        elif isinstance(event, BatchModification.ExecutionRefused):
            batch: BatchModification = self.ledger.repository.get(event.originator_id,
                                                                  version=event.originator_version)
            yield Candidate(
                kind=ViolationKind.OUT_OF_CONTROL, subject=batch.division, key=f"batch:{ref}",
                summary=f"Batch modification {event.originator_id} executed outside its approved scope "
                f"({', '.join(event.reasons) or event.rule}) by {event.actor.person} ({event.actor.organization}).",
                evidence=(Evidence(kind=EvidenceKind.EVENT, ref=ref, position=position),),
            )

    def _denied(self, r: AccessRecord, ref: str, position: int, holders: dict[UUID, str | None]) -> Candidate | None:
        evidence = (Evidence(kind=EvidenceKind.LOG_RECORD, ref=r.request_id, position=position),
                    Evidence(kind=EvidenceKind.EVENT, ref=ref, position=position))
        if r.grant_id is not None:
            if r.grant_id not in holders:
                holders[r.grant_id] = self._holder_of(r.grant_id)
            owner = holders[r.grant_id]
            if owner is not None and owner != r.holder:
                return Candidate(
                    kind=ViolationKind.THIRD_PARTY, subject=owner, key=f"log:{r.request_id}", evidence=evidence,
                    summary=f"{r.holder} asked for {', '.join(r.fields)} of entry {r.entry_id} under grant "
                    f"{r.grant_id}, which {owner} holds: {owner} acting for another organization (USE-2).")
        codes = [x.code for x in r.reasons if x.code in DENIALS]
        if not codes:
            return None
        return Candidate(
            kind=ViolationKind.OUT_OF_CONTROL, subject=r.holder, key=f"log:{r.request_id}", evidence=evidence,
            summary=f"Access {r.request_id} by {r.holder} to entry {r.entry_id} denied ({', '.join(codes)}) "
            f"at {r.accessed_at.isoformat()}.")

    def _holder_of(self, grant_id: UUID) -> str | None:
        try:
            g: Any = self.ledger.repository.get(grant_id)
        except AggregateNotFoundError:
            return None
        return g.spec.holder if isinstance(g, Grant) else None

    # -- from the read models at `now` -----------------------------------------------------

    def _overdue_entries(self, now: datetime) -> Iterator[Candidate]:
        cursor: str | None = None
        while True:
            rows, cursor = self.catalog.list(CatalogFilter(overdue=True), scope=EVERYTHING, now=now,
                                             limit=self.page_size, cursor=cursor)
            for row in rows:
                assert row.last_updated is not None  # an overdue entry was updated once
                last = datetime.fromisoformat(row.last_updated)
                due = last + CYCLE_PERIOD[UpdateCycle(row.update_cycle)]
                yield Candidate(
                    kind=ViolationKind.CATALOG, subject=row.provider, key=f"entry:{row.id}:{ledger_date(due)}",
                    summary=f"Entry {row.resource_code} ({row.update_cycle}) was due for update by "
                    f"{ledger_date(due).isoformat()} and was last updated {ledger_date(last).isoformat()} (CAT-7).",
                    evidence=(Evidence(kind=EvidenceKind.ENTRY, ref=str(row.id)),))
            if cursor is None:
                return

    def _overdue_objections(self, now: datetime) -> Iterator[Candidate]:
        cursor: str | None = None
        while True:
            rows, cursor = self.maintenance.objections(scope=EVERYTHING, now=now, overdue=True, limit=self.page_size,
                                                       cursor=cursor)
            for row in rows:
                yield Candidate(
                    kind=ViolationKind.DATA_QUALITY, subject=row.provider, key=f"objection:{row.id}",
                    summary=f"Objection {row.id} by {row.objector} on {row.resource_code} was not answered "
                    f"by its deadline {row.deadline} (QLT-1).",
                    evidence=(Evidence(kind=EvidenceKind.OBJECTION, ref=str(row.id)),
                              Evidence(kind=EvidenceKind.EVENT, ref=f"{row.id}:1", position=row.position)))
            if cursor is None:
                return

    # -- raising, once ------------------------------------------------------------------

    def _raise(self, found: list[Candidate], now: datetime, counts: dict[str, int]) -> None:
        fresh = {c.id: c for c in found if not self._exists(c.id)}
        if not fresh:
            return
        ctx = Context(actor=Actor(person=MONITOR, organization=OFFICE_CODE, role=Role.OFFICE_ADMIN), at=now,
                      cause=Cause(command=f"monitor.{NAME}"))
        made = [Violation.detect(ctx, kind=c.kind, subject=c.subject, evidence=c.evidence, summary=c.summary,
                                 key=c.key, monitor=MONITOR) for c in fresh.values()]
        try:
            saved = self.ledger.save(*made)
        except IntegrityError:  # another run raised one of them first: save the rest one by one
            saved = []
            for v in made:
                if self._exists(v.id):
                    continue
                try:
                    saved += self.ledger.save(v)
                except IntegrityError:
                    continue
        raised = {r.notification.originator_id for r in saved}
        for v in made:
            if v.id in raised:
                counts[str(v.kind)] = counts.get(str(v.kind), 0) + 1
        if saved and self.on_saved:
            self.on_saved(saved[-1].notification.id)

    def _exists(self, vid: UUID) -> bool:
        return self.ledger.position_of(vid, 1) is not None

    def _advance(self, position: int) -> None:
        side_tables.set_monitor_position(self.ledger.db, NAME, position)
