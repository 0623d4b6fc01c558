"""What `GET /state` and `civic-ledger state` read from a replica: counts per status, and the rows they print.

Stored instants are UTC ISO strings, so an instant is turned to UTC before it is compared with them: compared
in the caller's offset, `+08:00` would be off by eight hours.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from domain.compliance import OPEN
from infrastructure.sql import Db
from projections.compliance import VISIBLE_TO_SUBJECT

_IN_FORCE = "status = 'active' AND valid_from <= ? AND valid_to >= ?"


def utc_iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


class StateQueries:
    """Queries over a replica of the read models (or the live tables); `viewer` None sees everything."""

    def __init__(self, db: Db) -> None:
        self.db = db

    def _counts(self, sql: str, args: tuple[Any, ...] = ()) -> dict[str, int]:
        return {str(r["k"]): int(r["n"]) for r in self.db.query(sql, args)}

    def summary(self, at: datetime, viewer: str | None = None) -> dict[str, Any]:
        """Counts per catalog status, grant status, system state and violation status, and the grants in force
        at `at`, as `viewer` may see them (the same rules as the live lists)."""
        mine = viewer is not None
        one: tuple[str, ...] = (viewer,) if viewer is not None else ()
        two = one * 2
        # another organization's revision is not the viewer's to see: its entry counts as published
        catalog = self._counts(
            "SELECT CASE WHEN provider = ? OR status <> 'revising' THEN status ELSE 'published' END AS k, "
            "COUNT(*) AS n FROM catalog_entries WHERE provider = ? OR current_version IS NOT NULL GROUP BY 1",
            two) if mine else self._counts("SELECT status AS k, COUNT(*) AS n FROM catalog_entries GROUP BY status")
        held = " AND (holder = ? OR provider = ?)" if mine else ""
        grants = self._counts(f"SELECT status AS k, COUNT(*) AS n FROM grants WHERE 1 = 1{held} GROUP BY status", two)
        in_force = self.db.scalar(f"SELECT COUNT(*) FROM grants WHERE {_IN_FORCE}{held}",
                                  (utc_iso(at), utc_iso(at), *two))
        systems = self._counts(
            f"SELECT state AS k, COUNT(*) AS n FROM systems{' WHERE owner = ?' if mine else ''} GROUP BY state", one)
        violations = self._counts(
            "SELECT status AS k, COUNT(*) AS n FROM violations"
            f"{f' WHERE subject = ? AND {VISIBLE_TO_SUBJECT}' if mine else ''} GROUP BY status", one)
        return {
            "catalog": {"by_status": catalog,
                        "published": catalog.get("published", 0) + catalog.get("revising", 0)},
            "grants": {"by_status": grants, "in_force": int(in_force or 0)},
            "systems": {"by_state": systems, "live": systems.get("live", 0)},
            "violations": {"by_status": violations,
                           "open": sum(n for s, n in violations.items() if s in OPEN)},
            "organizations": int(self.db.scalar("SELECT COUNT(*) FROM organizations") or 0),
        }

    def published_catalog(self) -> list[dict[str, Any]]:
        return self.db.query(
            "SELECT resource_code, name, provider, status, share_class, open_class, current_version, published_on "
            "FROM catalog_entries WHERE current_version IS NOT NULL AND status IN ('published', 'revising') "
            "ORDER BY resource_code")

    def grants_in_force(self, at: datetime) -> list[dict[str, Any]]:
        """Active grants whose validity covers `at`."""
        return self.db.query(
            "SELECT id, holder, provider, resource_code, fields, purpose, method, kind, valid_from, valid_to "
            f"FROM grants WHERE {_IN_FORCE} ORDER BY holder, resource_code, id", (utc_iso(at), utc_iso(at)))

    def systems(self) -> list[dict[str, Any]]:
        return self.db.query(
            "SELECT id, name, owner, level, state, legacy, exchange_ref, integration_ref, last_test_passed, "
            "live_since, proposed_at, modified_at, version FROM systems ORDER BY owner, name, id")

    def violations(self) -> list[dict[str, Any]]:
        return self.db.query(
            "SELECT id, kind, subject, status, summary, raised_at, deadline, closed_at, version FROM violations "
            "ORDER BY raised_at, id")
