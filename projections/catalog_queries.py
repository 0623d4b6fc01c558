"""Queries over the catalog and the open-data catalog (CAT-*, OPEN-1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from domain.catalog_values import CYCLE_PERIOD, UpdateCycle
from infrastructure.sql import Db
from projections.catalog import item_code_match, item_code_param
from projections.paging import decode_cursor, encode_cursor
from projections.scope import Scope


class CatalogFilter(msgspec.Struct, kw_only=True):
    provider: str | None = None
    status: str | None = None
    share_class: str | None = None
    open_class: str | None = None
    item_code: str | None = None
    q: str | None = None
    overdue: bool | None = None


class EntryRow(msgspec.Struct, omit_defaults=False):
    """A catalog entry as listed. To an organization other than its provider, the published version only:
    `status` is never `revising`, the pending version's number and state are null, and `version` and
    `modified_at` are those of its last public event."""

    id: str
    resource_code: str
    name: str
    provider: str
    provider_level: str
    status: str
    share_class: str
    open_class: str
    update_cycle: str
    current_version: int | None
    pending_version: int | None
    pending_state: str | None
    published_on: str | None
    last_updated: str | None
    version: int
    modified_at: str
    overdue: bool


class PendingVersion(msgspec.Struct, omit_defaults=False):
    """The version being drafted, reviewed or approved beside the one in force (the provider's own)."""

    number: int
    state: str | None
    compiler: str | None
    content: dict[str, Any] | None
    review: dict[str, Any] | None
    accepted_duplicates: dict[str, Any]


class EntryDetail(EntryRow, omit_defaults=False):
    """One entry: the listed fields, the content in force (`current`) and the pending version."""

    current: dict[str, Any] | None
    pending: PendingVersion | None


class OpenEntryRow(msgspec.Struct, omit_defaults=False):
    """An entry of the open-data catalog (OPEN-1): published, and open unconditionally or on conditions."""

    id: str
    resource_code: str
    name: str
    provider: str
    open_class: str
    open_conditions: str | None
    update_cycle: str
    published_on: str
    content: dict[str, Any]


def overdue_cutoffs(now: datetime, grace_days: int) -> dict[str, str]:
    """Per update cycle, the last-update instant before which an entry is overdue (CAT-7)."""
    grace = timedelta(days=grace_days)
    return {str(c): (now - CYCLE_PERIOD[c] - grace).astimezone(UTC).isoformat() for c in UpdateCycle}


def _overdue_sql(cutoffs: dict[str, str]) -> tuple[str, list[Any]]:
    parts, params = [], []
    for cycle, cutoff in cutoffs.items():
        parts.append("(update_cycle = ? AND last_updated < ?)")
        params += [cycle, cutoff]
    return "(status IN ('published', 'revising') AND (" + " OR ".join(parts) + "))", params


_LIST_COLUMNS = (
    "id, resource_code, name, provider, provider_level, status, share_class, open_class, update_cycle, "
    "current_version, pending_version, pending_state, published_on, last_updated, version, modified_at"
)
_LIST = tuple(_LIST_COLUMNS.split(", "))
# What an organization other than the provider reads of an entry: the published version only. A pending
# revision's state, number and content, its compiler and reviewer, and the version and time its events
# moved, all stay with the provider (and the Office and auditors), as in the feed.
_OUTSIDE = {
    "status": "CASE WHEN status = 'revising' THEN 'published' ELSE status END",
    "pending_version": "NULL", "pending_state": "NULL", "pending_content": "NULL", "pending_compiler": "NULL",
    "pending_review": "NULL", "accepted_duplicates": "NULL",
    "version": "COALESCE(public_version, version)", "modified_at": "COALESCE(public_modified_at, modified_at)",
}
_DETAIL = (*_LIST, "current_content", "pending_content", "pending_compiler", "pending_review", "accepted_duplicates")


def _scoped(columns: tuple[str, ...], viewer_org: str | None) -> tuple[str, list[Any]]:
    """The select list as the viewer may read it: the provider's own rows whole, others' as published."""
    if viewer_org is None:
        return ", ".join(columns), []
    out, params = [], []
    for c in columns:
        if c in _OUTSIDE:
            out.append(f"CASE WHEN provider = ? THEN {c} ELSE {_OUTSIDE[c]} END AS {c}")
            params.append(viewer_org)
        else:
            out.append(c)
    return ", ".join(out), params


class CatalogQueries:
    def __init__(self, db: Db, grace_days: int = 7) -> None:
        self.db = db
        self.grace_days = grace_days

    def _visibility(self, viewer_org: str | None) -> tuple[str, list[Any]]:
        """Which entries a scope sees: the Office and auditors every one; an organization its own, and the
        others' once a version of them is published."""
        if viewer_org is None:  # the Office and auditors see every entry
            return "1 = 1", []
        return "(status IN ('published', 'revising', 'retired') AND current_version IS NOT NULL OR provider = ?)", [viewer_org]

    def list(self, f: CatalogFilter, *, scope: Scope, now: datetime, limit: int = 50,
             cursor: str | None = None) -> tuple[list[EntryRow], str | None]:
        viewer_org = scope.org
        where, params = self._visibility(viewer_org)
        clauses, args = [where], list(params)
        for column in ("provider", "share_class", "open_class"):
            value = getattr(f, column)
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        if f.status == "published":  # the published version is in force, whether or not a revision is pending
            clauses.append("status IN ('published', 'revising')")
        elif f.status == "revising" and viewer_org is not None:  # others' revisions are not theirs to see
            clauses.append("status = 'revising' AND provider = ?")
            args.append(viewer_org)
        elif f.status is not None:
            clauses.append("status = ?")
            args.append(f.status)
        if f.item_code:
            match = item_code_match(self.db.dialect)
            if viewer_org is None:
                clauses.append(f"id IN (SELECT entry_id FROM catalog_items WHERE {match})")
                args.append(item_code_param(f.item_code))
            else:  # the items of a pending version are the provider's own
                clauses.append(f"id IN (SELECT entry_id FROM catalog_items WHERE {match} "
                               "AND (published = 1 OR provider = ?))")
                args += [item_code_param(f.item_code), viewer_org]
        if f.q:
            clauses.append("search_text LIKE ?")
            args.append("%" + f.q.lower().replace("%", "").replace("_", "") + "%")
        cutoffs = overdue_cutoffs(now, self.grace_days)
        overdue_sql, overdue_args = _overdue_sql(cutoffs)
        if f.overdue is True:
            clauses.append(overdue_sql)
            args += overdue_args
        elif f.overdue is False:
            clauses.append(f"NOT {overdue_sql}")
            args += overdue_args
        if cursor:
            clauses.append("resource_code > ?")
            args.append(decode_cursor(cursor))
        select, select_args = _scoped(_LIST, viewer_org)
        rows = self.db.query(
            f"SELECT {select} FROM catalog_entries WHERE {' AND '.join(clauses)} "
            "ORDER BY resource_code LIMIT ?",
            (*select_args, *args, limit + 1),
        )
        more = len(rows) > limit
        items = [msgspec.convert({**r, "overdue": _is_overdue(r, cutoffs)}, EntryRow) for r in rows[:limit]]
        return items, (encode_cursor(items[-1].resource_code) if more and items else None)

    def get(self, entry_id: str, *, scope: Scope, now: datetime) -> EntryDetail | None:
        """The entry as the scope may read it, or None when there is none or the scope does not see it."""
        viewer_org = scope.org
        where, params = self._visibility(viewer_org)
        select, select_args = _scoped(_DETAIL, viewer_org)
        row = self.db.query_one(f"SELECT {select} FROM catalog_entries WHERE id = ? AND {where}",
                                (*select_args, entry_id, *params))
        if row is None:
            return None
        out = {k: row[k] for k in _LIST}
        out["overdue"] = _is_overdue(row, overdue_cutoffs(now, self.grace_days))
        out["current"] = _decode(row["current_content"])
        out["pending"] = None if row["pending_version"] is None else {
            "number": row["pending_version"], "state": row["pending_state"], "compiler": row["pending_compiler"],
            "content": _decode(row["pending_content"]), "review": _decode(row["pending_review"]),
            "accepted_duplicates": _decode(row["accepted_duplicates"]) or {},
        }
        return msgspec.convert(out, EntryDetail)

    def open_catalog(self, *, limit: int = 50, cursor: str | None = None,
                     q: str | None = None) -> tuple[list[OpenEntryRow], str | None]:
        clauses, args = ["1 = 1"], []
        if cursor:
            clauses.append("resource_code > ?")
            args.append(decode_cursor(cursor))
        if q:
            clauses.append("(lower(name) LIKE ? OR resource_code LIKE ?)")
            args += ["%" + q.lower() + "%", "%" + q + "%"]
        rows = self.db.query(
            f"SELECT * FROM open_catalog WHERE {' AND '.join(clauses)} ORDER BY resource_code LIMIT ?",
            (*args, limit + 1),
        )
        more = len(rows) > limit
        items = [msgspec.convert({**r, "content": _decode(r["content"])}, OpenEntryRow) for r in rows[:limit]]
        return items, (encode_cursor(items[-1].resource_code) if more and items else None)


def _decode(value: str | None) -> Any:
    return None if value is None else msgspec.json.decode(value)


def _is_overdue(row: dict[str, Any], cutoffs: dict[str, str]) -> bool:
    if row["status"] not in ("published", "revising") or not row.get("last_updated"):
        return False
    return bool(row["last_updated"] < cutoffs[row["update_cycle"]])
