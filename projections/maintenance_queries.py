"""Queries over the maintenance read model: work queues per role, archives, refused executions, overdue objections."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import msgspec

from infrastructure.sql import Db
from projections.maintenance import iso
from projections.paging import decode_cursor, decode_number_cursor, encode_cursor
from projections.scope import Scope

# -- the rows the queries answer: exactly the view's columns (JSON columns decoded), one Struct per kind ----------


class _Row(msgspec.Struct, omit_defaults=False, forbid_unknown_fields=True):
    """A row answers every key it declares, and converting a row with a key it does not declare fails."""


class TicketRow(_Row):
    """A maintenance ticket (MNT-1) as the view keeps it: the change, who declared, approved, applied, rechecked."""

    id: str
    organization: str
    system: str
    entry_id: str
    resource_code: str
    status: str
    method: str
    reason: str
    responsible: str
    description: str
    fields: list[str]
    record_count: int
    before_digest: str
    after_digest: str | None
    declared_by: str
    declared_at: str
    approved_by: str | None
    approved_at: str | None
    applied_by: str | None
    applied_at: str | None
    attempts: int
    rechecked_by: str | None
    rechecked_at: str | None
    version: int
    position: int


class TicketStep(_Row):
    """One step of a ticket: who, when (recorded and effective), how, and the digest."""

    version: int
    step: str
    person: str
    role: str
    on_behalf_of: str | None
    recorded_at: str
    effective_at: str
    method: str | None
    digest: str | None
    detail: str
    position: int


class TicketDetail(TicketRow):
    """A ticket with every step."""

    steps: list[TicketStep]


class ArchiveRow(TicketStep):
    """A step of the maintenance archive (第三十一条), with its ticket, system and entry."""

    ticket_id: str
    organization: str
    system: str
    entry_id: str
    resource_code: str


class BatchEntry(_Row):
    """An entry a batch may touch."""

    entry_id: str
    resource_code: str


class BatchRow(_Row):
    """A batch modification (MNT-2): scope, window, review, and the executions' counters."""

    id: str
    division: str
    system: str
    entries: list[BatchEntry]
    estimated_records: int
    window_from: str
    window_to: str
    reason: str
    description: str
    status: str
    operator: str | None
    operator_org: str | None
    reviewed_by: str | None
    reviewed_at: str | None
    review_comment: str | None
    executions: int
    records_done: int
    refused_attempts: int
    requested_by: str
    requested_at: str
    version: int
    position: int


class ExecutionRow(_Row):
    """One execution attempt of a batch, executed or refused (then with its rule, reasons and detail)."""

    batch_id: str
    version: int
    division: str
    outcome: str
    person: str
    organization: str
    role: str
    attempted_at: str
    system: str
    entries: list[str]
    record_count: int
    session: str
    note: str
    rule: str | None
    reasons: list[str]
    detail: str
    position: int


class BatchDetail(BatchRow):
    """A batch with every execution attempt."""

    attempts: list[ExecutionRow]


class ObjectionRow(_Row):
    """An objection (QLT-1): the fields objected to, the deadline, the answer; `overdue` judged now."""

    id: str
    objector: str
    provider: str
    grant_id: str
    entry_id: str
    resource_code: str
    fields: list[str]
    description: str
    status: str
    raised_by: str
    raised_at: str
    deadline: str
    answered_by: str | None
    answered_at: str | None
    answer: str | None
    ticket_id: str | None
    late: bool
    version: int
    position: int
    overdue: bool


R = TypeVar("R")
Rows = tuple[list[R], str | None]


class MaintenanceQueries:
    def __init__(self, db: Db) -> None:
        self.db = db

    def _page(self, table: str, clauses: list[str], args: list[Any], *, order: str, limit: int,
              cursor: str | None, shape: Callable[[dict[str, Any]], R]) -> Rows[R]:
        """One page ordered by `order` (a unique key: text, or `position`); the cursor is the last row's key."""
        if cursor:
            key: Any = decode_number_cursor(cursor) if order == "position" else decode_cursor(cursor)
            clauses = [*clauses, f"({order}) > ?"]
            args = [*args, key]
        where = " AND ".join(clauses) or "1 = 1"
        rows = self.db.query(f"SELECT *, ({order}) AS sort_key FROM {table} WHERE {where} ORDER BY sort_key LIMIT ?",
                             (*args, limit + 1))
        more = len(rows) > limit
        rows = rows[:limit]
        nxt = encode_cursor(str(rows[-1]["sort_key"])) if more and rows else None
        return [shape({k: v for k, v in r.items() if k != "sort_key"}) for r in rows], nxt

    # -- tickets -----------------------------------------------------------------------------

    def tickets(self, *, scope: Scope, status: str | None = None, system: str | None = None,
                entry_id: str | None = None, limit: int = 50, cursor: str | None = None) -> Rows[TicketRow]:
        clauses, args = _filters(("organization", scope.org), ("status", status), ("system", system),
                                 ("entry_id", entry_id))
        return self._page("maintenance_tickets", clauses, args, order="declared_at || id", limit=limit,
                          cursor=cursor, shape=_ticket)

    def ticket(self, ticket_id: str, scope: Scope) -> TicketDetail | None:
        """The ticket with its steps; None when there is none or it is not the scope's organization's."""
        row = self.db.query_one("SELECT * FROM maintenance_tickets WHERE id = ?", (ticket_id,))
        if row is None or not scope.sees(row["organization"]):
            return None
        steps = self.db.query(
            "SELECT version, step, person, role, on_behalf_of, recorded_at, effective_at, method, digest, detail, "
            "position FROM maintenance_archive WHERE ticket_id = ? ORDER BY version", (ticket_id,))
        return msgspec.convert({**_decoded(row, "fields"), "steps": steps}, TicketDetail)

    def ticket_queue(self, *, person: str, org: str, role: str, limit: int = 50,
                     cursor: str | None = None) -> Rows[TicketRow]:
        """What awaits this person in this role: approval, application, or a re-check they may do (MNT-1)."""
        if role == "approver":
            clauses = ["organization = ?", "status = 'declared'", "declared_by <> ?"]
            args: list[Any] = [org, person]
        elif role == "maintainer":
            clauses, args = ["organization = ?", "status IN ('approved', 'sent_back')",
                             "COALESCE(approved_by, '') <> ?"], [org, person]
        elif role == "verifier":
            clauses = ["organization = ?", "status = 'applied'", "declared_by <> ?", "COALESCE(approved_by, '') <> ?",
                       "id NOT IN (SELECT ticket_id FROM maintenance_archive WHERE step = 'applied' AND person = ?)"]
            args = [org, person, person, person]
        else:
            return [], None
        return self._page("maintenance_tickets", clauses, args, order="declared_at || id", limit=limit,
                          cursor=cursor, shape=_ticket)

    def archive(self, *, scope: Scope, system: str | None = None, entry_id: str | None = None,
                limit: int = 100, cursor: str | None = None) -> Rows[ArchiveRow]:
        """Every step of every change, per system or per entry, in ledger order, each with its ticket."""
        clauses, args = _filters(("organization", scope.org), ("system", system), ("entry_id", entry_id))
        return self._page("maintenance_archive", clauses, args, order="position", limit=limit,
                          cursor=cursor, shape=_archive)

    # -- batch modifications ------------------------------------------------------------------

    def batches(self, *, scope: Scope, status: str | None = None, limit: int = 50,
                cursor: str | None = None) -> Rows[BatchRow]:
        """Batches by request; a scope sees those its organization requested or operates."""
        clauses, args = _filters(("status", status))
        if scope.org is not None:
            clauses.append("(division = ? OR operator_org = ?)")
            args += [scope.org, scope.org]
        return self._page("batch_modifications", clauses, args, order="requested_at || id", limit=limit,
                          cursor=cursor, shape=_batch)

    def batch(self, batch_id: str, scope: Scope) -> BatchDetail | None:
        """The batch with its attempts; None when there is none or the scope neither requested nor operates it."""
        row = self.db.query_one("SELECT * FROM batch_modifications WHERE id = ?", (batch_id,))
        if row is None or not scope.sees(row["division"], row["operator_org"]):
            return None
        attempts = [_decoded(r, "entries", "reasons") for r in self.db.query(
            "SELECT * FROM batch_executions WHERE batch_id = ? ORDER BY version", (batch_id,))]
        return msgspec.convert({**_decoded(row, "entries"), "attempts": attempts}, BatchDetail)

    def batch_queue(self, *, person: str, org: str, office: bool, now: datetime, limit: int = 50,
                    cursor: str | None = None) -> Rows[BatchRow]:
        """The Office: requests to review. An operator: approved batches it was designated for, window not over."""
        if office:
            clauses, args = ["status = 'requested'"], []
        else:
            clauses = ["status = 'approved'", "operator = ?", "operator_org = ?", "window_to >= ?"]
            args = [person, org, iso(now)]
        return self._page("batch_modifications", clauses, args, order="requested_at || id", limit=limit,
                          cursor=cursor, shape=_batch)

    def refused_executions(self, *, scope: Scope, limit: int = 50,
                           cursor: str | None = None) -> Rows[ExecutionRow]:
        """Executions refused under MNT-2: the violation candidates of 第三十二条 (of the scope's division or
        by its organization)."""
        clauses, args = ["outcome = 'refused'"], []
        if scope.org is not None:
            clauses.append("(division = ? OR organization = ?)")
            args += [scope.org, scope.org]
        return self._page("batch_executions", clauses, args, order="position", limit=limit, cursor=cursor,
                          shape=_execution)

    # -- objections (QLT-1) ---------------------------------------------------------------------

    def objections(self, *, scope: Scope, now: datetime, status: str | None = None, overdue: bool | None = None,
                   role: str | None = None, limit: int = 50, cursor: str | None = None) -> Rows[ObjectionRow]:
        """Objections raised by or to the scope's organization (`role`: to it, or by it); `role=provider` is the
        queue to answer, `overdue=true` feeds VIO-2."""
        clauses, args = _filters(("status", status))
        if scope.org is not None:
            side = {"provider": "provider = ?", "objector": "objector = ?"}.get(role or "", "(provider = ? OR objector = ?)")
            clauses.append(side)
            args += [scope.org] * side.count("?")
        if overdue is True:
            clauses += ["status = 'open'", "deadline < ?"]
            args.append(iso(now))
        elif overdue is False:
            clauses.append("NOT (status = 'open' AND deadline < ?)")
            args.append(iso(now))
        return self._page("objections", clauses, args, order="deadline || id", limit=limit, cursor=cursor,
                          shape=lambda r: _objection(r, now))

    def objection(self, objection_id: str, now: datetime, scope: Scope) -> ObjectionRow | None:
        """The objection; None when there is none or the scope neither raised it nor provides the data."""
        row = self.db.query_one("SELECT * FROM objections WHERE id = ?", (objection_id,))
        return None if row is None or not scope.sees(row["objector"], row["provider"]) else _objection(row, now)


def _filters(*pairs: tuple[str, Any]) -> tuple[list[str], list[Any]]:
    clauses, args = [], []
    for column, value in pairs:
        if value is not None:
            clauses.append(f"{column} = ?")
            args.append(value)
    return clauses, args


def _decoded(r: dict[str, Any], *json_columns: str) -> dict[str, Any]:
    return {**r, **{k: msgspec.json.decode(r[k]) for k in json_columns}}


def _ticket(r: dict[str, Any]) -> TicketRow:
    return msgspec.convert(_decoded(r, "fields"), TicketRow)


def _archive(r: dict[str, Any]) -> ArchiveRow:
    return msgspec.convert(r, ArchiveRow)


def _batch(r: dict[str, Any]) -> BatchRow:
    return msgspec.convert(_decoded(r, "entries"), BatchRow)


def _execution(r: dict[str, Any]) -> ExecutionRow:
    return msgspec.convert(_decoded(r, "entries", "reasons"), ExecutionRow)


def _objection(r: dict[str, Any], now: datetime) -> ObjectionRow:
    overdue = r["status"] == "open" and r["deadline"] < iso(now)
    return msgspec.convert({**_decoded(r, "fields"), "late": bool(r["late"]), "overdue": overdue}, ObjectionRow)
