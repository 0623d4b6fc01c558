"""Organizations, their members' roles and service authorisations, as plain tables."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from domain.organizations import Organization
from infrastructure.sql import Tx
from projections.base import View, on

Org = Organization


class OrganizationsView(View):
    name = "organizations"
    version = 1
    tables = ("organizations", "organization_members", "service_authorisations")

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

    @on(Org.Registered)
    def _registered(self, tx: Tx, event: Org.Registered, position: int) -> None:
        tx.execute(
            "INSERT INTO organizations (id, code, name, kind, level, parent, version, registered_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (str(event.originator_id), event.code, event.name, str(event.kind), str(event.level), event.parent,
             event.originator_version, _ts(event)),
        )

    @on(Org.RoleAssigned)
    def _role_assigned(self, tx: Tx, event: Org.RoleAssigned, position: int) -> None:
        tx.execute(
            "INSERT INTO organization_members (organization, person, role, assigned_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (_code(tx, event), event.person, str(event.role), _ts(event)),
        )
        _bump(tx, event)

    @on(Org.RoleRevoked)
    def _role_revoked(self, tx: Tx, event: Org.RoleRevoked, position: int) -> None:
        tx.execute(
            "DELETE FROM organization_members WHERE organization = ? AND person = ? AND role = ?",
            (_code(tx, event), event.person, str(event.role)),
        )
        _bump(tx, event)

    @on(Org.ServiceAuthorised)
    def _service_authorised(self, tx: Tx, event: Org.ServiceAuthorised, position: int) -> None:
        a = event.authorisation
        tx.execute(
            "INSERT INTO service_authorisations (organization, serves, valid_from, valid_to, scope) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (_code(tx, event), a.serves, a.valid_from.isoformat(), a.valid_to.isoformat(), a.scope),
        )
        _bump(tx, event)

    @on(Org.ServiceAuthorisationWithdrawn)
    def _service_authorisation_withdrawn(self, tx: Tx, event: Org.ServiceAuthorisationWithdrawn,
                                         position: int) -> None:
        tx.execute(
            "UPDATE service_authorisations SET valid_to = ? WHERE organization = ? AND serves = ? AND valid_to > ?",
            (event.effective.isoformat(), _code(tx, event), event.serves, event.effective.isoformat()),
        )
        _bump(tx, event)


def _ts(event: Any) -> str:
    return str(event.timestamp.astimezone(UTC).isoformat())


def _code(tx: Tx, event: Any) -> Any:
    return tx.scalar("SELECT code FROM organizations WHERE id = ?", (str(event.originator_id),))


def _bump(tx: Tx, event: Any) -> None:
    tx.execute("UPDATE organizations SET version = ? WHERE id = ?", (event.originator_version, str(event.originator_id)))
