"""Queries over the sharing read model: the grant-status answer (USE-1), grants, requests, the review queue."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from domain.grant_status import GrantState
from infrastructure.sql import Db
from projections.paging import decode_cursor, encode_cursor
from projections.scope import Scope
from projections.sharing import grant_state, iso

# -- the rows the reads answer (their keys and JSON values are the view's columns) ---------------------------


class GrantRow(msgspec.Struct, omit_defaults=False):
    """A grant as the grants view keeps it; `fields` the item codes granted, `by_catalog` whether the catalog's
    share class alone decided it (no order)."""

    id: str
    holder: str
    provider: str
    entry_id: str
    resource_code: str
    fields: list[str]
    purpose: str
    method: str
    valid_from: str
    valid_to: str
    kind: str
    status: str
    status_since: str
    consumed_at: str | None
    by_catalog: bool
    order_id: str
    request_id: str
    granted_at: str
    version: int


class OrderRow(msgspec.Struct, omit_defaults=False):
    """The implementation order (附件2) a request led to: the grants it issued and the live ones it reused."""

    id: str
    request_id: str
    holder: str
    new_grants: list[dict[str, Any]]
    reused: list[dict[str, Any]]
    issued_by: str
    issued_at: str
    position: int


class RequestRow(msgspec.Struct, omit_defaults=False):
    """A share request (附件1) and where its review stands; `approved` the entries and fields approved."""

    id: str
    requester: str
    scenario: str
    status: str
    reason: str
    purpose: str
    entries: list[dict[str, Any]]
    approved: list[dict[str, Any]] | None
    review_comment: str | None
    valid_from: str
    valid_to: str
    delivery_method: str
    order_id: str | None
    submitted_by: str
    submitted_at: str
    reviewed_at: str | None
    version: int


class RequestDetail(RequestRow, omit_defaults=False):
    """One request; `order` only once its implementation order is issued (absent before)."""

    order: OrderRow | msgspec.UnsetType = msgspec.UNSET


class ReviewRow(msgspec.Struct, omit_defaults=False):
    """A re-review of a live grant after a published revision of its entry; `how` and `impact` say how the
    revision affects the grant."""

    id: str
    grant_id: str
    entry_id: str
    resource_code: str
    entry_version: int
    holder: str
    provider: str
    how: Any
    impact: dict[str, Any]
    status: str
    decision: str | None
    comment: str
    opened_by: str
    opened_at: str
    closed_by: str | None
    closed_at: str | None
    version: int

_GRANT_COLUMNS = (
    "id, holder, provider, entry_id, resource_code, fields, purpose, method, valid_from, valid_to, kind, status, "
    "status_since, consumed_at, by_catalog, order_id, request_id, granted_at, version"
)


class SharingQueries:
    def __init__(self, db: Db) -> None:
        self.db = db
        self._by_holder_entry = (
            f"SELECT {_GRANT_COLUMNS} FROM grants WHERE holder = ? AND entry_id = ?"
        )

    # -- the hot path ------------------------------------------------------------------------

    def grants_for(self, holder: str, entry_id: UUID) -> list[GrantState]:
        """Every grant the holder ever had for the entry, as the read model now has them."""
        return [grant_state(r) for r in self.db.query(self._by_holder_entry, (holder, str(entry_id)))]

    def grant_ids_for(self, holder: str, entry_id: UUID) -> list[UUID]:
        rows = self.db.query("SELECT id FROM grants WHERE holder = ? AND entry_id = ?", (holder, str(entry_id)))
        return [UUID(r["id"]) for r in rows]

    def provider_of(self, entry_id: UUID) -> str | None:
        value = self.db.scalar("SELECT provider FROM catalog_entries WHERE id = ?", (str(entry_id),))
        return None if value is None else str(value)

    # -- indexes for commands (the aggregates stay authoritative) ------------------------------

    def reusable_grant_ids(self, holder: str, entry_ids: Iterable[UUID]) -> list[UUID]:
        ids = [str(e) for e in entry_ids]
        if not ids:
            return []
        marks = ", ".join("?" for _ in ids)
        rows = self.db.query(
            f"SELECT id FROM grants WHERE holder = ? AND kind = 'reusable' AND status = 'active' "
            f"AND entry_id IN ({marks}) ORDER BY id", (holder, *ids),
        )
        return [UUID(r["id"]) for r in rows]

    def open_grant_ids_on_entry(self, entry_id: UUID) -> list[UUID]:
        rows = self.db.query(
            "SELECT id FROM grants WHERE entry_id = ? AND status IN ('active', 'suspended') ORDER BY id",
            (str(entry_id),),
        )
        return [UUID(r["id"]) for r in rows]

    def due_for_expiry(self, now: datetime, limit: int = 500) -> list[UUID]:
        rows = self.db.query(
            "SELECT id FROM grants WHERE status IN ('active', 'suspended') AND valid_to < ? ORDER BY valid_to LIMIT ?",
            (iso(now), limit),
        )
        return [UUID(r["id"]) for r in rows]

    # -- lists ---------------------------------------------------------------------------------

    def grants(self, *, scope: Scope, holder: str | None = None, provider: str | None = None,
               entry_id: UUID | None = None, status: str | None = None, limit: int = 50,
               cursor: str | None = None) -> tuple[list[GrantRow], str | None]:
        """The grants in scope: others than the Office and auditors see those they hold or provide."""
        clauses, args = ["1 = 1"], []  # type: ignore[var-annotated]
        if scope.org is not None:
            clauses.append("(holder = ? OR provider = ?)")
            args += [scope.org, scope.org]
        for column, value in (("holder", holder), ("provider", provider), ("status", status)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        if entry_id is not None:
            clauses.append("entry_id = ?")
            args.append(str(entry_id))
        if cursor:
            clauses.append("id > ?")
            args.append(decode_cursor(cursor))
        rows = self.db.query(
            f"SELECT {_GRANT_COLUMNS} FROM grants WHERE {' AND '.join(clauses)} ORDER BY id LIMIT ?",
            (*args, limit + 1),
        )
        more = len(rows) > limit
        items = [_grant_row(r) for r in rows[:limit]]
        return items, (encode_cursor(items[-1].id) if more and items else None)

    def grant(self, grant_id: UUID, scope: Scope) -> GrantRow | None:
        """The grant, or None when there is none or the scope does not see it (its holder or provider)."""
        row = self.db.query_one(f"SELECT {_GRANT_COLUMNS} FROM grants WHERE id = ?", (str(grant_id),))
        return None if row is None or not scope.sees(row["holder"], row["provider"]) else _grant_row(row)

    def requests(self, *, scope: Scope, status: str | None = None, limit: int = 50,
                 cursor: str | None = None) -> tuple[list[RequestRow], str | None]:
        """The requests in scope: others than the Office and auditors see their organization's own."""
        clauses, args = ["1 = 1"], []  # type: ignore[var-annotated]
        if scope.org is not None:
            clauses.append("requester = ?")
            args.append(scope.org)
        if status is not None:
            clauses.append("status = ?")
            args.append(status)
        if cursor:
            clauses.append("(submitted_at || id) > ?")
            args.append(decode_cursor(cursor))
        rows = self.db.query(
            f"SELECT * FROM share_requests WHERE {' AND '.join(clauses)} ORDER BY submitted_at || id LIMIT ?",
            (*args, limit + 1),
        )
        more = len(rows) > limit
        items = [msgspec.convert(_request_row(r), RequestRow) for r in rows[:limit]]
        last = items[-1] if items else None
        return items, (encode_cursor(last.submitted_at + last.id) if more and last else None)

    def request(self, request_id: UUID, scope: Scope) -> RequestDetail | None:
        """The request with its order, or None when there is none or the scope does not see it (its requester)."""
        row = self.db.query_one("SELECT * FROM share_requests WHERE id = ?", (str(request_id),))
        if row is None or not scope.sees(row["requester"]):
            return None
        out = _request_row(row)
        if row["order_id"]:
            order = self.db.query_one("SELECT * FROM implementation_orders WHERE id = ?", (row["order_id"],))
            if order is not None:
                out["order"] = {**order, "new_grants": msgspec.json.decode(order["new_grants"]),
                                "reused": msgspec.json.decode(order["reused"])}
        return msgspec.convert(out, RequestDetail)


class GrantCache:
    """The holder's grants on each entry, in memory, kept current from the sharing view's position.

    USE-1 is asked before every delivery, from many processes; the answer changes only when the
    grants view moves. The cache holds the grants of each (holder, entry) asked about, and stands
    on one view position `at`: every grant row changed after `at` (its `position` column) has been
    dropped from the cache, so a cached list is the view's rows as at `at` or later.

    It learns that the view moved from `announced()` — the position this process was told of
    (its own pages and, across processes, the projecting process's notifications), or None when
    it may have missed a notification (no listener, or one reconnecting). Then, and at least every
    `recheck_seconds` whatever it was told, it reads the view's stored position instead, so an
    answer stands on a position at most that old even if a notification were lost. A position
    lower than `at` means the view was rebuilt: everything is forgotten.
    """

    def __init__(self, queries: SharingQueries, stored_position: Callable[[], int],
                 announced: Callable[[], int | None] = lambda: None, *, max_keys: int = 200_000,
                 recheck_seconds: float = 0.5) -> None:
        self.queries = queries
        self.stored_position = stored_position
        self.announced = announced
        self.max_keys = max_keys
        self.recheck_seconds = recheck_seconds
        self._grants: dict[tuple[str, UUID], list[GrantState]] = {}
        self._providers: dict[UUID, str] = {}  # an entry's provider never changes once drafted
        self._at = 0
        self._checked = -1.0e9
        self._generation = 0
        self._lock = threading.Lock()
        self.hits = self.misses = self.refreshes = 0

    # -- the position -------------------------------------------------------------------------

    def current_without_io(self) -> bool:
        """True when the cache is known current without asking the database (the hot path)."""
        told = self.announced()
        return told is not None and told == self._at and time.monotonic() - self._checked < self.recheck_seconds

    def position(self) -> int:
        """Brings the cache to the view's position (one query of the rows changed, when it moved) and returns it."""
        told = self.announced()
        now = time.monotonic()
        due = now - self._checked >= self.recheck_seconds
        if told is not None and told == self._at and not due:
            return self._at
        with self._lock:  # one refresh at a time; the others wait for it rather than repeat it
            told = self.announced()
            due = now - self._checked >= self.recheck_seconds
            if told is not None and told == self._at and not due:
                return self._at
            target = told if told is not None and told > self._at and not due else self.stored_position()
            if target != self._at:
                # A read begun before the move may predate a change this move covers: it is not kept,
                # even when the cache was empty and nothing is dropped.
                self._generation += 1
            if target < self._at:  # the view was rebuilt
                self._grants.clear()
            elif target > self._at and self._grants:
                changed = self.queries.db.query("SELECT DISTINCT holder, entry_id FROM grants WHERE position > ?",
                                                (self._at,))
                for r in changed:
                    self._grants.pop((r["holder"], UUID(r["entry_id"])), None)
                self.refreshes += 1
            self._at = target
            self._checked = now
            return self._at

    # -- the lookups --------------------------------------------------------------------------

    def cached(self, holder: str, entry_id: UUID) -> bool:
        return (holder, entry_id) in self._grants

    def grants_at(self, holder: str, entry_id: UUID) -> tuple[list[GrantState], int]:
        """The holder's grants on the entry and the view position they stand on at least."""
        at = self.position()
        key = (holder, entry_id)
        found = self._grants.get(key)
        if found is not None:
            self.hits += 1
            return found, at
        self.misses += 1
        generation = self._generation
        states = self.queries.grants_for(holder, entry_id)  # read after `at` was reached: as at `at` or later
        with self._lock:
            if generation == self._generation:  # nothing was dropped meanwhile that this read may predate
                if len(self._grants) >= self.max_keys:
                    self._grants.clear()
                self._grants[key] = states
        return states, at

    def provider_of(self, entry_id: UUID) -> str | None:
        found = self._providers.get(entry_id)
        if found is None:
            found = self.queries.provider_of(entry_id)
            if found is not None:
                if len(self._providers) >= self.max_keys:
                    self._providers.clear()
                self._providers[entry_id] = found
        return found

    def known_provider(self, entry_id: UUID) -> bool:
        return entry_id in self._providers

    def __len__(self) -> int:
        return len(self._grants)


def _grant_row(row: dict[str, Any]) -> GrantRow:
    return msgspec.convert({**row, "fields": msgspec.json.decode(row["fields"]), "by_catalog": bool(row["by_catalog"])},
                           GrantRow)


def _request_row(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k != "position"}
    out["entries"] = msgspec.json.decode(row["entries"])
    out["approved"] = msgspec.json.decode(row["approved"]) if row["approved"] else None
    return out


_REVIEW_COLUMNS = ("id, grant_id, entry_id, resource_code, entry_version, holder, provider, how, impact, status, "
                   "decision, comment, opened_by, opened_at, closed_by, closed_at, version")


def _review_row(row: dict[str, Any]) -> ReviewRow:
    return msgspec.convert({**row, "how": msgspec.json.decode(row["how"]), "impact": msgspec.json.decode(row["impact"])},
                           ReviewRow)


class ReviewQueries:
    """The Office's re-review queue: live grants whose catalog entry a published revision changed. Only the
    Office and the auditors see it (a scope of one organization sees no re-review)."""

    def __init__(self, db: Db) -> None:
        self.db = db

    def reviews(self, *, status: str | None = None, grant_id: UUID | None = None, entry_id: UUID | None = None,
                limit: int = 50, cursor: str | None = None) -> tuple[list[ReviewRow], str | None]:
        clauses, args = ["1 = 1"], []  # type: ignore[var-annotated]
        for column, value in (("status", status), ("grant_id", grant_id), ("entry_id", entry_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(str(value))
        if cursor:
            clauses.append("id > ?")
            args.append(decode_cursor(cursor))
        rows = self.db.query(
            f"SELECT {_REVIEW_COLUMNS} FROM grant_reviews WHERE {' AND '.join(clauses)} ORDER BY id LIMIT ?",
            (*args, limit + 1))
        more = len(rows) > limit
        items = [_review_row(r) for r in rows[:limit]]
        return items, (encode_cursor(items[-1].id) if more and items else None)

    def review(self, review_id: UUID, scope: Scope) -> ReviewRow | None:
        """The re-review, or None when there is none or the scope is one organization's."""
        if not scope.sees_everything:
            return None
        row = self.db.query_one(f"SELECT {_REVIEW_COLUMNS} FROM grant_reviews WHERE id = ?", (str(review_id),))
        return None if row is None else _review_row(row)

    def open_count(self) -> int:
        return int(self.db.scalar("SELECT COUNT(*) FROM grant_reviews WHERE status = 'open'") or 0)
