"""The compliance board's read model: one row per violation with its evidence and rectification, and the
queries behind `GET /violations` and the per-organization summary."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import msgspec

from domain.compliance import OPEN, Evidence, Violation
from infrastructure.sql import Db, Tx
from projections.base import View, on
from projections.catalog_queries import overdue_cutoffs
from projections.paging import decode_number_cursor, encode_cursor
from projections.scope import Scope

V = Violation
_enc = msgspec.json.Encoder()

_VIOLATIONS = (
    "CREATE TABLE IF NOT EXISTS violations (id TEXT PRIMARY KEY, kind TEXT NOT NULL, subject TEXT NOT NULL, "
    "status TEXT NOT NULL, summary TEXT NOT NULL, case_key TEXT NOT NULL, evidence TEXT NOT NULL, monitor TEXT, "
    "raised_by TEXT NOT NULL, raised_at TEXT NOT NULL, decided_by TEXT, decided_at TEXT, decision TEXT, "
    "deadline TEXT, requirements TEXT, noticed_at TEXT, report TEXT, reported_by TEXT, reported_at TEXT, "
    "late INTEGER NOT NULL, closed_by TEXT, closed_at TEXT, closing TEXT, version INTEGER NOT NULL, "
    "position BIGINT NOT NULL)"
)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


class ComplianceView(View):
    name = "compliance"
    version = 1
    tables = ("violations",)

    def create(self, tx: Tx) -> None:
        tx.execute(_VIOLATIONS)
        tx.execute("CREATE INDEX IF NOT EXISTS violations_subject ON violations (subject, status)")
        tx.execute("CREATE INDEX IF NOT EXISTS violations_status ON violations (status, kind)")

    @on(V.CandidateRaised, V.Raised)
    def _raised(self, tx: Tx, e: Any, position: int) -> None:
        status = "candidate" if isinstance(e, V.CandidateRaised) else "confirmed"
        tx.execute(
            "INSERT INTO violations (id, kind, subject, status, summary, case_key, evidence, monitor, raised_by, "
            "raised_at, late, version, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
            (str(e.originator_id), str(e.kind), e.subject, status, e.summary, e.key,
             _enc.encode(e.evidence).decode("utf-8"), getattr(e, "monitor", None), e.actor.person,
             _iso(e.timestamp), e.originator_version, position),
        )

    @on(V.Confirmed)
    def _confirmed(self, tx: Tx, e: V.Confirmed, position: int) -> None:
        _change(tx, e, position, status="confirmed", decided_by=e.actor.person, decided_at=_iso(e.timestamp),
                decision=e.comment)

    @on(V.Dismissed)
    def _dismissed(self, tx: Tx, e: V.Dismissed, position: int) -> None:
        _change(tx, e, position, status="dismissed", decided_by=e.actor.person, decided_at=_iso(e.timestamp),
                decision=e.reason)

    @on(V.NoticeIssued)
    def _notice_issued(self, tx: Tx, e: V.NoticeIssued, position: int) -> None:
        _change(tx, e, position, status="notice_issued", deadline=_iso(e.deadline), requirements=e.requirements,
                noticed_at=_iso(e.timestamp))

    @on(V.RectificationReported)
    def _rectification_reported(self, tx: Tx, e: V.RectificationReported, position: int) -> None:
        _change(tx, e, position, status="rectification_reported", report=e.report, reported_by=e.actor.person,
                reported_at=_iso(e.timestamp), late=int(e.late))

    @on(V.Accepted)
    def _accepted(self, tx: Tx, e: V.Accepted, position: int) -> None:
        _change(tx, e, position, status="accepted", closed_by=e.actor.person, closed_at=_iso(e.timestamp),
                closing=e.comment)

    @on(V.Escalated)
    def _escalated(self, tx: Tx, e: V.Escalated, position: int) -> None:
        _change(tx, e, position, status="escalated", closed_by=e.actor.person, closed_at=_iso(e.timestamp),
                closing=e.reason)


def _change(tx: Tx, e: Any, position: int, **changes: Any) -> None:
    """Sets these columns of the violation's row, with the event's version and position."""
    changes.update(version=e.originator_version, position=position)
    cols = ", ".join(f"{k} = ?" for k in changes)
    tx.execute(f"UPDATE violations SET {cols} WHERE id = ?", (*changes.values(), str(e.originator_id)))


# -- the rows the queries answer ---------------------------------------------------------------------------------


class _Row(msgspec.Struct, omit_defaults=False, forbid_unknown_fields=True):
    """A row answers every key it declares, and converting a row with a key it does not declare fails."""


class ViolationRow(_Row):
    """A case of the board (第三十八条) as the view keeps it: the finding, its evidence, decision, notice, report
    and closing; `key` names the case so a monitor raises it once."""

    id: str
    kind: str
    subject: str
    status: str
    summary: str
    key: str
    evidence: list[Evidence]
    monitor: str | None
    raised_by: str
    raised_at: str
    decided_by: str | None
    decided_at: str | None
    decision: str | None
    deadline: str | None
    requirements: str | None
    noticed_at: str | None
    report: str | None
    reported_by: str | None
    reported_at: str | None
    late: bool
    closed_by: str | None
    closed_at: str | None
    closing: str | None
    version: int
    position: int


class SummaryLine(_Row, kw_only=True):
    """One organization's line of the board. `candidates` (cases the Office has not yet confirmed) is there only
    for the Office and auditors."""

    organization: str
    open_violations: int
    by_kind: dict[str, int]
    overdue_entries: int
    overdue_objections: int
    non_compliant_systems: int
    candidates: int | msgspec.UnsetType = msgspec.UNSET


class _Owned(Protocol):
    @property
    def owner(self) -> str: ...


Rows = tuple[list[ViolationRow], str | None]
_OPEN_SQL = "status IN (" + ", ".join(f"'{s}'" for s in sorted(OPEN)) + ")"
# Candidates and dismissed ones are the Office's own work: an organization sees the cases confirmed against it.
VISIBLE_TO_SUBJECT = "status NOT IN ('candidate', 'dismissed')"


class ComplianceQueries:
    def __init__(self, db: Db, grace_days: int = 7,
                 non_compliant_systems: Callable[..., tuple[Sequence[_Owned], str | None]] | None = None) -> None:
        """`non_compliant_systems` is the systems context's paged SYS-5 query (`scope`, `limit`, `cursor`)."""
        self.db = db
        self.grace_days = grace_days
        self.non_compliant_systems = non_compliant_systems

    def violations(self, *, scope: Scope, kind: str | None = None, subject: str | None = None,
                   status: str | None = None, open_only: bool = False, limit: int = 50,
                   cursor: str | None = None) -> Rows:
        """Newest first by ledger position; a scope of one organization sees its own cases once confirmed."""
        clauses, args = _subject_scope(scope)
        for column, value in (("kind", kind), ("subject", subject), ("status", status)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        if open_only:
            clauses.append(_OPEN_SQL)
        if cursor:
            clauses.append("position < ?")
            args.append(decode_number_cursor(cursor))
        rows = self.db.query(f"SELECT * FROM violations WHERE {' AND '.join(clauses) or '1 = 1'} "
                             "ORDER BY position DESC LIMIT ?", (*args, limit + 1))
        more = len(rows) > limit
        rows = rows[:limit]
        nxt = encode_cursor(str(rows[-1]["position"])) if more and rows else None
        return [_shape(r) for r in rows], nxt

    def violation(self, violation_id: str, scope: Scope) -> ViolationRow | None:
        """The case; None when there is none or it is not the scope's to see (see `violations`)."""
        clauses, args = _subject_scope(scope)
        row = self.db.query_one(f"SELECT * FROM violations WHERE {' AND '.join(['id = ?', *clauses])}",
                                (violation_id, *args))
        return None if row is None else _shape(row)

    def summary(self, *, scope: Scope, now: datetime, org: str | None = None) -> list[SummaryLine]:
        """Per organization: open violations (by kind), candidates, overdue entries and objections, and
        non-compliant systems (SYS-5). Without `org`, every organization with anything to show. Candidates are
        the Office's work until confirmed: a line read in the scope of one organization leaves them out."""
        out: dict[str, dict[str, Any]] = {}

        def row(code: str) -> dict[str, Any]:
            return out.setdefault(code, {"organization": code, "open_violations": 0, "by_kind": {}, "candidates": 0,
                                         "overdue_entries": 0, "overdue_objections": 0, "non_compliant_systems": 0})

        only, args = ("subject = ? AND ", [org]) if org else ("", [])
        for r in self.db.query(f"SELECT subject, kind, status, COUNT(*) AS n FROM violations WHERE {only}"
                               f"{_OPEN_SQL} GROUP BY subject, kind, status", args):
            s = row(r["subject"])
            if r["status"] == "candidate":
                s["candidates"] += int(r["n"])
            else:
                s["open_violations"] += int(r["n"])
                s["by_kind"][r["kind"]] = s["by_kind"].get(r["kind"], 0) + int(r["n"])
        overdue, params = _overdue_entries_sql(now, self.grace_days)
        only, args = ("provider = ? AND ", [org]) if org else ("", [])
        for r in self.db.query(f"SELECT provider, COUNT(*) AS n FROM catalog_entries WHERE {only}{overdue} "
                               "GROUP BY provider", (*args, *params)):
            row(r["provider"])["overdue_entries"] = int(r["n"])
        only, args = ("provider = ? AND ", [org]) if org else ("", [])
        for r in self.db.query(f"SELECT provider, COUNT(*) AS n FROM objections WHERE {only}status = 'open' "
                               "AND deadline < ? GROUP BY provider", (*args, _iso(now))):
            row(r["provider"])["overdue_objections"] = int(r["n"])
        if self.non_compliant_systems is not None:
            cursor: str | None = None
            while True:
                systems, cursor = self.non_compliant_systems(scope=Scope(org), limit=500, cursor=cursor)
                for system in systems:
                    row(system.owner)["non_compliant_systems"] += 1
                if cursor is None:
                    break
        if org is not None:
            row(org)
        lines = [msgspec.convert(out[k], SummaryLine) for k in sorted(out)]
        if not scope.sees_everything:
            return [msgspec.structs.replace(line, candidates=msgspec.UNSET) for line in lines]
        return lines


def _subject_scope(scope: Scope) -> tuple[list[str], list[Any]]:
    if scope.org is None:
        return [], []
    return ["subject = ?", VISIBLE_TO_SUBJECT], [scope.org]


def _overdue_entries_sql(now: datetime, grace_days: int) -> tuple[str, list[Any]]:
    """CAT-7 as the catalog queries judge it: published or revising, last update before its cycle's cutoff."""
    parts, params = [], []
    for cycle, cutoff in overdue_cutoffs(now, grace_days).items():
        parts.append("(update_cycle = ? AND last_updated < ?)")
        params += [cycle, cutoff]
    return "status IN ('published', 'revising') AND (" + " OR ".join(parts) + ")", params


def _shape(r: dict[str, Any]) -> ViolationRow:
    out = {k: v for k, v in r.items() if k != "case_key"}
    out["key"] = r["case_key"]
    out["evidence"] = msgspec.json.decode(r["evidence"])
    out["late"] = bool(r["late"])
    return msgspec.convert(out, ViolationRow)
