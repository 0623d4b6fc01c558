"""Queries over the maintenance read model: work queues per role, archives, refused executions, overdue objections."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from infrastructure.sql import Db
from projections.maintenance import iso
from projections.paging import decode_cursor, decode_number_cursor, encode_cursor

Rows = tuple[list[dict[str, Any]], str | None]


class MaintenanceQueries:
    def __init__(self, db: Db) -> None:
        self.db = db

    def _page(self, table: str, clauses: list[str], args: list[Any], *, order: str, limit: int,
              cursor: str | None, shape: Any) -> Rows:
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

    def tickets(self, *, org: str | None, status: str | None = None, system: str | None = None,
                entry_id: str | None = None, limit: int = 50, cursor: str | None = None) -> Rows:
        clauses, args = _filters(("organization", org), ("status", status), ("system", system),
                                 ("entry_id", entry_id))
        return self._page("maintenance_tickets", clauses, args, order="declared_at || id", limit=limit,
                          cursor=cursor, shape=_ticket)

    def ticket(self, ticket_id: str) -> dict[str, Any] | None:
        row = self.db.query_one("SELECT * FROM maintenance_tickets WHERE id = ?", (ticket_id,))
        if row is None:
            return None
        out = _ticket(row)
        out["steps"] = self.db.query(
            "SELECT version, step, person, role, on_behalf_of, recorded_at, effective_at, method, digest, detail, "
            "position FROM maintenance_archive WHERE ticket_id = ? ORDER BY version", (ticket_id,))
        return out

    def ticket_queue(self, *, person: str, org: str, role: str, limit: int = 50, cursor: str | None = None) -> Rows:
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

    def archive(self, *, org: str | None, system: str | None = None, entry_id: str | None = None,
                limit: int = 100, cursor: str | None = None) -> Rows:
        """Every step of every change, per system or per entry, in ledger order, each with its ticket."""
        clauses, args = _filters(("organization", org), ("system", system), ("entry_id", entry_id))
        return self._page("maintenance_archive", clauses, args, order="position", limit=limit,
                          cursor=cursor, shape=dict)

    # -- batch modifications ------------------------------------------------------------------

    def batches(self, *, org: str | None, status: str | None = None, limit: int = 50,
                cursor: str | None = None) -> Rows:
        clauses, args = _filters(("status", status))
        if org is not None:
            clauses.append("(division = ? OR operator_org = ?)")
            args += [org, org]
        return self._page("batch_modifications", clauses, args, order="requested_at || id", limit=limit,
                          cursor=cursor, shape=_batch)

    def batch(self, batch_id: str) -> dict[str, Any] | None:
        row = self.db.query_one("SELECT * FROM batch_modifications WHERE id = ?", (batch_id,))
        if row is None:
            return None
        out = _batch(row)
        out["attempts"] = [_execution(r) for r in self.db.query(
            "SELECT * FROM batch_executions WHERE batch_id = ? ORDER BY version", (batch_id,))]
        return out

    def batch_queue(self, *, person: str, org: str, office: bool, now: datetime, limit: int = 50,
                    cursor: str | None = None) -> Rows:
        """The Office: requests to review. An operator: approved batches it was designated for, window not over."""
        if office:
            clauses, args = ["status = 'requested'"], []
        else:
            clauses = ["status = 'approved'", "operator = ?", "operator_org = ?", "window_to >= ?"]
            args = [person, org, iso(now)]
        return self._page("batch_modifications", clauses, args, order="requested_at || id", limit=limit,
                          cursor=cursor, shape=_batch)

    def refused_executions(self, *, org: str | None, limit: int = 50, cursor: str | None = None) -> Rows:
        """Executions refused under MNT-2: the violation candidates of 第三十二条."""
        clauses, args = ["outcome = 'refused'"], []
        if org is not None:
            clauses.append("(division = ? OR organization = ?)")
            args += [org, org]
        return self._page("batch_executions", clauses, args, order="position", limit=limit, cursor=cursor,
                          shape=_execution)

    # -- objections (QLT-1) ---------------------------------------------------------------------

    def objections(self, *, org: str | None, now: datetime, status: str | None = None, overdue: bool | None = None,
                   role: str | None = None, limit: int = 50, cursor: str | None = None) -> Rows:
        """Objections raised by or to `org`; `role=provider` is the queue to answer, `overdue=true` feeds VIO-2."""
        clauses, args = _filters(("status", status))
        if org is not None:
            side = {"provider": "provider = ?", "objector": "objector = ?"}.get(role or "", "(provider = ? OR objector = ?)")
            clauses.append(side)
            args += [org] * side.count("?")
        if overdue is True:
            clauses += ["status = 'open'", "deadline < ?"]
            args.append(iso(now))
        elif overdue is False:
            clauses.append("NOT (status = 'open' AND deadline < ?)")
            args.append(iso(now))
        return self._page("objections", clauses, args, order="deadline || id", limit=limit, cursor=cursor,
                          shape=lambda r: _objection(r, now))

    def objection(self, objection_id: str, now: datetime) -> dict[str, Any] | None:
        row = self.db.query_one("SELECT * FROM objections WHERE id = ?", (objection_id,))
        return None if row is None else _objection(row, now)


def _filters(*pairs: tuple[str, Any]) -> tuple[list[str], list[Any]]:
    clauses, args = [], []
    for column, value in pairs:
        if value is not None:
            clauses.append(f"{column} = ?")
            args.append(value)
    return clauses, args


def _ticket(r: dict[str, Any]) -> dict[str, Any]:
    return {**r, "fields": msgspec.json.decode(r["fields"])}


def _batch(r: dict[str, Any]) -> dict[str, Any]:
    return {**r, "entries": msgspec.json.decode(r["entries"])}


def _execution(r: dict[str, Any]) -> dict[str, Any]:
    return {**r, "entries": msgspec.json.decode(r["entries"]), "reasons": msgspec.json.decode(r["reasons"])}


def _objection(r: dict[str, Any], now: datetime) -> dict[str, Any]:
    overdue = r["status"] == "open" and r["deadline"] < iso(now)
    return {**r, "fields": msgspec.json.decode(r["fields"]), "late": bool(r["late"]), "overdue": overdue}
