"""Maintenance tickets with their archive, batch modifications with every execution attempt, and objections."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from domain.maintenance import BatchModification, MaintenanceTicket
from domain.objections import Objection
from infrastructure.sql import Tx
from projections.base import View, on

T, B, Obj = MaintenanceTicket, BatchModification, Objection
_enc = msgspec.json.Encoder()


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _json(value: Any) -> str:
    return _enc.encode(value).decode("utf-8")


_TICKETS = (
    "CREATE TABLE IF NOT EXISTS maintenance_tickets (id TEXT PRIMARY KEY, organization TEXT NOT NULL, "
    "system TEXT NOT NULL, entry_id TEXT NOT NULL, resource_code TEXT NOT NULL, status TEXT NOT NULL, "
    "method TEXT NOT NULL, reason TEXT NOT NULL, responsible TEXT NOT NULL, description TEXT NOT NULL, "
    "fields TEXT NOT NULL, record_count INTEGER NOT NULL, before_digest TEXT NOT NULL, after_digest TEXT, "
    "declared_by TEXT NOT NULL, declared_at TEXT NOT NULL, approved_by TEXT, approved_at TEXT, applied_by TEXT, "
    "applied_at TEXT, attempts INTEGER NOT NULL, rechecked_by TEXT, rechecked_at TEXT, "
    "version INTEGER NOT NULL, position BIGINT NOT NULL)"
)
_ARCHIVE = (
    "CREATE TABLE IF NOT EXISTS maintenance_archive (ticket_id TEXT NOT NULL, version INTEGER NOT NULL, "
    "organization TEXT NOT NULL, system TEXT NOT NULL, entry_id TEXT NOT NULL, resource_code TEXT NOT NULL, "
    "step TEXT NOT NULL, person TEXT NOT NULL, role TEXT NOT NULL, on_behalf_of TEXT, recorded_at TEXT NOT NULL, "
    "effective_at TEXT NOT NULL, method TEXT, digest TEXT, detail TEXT NOT NULL, position BIGINT NOT NULL, "
    "PRIMARY KEY (ticket_id, version))"
)
_BATCHES = (
    "CREATE TABLE IF NOT EXISTS batch_modifications (id TEXT PRIMARY KEY, division TEXT NOT NULL, "
    "system TEXT NOT NULL, entries TEXT NOT NULL, estimated_records INTEGER NOT NULL, window_from TEXT NOT NULL, "
    "window_to TEXT NOT NULL, reason TEXT NOT NULL, description TEXT NOT NULL, status TEXT NOT NULL, "
    "operator TEXT, operator_org TEXT, reviewed_by TEXT, reviewed_at TEXT, review_comment TEXT, "
    "executions INTEGER NOT NULL, records_done INTEGER NOT NULL, refused_attempts INTEGER NOT NULL, "
    "requested_by TEXT NOT NULL, requested_at TEXT NOT NULL, version INTEGER NOT NULL, position BIGINT NOT NULL)"
)
_EXECUTIONS = (
    "CREATE TABLE IF NOT EXISTS batch_executions (batch_id TEXT NOT NULL, version INTEGER NOT NULL, "
    "division TEXT NOT NULL, outcome TEXT NOT NULL, person TEXT NOT NULL, organization TEXT NOT NULL, "
    "role TEXT NOT NULL, attempted_at TEXT NOT NULL, system TEXT NOT NULL, entries TEXT NOT NULL, record_count INTEGER NOT NULL, "
    "session TEXT NOT NULL, note TEXT NOT NULL, rule TEXT, reasons TEXT NOT NULL, detail TEXT NOT NULL, "
    "position BIGINT NOT NULL, PRIMARY KEY (batch_id, version))"
)
_OBJECTIONS = (
    "CREATE TABLE IF NOT EXISTS objections (id TEXT PRIMARY KEY, objector TEXT NOT NULL, provider TEXT NOT NULL, "
    "grant_id TEXT NOT NULL, entry_id TEXT NOT NULL, resource_code TEXT NOT NULL, fields TEXT NOT NULL, "
    "description TEXT NOT NULL, status TEXT NOT NULL, raised_by TEXT NOT NULL, raised_at TEXT NOT NULL, "
    "deadline TEXT NOT NULL, answered_by TEXT, answered_at TEXT, answer TEXT, ticket_id TEXT, late INTEGER NOT NULL, "
    "version INTEGER NOT NULL, position BIGINT NOT NULL)"
)
_STEP: dict[type, str] = {T.Declared: "declared", T.Approved: "approved", T.Rejected: "rejected", T.Applied: "applied",
         T.Verified: "verified", T.SentBack: "sent_back"}


class MaintenanceView(View):
    name = "maintenance"
    version = 1
    tables = ("maintenance_tickets", "maintenance_archive", "batch_modifications", "batch_executions", "objections")

    def create(self, tx: Tx) -> None:
        for ddl in (_TICKETS, _ARCHIVE, _BATCHES, _EXECUTIONS, _OBJECTIONS):
            tx.execute(ddl)
        for index in (
            "maintenance_tickets_org ON maintenance_tickets (organization, status, declared_at)",
            "maintenance_tickets_entry ON maintenance_tickets (entry_id)",
            "maintenance_archive_system ON maintenance_archive (system, position)",
            "maintenance_archive_entry ON maintenance_archive (entry_id, position)",
            "batch_modifications_status ON batch_modifications (status, requested_at)",
            "batch_executions_outcome ON batch_executions (outcome, position)",
            "objections_provider ON objections (provider, status, deadline)",
            "objections_objector ON objections (objector, status)",
        ):
            tx.execute(f"CREATE INDEX IF NOT EXISTS {index}")

    # -- tickets ---------------------------------------------------------------------------

    @on(*_STEP)
    def _ticket(self, tx: Tx, e: Any, position: int) -> None:
        oid, ts, v, who = str(e.originator_id), iso(e.timestamp), e.originator_version, e.actor.person
        if isinstance(e, T.Declared):
            c = e.change
            tx.execute(
                "INSERT INTO maintenance_tickets (id, organization, system, entry_id, resource_code, status, method, "
                "reason, responsible, description, fields, record_count, before_digest, declared_by, declared_at, "
                "attempts, version, position) VALUES (?, ?, ?, ?, ?, 'declared', ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
                (oid, e.organization, e.system, str(e.entry_id), e.resource_code, str(e.method), e.reason,
                 e.responsible, c.description, _json(c.fields), c.record_count, c.before_digest, who, ts, v, position),
            )
        elif isinstance(e, T.Approved | T.Rejected):
            _update(tx, "maintenance_tickets", oid, v, position, status=_STEP[type(e)], approved_by=who, approved_at=ts)
        elif isinstance(e, T.Applied):
            _update(tx, "maintenance_tickets", oid, v, position, status="applied", applied_by=who,
                    applied_at=iso(e.applied_at), after_digest=e.after_digest, attempts=e.attempt)
        else:
            _update(tx, "maintenance_tickets", oid, v, position, status=_STEP[type(e)], rechecked_by=who,
                    rechecked_at=ts)
        row = tx.execute("SELECT organization, system, entry_id, resource_code, method, before_digest "
                         "FROM maintenance_tickets WHERE id = ?", (oid,)).fetchone()
        assert row is not None
        effective, digest, detail = ts, None, ""
        if isinstance(e, T.Declared):
            digest, detail = e.change.before_digest, e.change.description
        elif isinstance(e, T.Applied):
            effective, digest, detail = iso(e.applied_at), e.after_digest, e.note
        elif isinstance(e, T.Verified | T.SentBack):
            digest, detail = e.observed_digest, getattr(e, "comment", "") or getattr(e, "reason", "")
        else:
            detail = getattr(e, "comment", "") or getattr(e, "reason", "")
        tx.execute(
            "INSERT INTO maintenance_archive (ticket_id, version, organization, system, entry_id, "
            "resource_code, step, person, role, on_behalf_of, recorded_at, effective_at, method, digest, "
            "detail, position) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (oid, v, row["organization"], row["system"], row["entry_id"], row["resource_code"], _STEP[type(e)], who,
             e.actor.role, e.actor.on_behalf_of, ts, effective,
             str(e.method) if isinstance(e, T.Declared | T.Applied) else None, digest, detail, position),
        )

    # -- batch modifications ---------------------------------------------------------------

    @on(B.Requested)
    def _batch_requested(self, tx: Tx, e: Any, position: int) -> None:
        oid, ts, v, who = str(e.originator_id), iso(e.timestamp), e.originator_version, e.actor.person
        s = e.scope
        tx.execute(
            "INSERT INTO batch_modifications (id, division, system, entries, estimated_records, window_from, "
            "window_to, reason, description, status, executions, records_done, refused_attempts, requested_by, "
            "requested_at, version, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'requested', 0, 0, 0, ?, ?, ?, ?)",
            (oid, e.division, s.system, _json(s.entries), s.estimated_records, iso(s.window_from),
             iso(s.window_to), e.reason, e.description, who, ts, v, position),
        )

    @on(B.Approved)
    def _batch_approved(self, tx: Tx, e: Any, position: int) -> None:
        _update(tx, "batch_modifications", str(e.originator_id), e.originator_version, position, status="approved",
                operator=e.operator, operator_org=e.operator_org, reviewed_by=e.actor.person,
                reviewed_at=iso(e.timestamp), review_comment=e.comment)

    @on(B.Rejected)
    def _batch_rejected(self, tx: Tx, e: Any, position: int) -> None:
        _update(tx, "batch_modifications", str(e.originator_id), e.originator_version, position, status="rejected",
                reviewed_by=e.actor.person, reviewed_at=iso(e.timestamp), review_comment=e.reason)

    @on(B.Executed, B.ExecutionRefused)
    def _batch_attempt(self, tx: Tx, e: Any, position: int) -> None:
        """An execution, carried out or refused: a row in batch_executions, and the batch's counters."""
        oid, ts, v, who = str(e.originator_id), iso(e.timestamp), e.originator_version, e.actor.person
        executed = isinstance(e, B.Executed)
        a = e.attempt
        division = tx.scalar("SELECT division FROM batch_modifications WHERE id = ?", (oid,))
        tx.execute(
            "INSERT INTO batch_executions (batch_id, version, division, outcome, person, organization, "
            "role, attempted_at, system, entries, record_count, session, note, rule, reasons, detail, "
            "position) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (oid, v, division, "executed" if executed else "refused", who, e.actor.organization, e.actor.role,
             ts, a.system, _json(a.entry_ids), a.record_count, a.session, a.note,
             None if executed else e.rule, _json([] if executed else e.reasons), "" if executed else e.detail,
             position),
        )
        if executed:
            tx.execute("UPDATE batch_modifications SET executions = ?, records_done = records_done + ?, "
                       "version = ?, position = ? WHERE id = ?", (e.number, a.record_count, v, position, oid))
        else:
            tx.execute("UPDATE batch_modifications SET refused_attempts = refused_attempts + 1, version = ?, "
                       "position = ? WHERE id = ?", (v, position, oid))

    # -- objections --------------------------------------------------------------------------

    @on(Obj.Raised)
    def _objection_raised(self, tx: Tx, e: Any, position: int) -> None:
        tx.execute(
            "INSERT INTO objections (id, objector, provider, grant_id, entry_id, resource_code, fields, "
            "description, status, raised_by, raised_at, deadline, late, version, position) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, 0, ?, ?)",
            (str(e.originator_id), e.objector, e.provider, str(e.grant_id), str(e.entry_id), e.resource_code,
             _json(e.fields), e.description, e.actor.person, iso(e.timestamp), iso(e.deadline),
             e.originator_version, position),
        )

    @on(Obj.Confirmed)
    def _objection_confirmed(self, tx: Tx, e: Any, position: int) -> None:
        _update(tx, "objections", str(e.originator_id), e.originator_version, position, status="confirmed",
                answered_by=e.actor.person, answered_at=iso(e.timestamp), answer=e.comment,
                ticket_id=str(e.ticket_id), late=int(e.late))

    @on(Obj.Rejected)
    def _objection_rejected(self, tx: Tx, e: Any, position: int) -> None:
        _update(tx, "objections", str(e.originator_id), e.originator_version, position, status="rejected",
                answered_by=e.actor.person, answered_at=iso(e.timestamp), answer=e.reason, late=int(e.late))


def _update(tx: Tx, table: str, oid: str, version: int, position: int, **changes: Any) -> None:
    changes.update(version=version, position=position)
    cols = ", ".join(f"{k} = ?" for k in changes)
    tx.execute(f"UPDATE {table} SET {cols} WHERE id = ?", (*changes.values(), oid))
