"""Organizations, their members' roles and service authorisations, as plain tables."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from domain.organizations import Organization
from infrastructure.sql import Tx
from projections.base import View

Org = Organization


class OrganizationsView(View):
    name = "organizations"
    version = 1
    tables = ("organizations", "organization_members", "service_authorisations")
    handles = (Org.Registered, Org.RoleAssigned, Org.RoleRevoked, Org.ServiceAuthorised, Org.ServiceAuthorisationWithdrawn)

    def create(self, tx: Tx) -> None:
        tx.execute(
            "CREATE TABLE IF NOT EXISTS organizations (id TEXT PRIMARY KEY, code TEXT NOT NULL UNIQUE, "
            "name TEXT NOT NULL, kind TEXT NOT NULL, level TEXT NOT NULL, parent TEXT, "
            "version INTEGER NOT NULL, registered_at TEXT NOT NULL)"
        )
        tx.execute(
            "CREATE TABLE IF NOT EXISTS organization_members (organization TEXT NOT NULL, person TEXT NOT NULL, "
            "role TEXT NOT NULL, assigned_at TEXT NOT NULL, PRIMARY KEY (organization, person, role))"
        )
        tx.execute(
            "CREATE TABLE IF NOT EXISTS service_authorisations (organization TEXT NOT NULL, serves TEXT NOT NULL, "
            "valid_from TEXT NOT NULL, valid_to TEXT NOT NULL, scope TEXT NOT NULL, "
            "PRIMARY KEY (organization, serves, valid_from))"
        )

    def apply(self, tx: Tx, event: Any, position: int) -> None:
        oid = str(event.originator_id)
        ts = event.timestamp.astimezone(UTC).isoformat()
        if isinstance(event, Org.Registered):
            tx.execute(
                "INSERT INTO organizations (id, code, name, kind, level, parent, version, registered_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (oid, event.code, event.name, str(event.kind), str(event.level), event.parent,
                 event.originator_version, ts),
            )
            return
        code = tx.scalar("SELECT code FROM organizations WHERE id = ?", (oid,))
        if isinstance(event, Org.RoleAssigned):
            tx.execute(
                "INSERT INTO organization_members (organization, person, role, assigned_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (code, event.person, str(event.role), ts),
            )
        elif isinstance(event, Org.RoleRevoked):
            tx.execute(
                "DELETE FROM organization_members WHERE organization = ? AND person = ? AND role = ?",
                (code, event.person, str(event.role)),
            )
        elif isinstance(event, Org.ServiceAuthorised):
            a = event.authorisation
            tx.execute(
                "INSERT INTO service_authorisations (organization, serves, valid_from, valid_to, scope) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (code, a.serves, a.valid_from.isoformat(), a.valid_to.isoformat(), a.scope),
            )
        elif isinstance(event, Org.ServiceAuthorisationWithdrawn):
            tx.execute(
                "UPDATE service_authorisations SET valid_to = ? WHERE organization = ? AND serves = ? AND valid_to > ?",
                (event.effective.isoformat(), code, event.serves, event.effective.isoformat()),
            )
        tx.execute("UPDATE organizations SET version = ? WHERE id = ?", (event.originator_version, oid))

