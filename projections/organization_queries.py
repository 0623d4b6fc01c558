"""Queries over the organizations read model: organizations and their members."""

from __future__ import annotations

from typing import Any

from infrastructure.sql import Db
from projections.paging import decode_cursor, encode_cursor


class OrganizationQueries:
    def __init__(self, db: Db) -> None:
        self.db = db

    def list(self, *, kind: str | None = None, limit: int = 100, cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        clauses, args = ["1 = 1"], []
        if kind:
            clauses.append("kind = ?")
            args.append(kind)
        if cursor:
            clauses.append("code > ?")
            args.append(decode_cursor(cursor))
        rows = self.db.query(
            f"SELECT id, code, name, kind, level, parent, version FROM organizations WHERE {' AND '.join(clauses)} "
            "ORDER BY code LIMIT ?", (*args, limit + 1),
        )
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, (encode_cursor(rows[-1]["code"]) if more and rows else None)

    def members(self, code: str) -> list[dict[str, Any]]:
        return self.db.query(
            "SELECT person, role, assigned_at FROM organization_members WHERE organization = ? ORDER BY person, role",
            (code,),
        )
