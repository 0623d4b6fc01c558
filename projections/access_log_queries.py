"""Queries over the access log read model: the rolling window by provider, user, entry, grant and day (LOG-2)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

import msgspec

from domain.access_log import Outcome
from domain.base import check_calendar
from infrastructure.sql import Db
from projections.access_log import COLUMNS, beijing_day, instant
from projections.paging import MalformedCursor, decode_cursor, encode_cursor
from projections.scope import Scope

_CHUNK = 500
_SELECT = ", ".join(c for c in COLUMNS if c not in ("batch_id", "position"))


class AccessLogFilter(msgspec.Struct, kw_only=True, frozen=True):
    provider: str | None = None
    holder: str | None = None
    entry_id: UUID | None = None
    grant_id: UUID | None = None
    outcome: str | None = None
    start: datetime | None = None
    end: datetime | None = None

    def __post_init__(self) -> None:
        check_calendar(**{"from": self.start, "to": self.end})


class ReasonRow(msgspec.Struct, omit_defaults=False):
    """Why a record was denied: the rule, its article and the grant it concerned, as the judgement gave it."""

    rule: str
    article: str
    code: str
    detail: str
    fields: list[str] = []
    grant_id: UUID | None = None


class AccessRecordRow(msgspec.Struct, omit_defaults=False):
    """One record of the window as the access log read model keeps it (`accessed_at`, `recorded_at`: UTC,
    fixed width, so text order is time order)."""

    request_id: str
    accessed_at: str
    holder: str
    provider: str
    entry_id: UUID
    grant_id: UUID | None
    fields: list[str]
    purpose: str
    method: str
    record_count: int
    outcome: Outcome
    reasons: list[ReasonRow]
    consumed_grant: UUID | None
    recorded_at: str


class DailyRow(msgspec.Struct, omit_defaults=False):
    """Allowed and denied counts of one Beijing day, organization (on `side`) and entry; `records` sums the
    record counts (a whole number that may pass 2^63)."""

    day: date
    org: str
    side: Literal["provider", "holder"]
    entry_id: UUID
    allowed: int
    denied: int
    records: int


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for i in range(0, len(values), _CHUNK):
        yield values[i:i + _CHUNK]


class AccessLogQueries:
    def __init__(self, db: Db) -> None:
        self.db = db

    # -- the window (LOG-2) -------------------------------------------------------------------

    def records(self, *, scope: Scope, since: datetime, f: AccessLogFilter, limit: int = 50,
                cursor: str | None = None) -> tuple[list[AccessRecordRow], str | None]:
        """Newest first, never older than `since`; a scope of one organization limits to the records it provided
        or made (LOG-2)."""
        clauses, args = ["accessed_at >= ?"], [instant(max(since, f.start) if f.start else since)]
        if f.end is not None:
            clauses.append("accessed_at < ?")
            args.append(instant(f.end))
        if scope.org is not None:
            clauses.append("(provider = ? OR holder = ?)")
            args += [scope.org, scope.org]
        for column, value in (("provider", f.provider), ("holder", f.holder), ("outcome", f.outcome),
                              ("entry_id", f.entry_id), ("grant_id", f.grant_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(str(value))
        if cursor:
            at, sep, rid = decode_cursor(cursor).partition("|")
            if not sep:
                raise MalformedCursor("The cursor is not one this list handed out; follow next_cursor as given.")
            clauses.append("(accessed_at, request_id) < (?, ?)")
            args += [at, rid]
        rows = self.db.query(
            f"SELECT {_SELECT} FROM access_log WHERE {' AND '.join(clauses)} "
            "ORDER BY accessed_at DESC, request_id DESC LIMIT ?", (*args, limit + 1),
        )
        more = len(rows) > limit
        records = [_typed(r) for r in rows[:limit]]
        nxt = encode_cursor(f"{records[-1].accessed_at}|{records[-1].request_id}") if more and records else None
        return records, nxt

    def daily(self, *, scope: Scope, since: datetime, until: datetime | None = None, side: str | None = None,
              entry_id: UUID | None = None, of: str | None = None) -> list[DailyRow]:
        """Counts per Beijing day, organization (as provider or holder) and entry, for charts; a scope of one
        organization sees only its own counts."""
        clauses, args = ["day >= ?"], [beijing_day(since)]
        if until is not None:
            clauses.append("day <= ?")
            args.append(beijing_day(until))
        if scope.org is not None:
            clauses.append("org = ?")
            args.append(scope.org)
        for column, value in (("org", of), ("side", side), ("entry_id", entry_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(str(value))
        rows = self.db.query(
            "SELECT day, org, side, entry_id, allowed, denied, records FROM access_log_daily "
            f"WHERE {' AND '.join(clauses)} ORDER BY day, org, side, entry_id", args,
        )
        # records is NUMERIC (PostgreSQL) or decimal text (SQLite) so that no sum overflows: a whole number here
        return [msgspec.convert({**r, "records": int(r["records"])}, DailyRow, strict=False) for r in rows]

    def outcomes(self, request_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The stored records of these request ids (to answer a re-sent batch)."""
        out: dict[str, dict[str, Any]] = {}
        for part in _chunks(list(request_ids)):
            marks = ", ".join("?" for _ in part)
            for r in self.db.query(f"SELECT {_SELECT} FROM access_log WHERE request_id IN ({marks})", part):
                out[r["request_id"]] = _row(r)
        return out

    # -- lookups for the write path (the read models of other contexts as indexes) ------------

    def entry_providers(self, entry_ids: Iterable[UUID]) -> dict[UUID, str]:
        """The provider of each catalog entry the catalog read model knows."""
        ids = sorted({str(e) for e in entry_ids})
        out: dict[UUID, str] = {}
        for part in _chunks(ids):
            marks = ", ".join("?" for _ in part)
            for r in self.db.query(f"SELECT id, provider FROM catalog_entries WHERE id IN ({marks})", part):
                out[UUID(r["id"])] = str(r["provider"])
        return out

    def grant_ids_for_pairs(self, pairs: Iterable[tuple[str, UUID]]) -> dict[tuple[str, UUID], list[tuple[UUID, int]]]:
        """Every grant (id, version) each holder ever had for each entry, from the sharing read model."""
        wanted = set(pairs)
        holders = sorted({h for h, _ in wanted})
        out: dict[tuple[str, UUID], list[tuple[UUID, int]]] = {p: [] for p in wanted}
        # the rows' pairs are matched as text: a holder's grants for entries outside the batch are never
        # turned into UUIDs (a batch names a few hundred pairs, its holders may hold many more grants)
        by_text = {(h, str(e)): out[(h, e)] for h, e in wanted}
        for part in _chunks(holders):
            marks = ", ".join("?" for _ in part)
            sql = f"SELECT id, holder, entry_id, version FROM grants WHERE holder IN ({marks})"
            for r in self.db.query(sql, part):
                grants = by_text.get((str(r["holder"]), str(r["entry_id"])))
                if grants is not None:
                    grants.append((UUID(r["id"]), int(r["version"])))
        return out


def _row(r: dict[str, Any]) -> dict[str, Any]:
    return {**r, "fields": msgspec.json.decode(r["fields"]), "reasons": msgspec.json.decode(r["reasons"])}


def _typed(r: dict[str, Any]) -> AccessRecordRow:
    return msgspec.convert(_row(r), AccessRecordRow, strict=False)
