"""Queries over the systems read model: lists, one system, the Office's queue and the SYS-5 compliance view."""

from __future__ import annotations

from typing import Any, TypeVar
from uuid import UUID

import msgspec

from domain.systems_values import (
    ConstructionPlan,
    DuplicateCollection,
    Finding,
    Justification,
    ProjectEntry,
    compliance_findings,
    consequence,
)
from infrastructure.sql import Db
from projections.paging import decode_cursor, decode_number_cursor, encode_cursor
from projections.scope import Scope
from projections.systems import facts_of

_JSON_COLUMNS = ("plan", "catalog", "justification", "justification_missing", "duplicates", "accepted",
                 "last_test_findings", "flagged_entries", "rectification")
_LIST_COLUMNS = (
    "id, name, owner, level, state, legacy, catalog_size, exchange_ref, integration_ref, last_test_passed, "
    "last_test_on, live_since, flagged_entries, rectification, proposed_at, modified_at, version"
)


# -- the rows the queries answer: the view's columns (JSON columns decoded, the two platform references as
# `connections`), one Struct per kind ---------------------------------------------------------------------------


class _Row(msgspec.Struct, omit_defaults=False, forbid_unknown_fields=True):
    """A row answers every key it declares, and converting a row with a key it does not declare fails."""


class RectificationRow(_Row):
    """The rectification ordered under 第三十七条 and not yet closed: what is withheld, by when, for which findings."""

    deadline: str
    withhold: str
    findings: list[str]
    comment: str
    ordered_at: str


class _SystemFields(_Row):
    """What a system's list row and its full row both carry."""

    id: str
    name: str
    owner: str
    level: str
    state: str
    legacy: bool
    catalog_size: int
    connections: dict[str, str]
    last_test_passed: bool | None
    last_test_on: str | None
    live_since: str | None
    flagged_entries: list[str]
    rectification: RectificationRow | None
    proposed_at: str
    modified_at: str
    version: int
    pending_filings: int


class SystemRow(_SystemFields):
    """A system as listed: state, owner, level, connections, last test, its filings pending and the changes
    implemented without confirmation."""

    unconfirmed_implemented: int


class FilingRow(_Row):
    """备案: one change filed for a system, and how far it has got."""

    number: int
    kind: str
    description: str
    affects_sharing: bool
    needs_confirmation: bool
    state: str
    comment: str
    filed_at: str
    decided_at: str | None
    implemented_on: str | None


class SystemDetail(_SystemFields):
    """One system with its plan, catalog, justification, review, tests, filings and SYS-5 findings."""

    plan: ConstructionPlan
    catalog: list[ProjectEntry]
    justification: Justification | None
    justification_missing: list[str] | None
    duplicates: list[DuplicateCollection]
    accepted: dict[str, str]
    review_comment: str
    last_test_findings: list[str] | None
    proposed_by: str
    justified_at: str | None
    filings: list[FilingRow]
    findings: list[Finding]


class ComplianceRow(_Row):
    """SYS-5: a proposed or live system that falls short, its findings and what 第三十七条 makes of it."""

    id: str
    name: str
    owner: str
    level: str
    state: str
    legacy: bool
    consequence: str
    findings: list[Finding]
    rectification: RectificationRow | None


class QueueTask(_Row):
    """A task of the Office's queue. `review_justification` carries the duplicates to accept; `confirm_change`
    the filing's kind and description (absent from the other tasks)."""

    task: str
    since: str
    system_id: str
    name: str
    owner: str
    level: str
    filing: int | None
    duplicates_to_accept: list[DuplicateCollection] | msgspec.UnsetType = msgspec.UNSET
    kind: str | msgspec.UnsetType = msgspec.UNSET
    description: str | msgspec.UnsetType = msgspec.UNSET


R = TypeVar("R")
Rows = tuple[list[R], str | None]


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k != "position"}
    for k in _JSON_COLUMNS:
        if k in out and out[k] is not None:
            out[k] = msgspec.json.decode(out[k])
    for k in ("legacy", "affects_sharing", "needs_confirmation"):
        if k in out:
            out[k] = bool(out[k])
    if "last_test_passed" in out and out["last_test_passed"] is not None:
        out["last_test_passed"] = bool(out["last_test_passed"])
    if "exchange_ref" in out:
        out["connections"] = {p: out.pop(f"{p}_ref") for p in ("exchange", "integration")
                              if out.get(f"{p}_ref") is not None}
        out.pop("exchange_ref", None)
        out.pop("integration_ref", None)
    return out


class SystemQueries:
    def __init__(self, db: Db) -> None:
        self.db = db

    def _filing_counts(self, ids: list[str]) -> dict[str, dict[str, int]]:
        if not ids:
            return {}
        marks = ", ".join("?" for _ in ids)
        rows = self.db.query(
            f"SELECT system_id, state, COUNT(*) AS n FROM system_filings WHERE system_id IN ({marks}) "
            "GROUP BY system_id, state", ids,
        )
        out: dict[str, dict[str, int]] = {}
        for r in rows:
            out.setdefault(r["system_id"], {})[r["state"]] = int(r["n"])
        return out

    def _unconfirmed(self, system_id: str) -> tuple[int, ...]:
        rows = self.db.query("SELECT number FROM system_filings WHERE system_id = ? AND state = "
                             "'implemented_unconfirmed' ORDER BY number", (system_id,))
        return tuple(int(r["number"]) for r in rows)

    def systems(self, *, scope: Scope, state: str | None = None, owner: str | None = None,
                level: str | None = None, limit: int = 50, cursor: str | None = None,
                ) -> Rows[SystemRow]:
        """Systems with state, owner, level, connections, last test and pending filings, by id (a scope sees the
        systems its organization owns)."""
        clauses: list[str] = ["1 = 1"]
        args: list[Any] = []
        if scope.org is not None:
            clauses.append("owner = ?")
            args.append(scope.org)
        for column, value in (("state", state), ("owner", owner), ("level", level)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        if cursor:
            clauses.append("id > ?")
            args.append(decode_cursor(cursor))
        rows = self.db.query(f"SELECT {_LIST_COLUMNS} FROM systems WHERE {' AND '.join(clauses)} ORDER BY id LIMIT ?",
                             (*args, limit + 1))
        more = len(rows) > limit
        rows = rows[:limit]
        counts = self._filing_counts([r["id"] for r in rows])
        items = []
        for r in rows:
            c = counts.get(r["id"], {})
            items.append(msgspec.convert({
                **_decode(r), "pending_filings": c.get("filed", 0) + c.get("confirmed", 0),
                "unconfirmed_implemented": c.get("implemented_unconfirmed", 0)}, SystemRow))
        return items, (encode_cursor(items[-1].id) if more and items else None)

    def system(self, system_id: UUID, scope: Scope) -> SystemDetail | None:
        """The system with its filings and SYS-5 findings; None when there is none or the scope does not own it."""
        row = self.db.query_one("SELECT * FROM systems WHERE id = ?", (str(system_id),))
        if row is None or not scope.sees(row["owner"]):
            return None
        filings = self.db.query("SELECT * FROM system_filings WHERE system_id = ? ORDER BY number", (row["id"],))
        out = _decode(row)
        out["filings"] = [{k: v for k, v in _decode(f).items() if k != "system_id"} for f in filings]
        out["pending_filings"] = sum(1 for f in filings if f["state"] in ("filed", "confirmed"))
        unconfirmed = tuple(int(f["number"]) for f in filings if f["state"] == "implemented_unconfirmed")
        out["findings"] = compliance_findings(facts_of(row, unconfirmed))
        return msgspec.convert(out, SystemDetail)

    def compliance(self, *, scope: Scope, limit: int = 50,
                   cursor: str | None = None) -> Rows[ComplianceRow]:
        """SYS-5: proposed and live systems that fall short of their rules, with what 第三十七条 makes of them
        (a scope sees the systems its organization owns)."""
        clauses: list[str] = ["state IN ('proposed', 'justified', 'live')"]
        args: list[Any] = []
        if scope.org is not None:
            clauses.append("owner = ?")
            args.append(scope.org)
        if cursor:
            clauses.append("id > ?")
            args.append(decode_cursor(cursor))
        items: list[ComplianceRow] = []
        more = False
        for row in self.db.query(f"SELECT * FROM systems WHERE {' AND '.join(clauses)} ORDER BY id", args):
            found = compliance_findings(facts_of(row, self._unconfirmed(row["id"])))
            if not found:
                continue
            if len(items) == limit:
                more = True
                break
            items.append(ComplianceRow(
                id=row["id"], name=row["name"], owner=row["owner"], level=row["level"], state=row["state"],
                legacy=bool(row["legacy"]), consequence=consequence(row["state"]), findings=list(found),
                rectification=(msgspec.json.decode(row["rectification"], type=RectificationRow)
                               if row["rectification"] else None),
            ))
        return items, (encode_cursor(items[-1].id) if more and items else None)

    def office_queue(self, *, limit: int = 50, cursor: str | None = None) -> Rows[QueueTask]:
        """What awaits the Office: justifications to review (and duplicates to accept), changes to confirm,
        and connected systems awaiting their catalog compliance test; oldest first."""
        items: list[dict[str, Any]] = []
        for r in self.db.query("SELECT id, name, owner, level, duplicates, accepted, justified_at FROM systems "
                               "WHERE state = 'justified'"):
            accepted = msgspec.json.decode(r["accepted"])
            waiting = [d for d in msgspec.json.decode(r["duplicates"]) if d["item_code"] not in accepted]
            items.append({"task": "review_justification", "since": r["justified_at"], "system_id": r["id"],
                          "name": r["name"], "owner": r["owner"], "level": r["level"], "filing": None,
                          "duplicates_to_accept": waiting})
        for r in self.db.query(
            "SELECT f.system_id, f.number, f.kind, f.description, f.filed_at, s.name, s.owner, s.level "
            "FROM system_filings f JOIN systems s ON s.id = f.system_id "
            "WHERE f.state = 'filed' AND f.needs_confirmation = 1"
        ):
            items.append({"task": "confirm_change", "since": r["filed_at"], "system_id": r["system_id"],
                          "name": r["name"], "owner": r["owner"], "level": r["level"], "filing": int(r["number"]),
                          "kind": r["kind"], "description": r["description"]})
        for r in self.db.query(
            "SELECT id, name, owner, level, modified_at FROM systems WHERE state = 'approved' "
            "AND exchange_ref IS NOT NULL AND integration_ref IS NOT NULL AND COALESCE(last_test_passed, 0) = 0"
        ):
            items.append({"task": "compliance_test", "since": r["modified_at"], "system_id": r["id"],
                          "name": r["name"], "owner": r["owner"], "level": r["level"], "filing": None})
        items.sort(key=lambda i: (i["since"], i["task"], i["system_id"], i["filing"] or 0))
        start = decode_number_cursor(cursor) if cursor else 0
        page = [msgspec.convert(i, QueueTask) for i in items[start:start + limit]]
        more = start + limit < len(items)
        return page, (encode_cursor(str(start + limit)) if more else None)

    def open_grants_on_entry(self, entry_id: UUID) -> list[dict[str, Any]]:
        """Active and suspended grants on an entry (from the sharing read model), for a decommission answer."""
        return self.db.query("SELECT id, holder, status FROM grants WHERE entry_id = ? AND status IN "
                             "('active', 'suspended') ORDER BY id", (str(entry_id),))
