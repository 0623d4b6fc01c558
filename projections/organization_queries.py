"""Queries over the organizations read model: organizations and their members."""

from __future__ import annotations

from typing import Any

import msgspec

from infrastructure.sql import Db
from projections.paging import decode_cursor, encode_cursor
from projections.scope import Scope


class OrganizationRow(msgspec.Struct, omit_defaults=False):
    """A registered organization; `parent` the code of the one above it (none for the top)."""

    id: str
    code: str
    name: str
    kind: str
    level: str
    parent: str | None
    version: int


class MemberRow(msgspec.Struct, omit_defaults=False):
    """A designated role of a person of the organization (ORG-1)."""

    person: str
    role: str
    assigned_at: str


class OrganizationQueries:
    def __init__(self, db: Db) -> None:
        self.db = db

    def list(self, *, kind: str | None = None, limit: int = 100,
             cursor: str | None = None) -> tuple[list[OrganizationRow], str | None]:
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
        items = [msgspec.convert(r, OrganizationRow) for r in rows[:limit]]
        return items, (encode_cursor(items[-1].code) if more and items else None)

    def members(self, code: str, scope: Scope) -> list[MemberRow] | None:
        """The organization's members, or None when the scope does not see them (another organization's)."""
        if not scope.sees(code):
            return None
        rows: list[dict[str, Any]] = self.db.query(
            "SELECT person, role, assigned_at FROM organization_members WHERE organization = ? ORDER BY person, role",
            (code,),
        )
        return [msgspec.convert(r, MemberRow) for r in rows]
