"""Organizations, their members and designated roles, and service-unit authorisations (ORG-1, ORG-2)."""

from __future__ import annotations

import enum
from datetime import date
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import msgspec

from domain.base import Context, LedgerAggregate, check_calendar
from domain.limits import OrgCode, PersonName, ShortText, check
from domain.rules import InvalidTransition, RuleViolation

OFFICE_CODE = "office"


class OrgKind(enum.StrEnum):
    OFFICE = "office"
    DIVISION = "division"
    AFFILIATED_UNIT = "affiliated_unit"
    CITY_BUREAU = "city_bureau"
    COUNTY_BUREAU = "county_bureau"
    PROVINCIAL_DEPARTMENT = "provincial_department"
    MUNICIPAL_GOVERNMENT = "municipal_government"
    SERVICE_UNIT = "service_unit"


class Level(enum.StrEnum):
    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"


class Role(enum.StrEnum):
    OFFICE_ADMIN = "office_admin"
    CATALOG_COMPILER = "catalog_compiler"
    CATALOG_REVIEWER = "catalog_reviewer"
    SYSTEM_MANAGER = "system_manager"
    REQUESTER = "requester"
    MAINTAINER = "maintainer"
    APPROVER = "approver"
    VERIFIER = "verifier"
    OPERATOR = "operator"
    PLATFORM = "platform"
    AUDITOR = "auditor"
    INTEGRATOR = "integrator"


class Authorisation(msgspec.Struct, frozen=True):
    """A dated authorisation of a service unit by the organization it serves (第八条)."""

    serves: str
    valid_from: date
    valid_to: date
    scope: str


def organization_id(code: str) -> UUID:
    """Organization ids derive from their unique code, so a code is registered at most once."""
    return uuid5(NAMESPACE_URL, f"civic-ledger:organization:{code}")


# -- the Office -----------------------------------------------------------------------------------
# "The Office" as an actor is one thing everywhere (SPEC, roles: `office_admin` (the Office)): a
# person of the Office's organization acting in its role office_admin. Another role held in the
# Office (its catalog reviewer, its auditor, the exchange platform's account) is not the Office.


def is_office_role(organization: str, role: str) -> bool:
    """True when acting for `organization` in `role` is acting as the Office."""
    return organization == OFFICE_CODE and role == Role.OFFICE_ADMIN


def is_office(ctx: Context) -> bool:
    """True when the command is made by the Office."""
    return is_office_role(ctx.actor.organization, ctx.actor.role)


def require_office(ctx: Context, rule: str, what: str) -> None:
    """Refuses, citing `rule`, a command that only the Office makes."""
    if not is_office(ctx):
        raise RuleViolation(rule, f"Only the Office (office_admin) {what}.")


class Organization(LedgerAggregate):
    """组织机构: an organization of the regime, its level and parent, members and roles."""

    TOPIC = "civic-ledger:Organization"

    class Created(LedgerAggregate.Created):
        TOPIC = "civic-ledger:Organization.Created"
    KIND = "organization"

    class Registered(Created):
        TOPIC = "civic-ledger:Organization.Registered"
        code: str
        name: str
        kind: OrgKind
        level: Level
        parent: str | None

    class RoleAssigned(LedgerAggregate.Event):
        TOPIC = "civic-ledger:Organization.RoleAssigned"
        person: str
        role: Role

        def apply(self, org: Organization) -> None:
            org.members.setdefault(self.person, set()).add(self.role)

    class RoleRevoked(LedgerAggregate.Event):
        TOPIC = "civic-ledger:Organization.RoleRevoked"
        person: str
        role: Role

        def apply(self, org: Organization) -> None:
            org.members.get(self.person, set()).discard(self.role)

    class ServiceAuthorised(LedgerAggregate.Event):
        TOPIC = "civic-ledger:Organization.ServiceAuthorised"
        authorisation: Authorisation

        def apply(self, org: Organization) -> None:
            org.authorisations.append(self.authorisation)

    class ServiceAuthorisationWithdrawn(LedgerAggregate.Event):
        TOPIC = "civic-ledger:Organization.ServiceAuthorisationWithdrawn"
        serves: str
        effective: date

        def apply(self, org: Organization) -> None:
            org.authorisations = [
                a if a.serves != self.serves or a.valid_to < self.effective
                else msgspec.structs.replace(a, valid_to=self.effective)
                for a in org.authorisations
            ]

    def __init__(self, code: str, name: str, kind: OrgKind, level: Level, parent: str | None, **_: Any) -> None:
        self.code = code
        self.name = name
        self.kind = OrgKind(kind)
        self.level = Level(level)
        self.parent = parent
        self.members: dict[str, set[Role]] = {}
        self.authorisations: list[Authorisation] = []

    @classmethod
    def register(
        cls, ctx: Context, *, code: str, name: str, kind: OrgKind, level: Level, parent: str | None
    ) -> Organization:
        if kind != OrgKind.OFFICE:
            require_office(ctx, "ORG-1", "registers organizations and assigns roles")
        elif code != OFFICE_CODE:
            raise InvalidTransition(f"The Office is registered under the code {OFFICE_CODE!r}.")
        if not code.strip() or not name.strip():
            raise InvalidTransition("An organization needs a code and a name.")
        check(code, OrgCode, "code")
        check(name, ShortText, "name")
        if parent is not None:
            check(parent, OrgCode, "parent")
        return cls._start(
            cls.Registered, ctx, id=organization_id(code),
            code=code, name=name, kind=kind, level=level, parent=parent,
        )

    def assign_role(self, ctx: Context, *, person: str, role: Role) -> None:
        require_office(ctx, "ORG-1", "registers organizations and assigns roles")
        if not person.strip():
            raise InvalidTransition("A member needs a name.")
        check(person, PersonName, "person")
        if role in self.members.get(person, set()):
            return
        if role == Role.OFFICE_ADMIN and self.code != OFFICE_CODE:
            raise RuleViolation("ORG-1", "The office_admin role belongs to members of the Office only.")
        self._record(self.RoleAssigned, ctx, person=person, role=role)

    def revoke_role(self, ctx: Context, *, person: str, role: Role) -> None:
        require_office(ctx, "ORG-1", "registers organizations and assigns roles")
        if role not in self.members.get(person, set()):
            raise InvalidTransition(f"{person} does not hold the role {role} in {self.code}.")
        self._record(self.RoleRevoked, ctx, person=person, role=role)

    def authorise_service(self, ctx: Context, *, serves: str, valid_from: date, valid_to: date, scope: str) -> None:
        """Records the dated authorisation under which this service unit acts (ORG-2)."""
        if self.kind != OrgKind.SERVICE_UNIT:
            raise RuleViolation("ORG-2", "Only a service unit receives an authorisation to act for another organization.")
        if ctx.actor.organization != serves and not is_office(ctx):
            raise RuleViolation("ORG-2", "An authorisation is given by the organization served (or the Office).")
        check_calendar(valid_from=valid_from, valid_to=valid_to)
        if valid_to < valid_from:
            raise InvalidTransition("An authorisation ends after it starts.")
        self._record(
            self.ServiceAuthorised, ctx,
            authorisation=Authorisation(serves=serves, valid_from=valid_from, valid_to=valid_to, scope=scope),
        )

    def withdraw_service(self, ctx: Context, *, serves: str, effective: date) -> None:
        if ctx.actor.organization != serves and not is_office(ctx):
            raise RuleViolation("ORG-2", "An authorisation is withdrawn by the organization served (or the Office).")
        check_calendar(effective=effective)
        if not any(a.serves == serves for a in self.authorisations):
            raise InvalidTransition(f"{self.code} holds no authorisation from {serves}.")
        self._record(self.ServiceAuthorisationWithdrawn, ctx, serves=serves, effective=effective)

    def holds(self, person: str, role: Role) -> bool:
        return role in self.members.get(person, set())

    def may_act_for(self, served: str, on: date) -> bool:
        """True when this organization is the served one or holds an active authorisation from it."""
        if served == self.code:
            return True
        return any(a.serves == served and a.valid_from <= on <= a.valid_to for a in self.authorisations)

    def check_acts_for(self, served: str, on: date) -> None:
        if not self.may_act_for(served, on):
            raise RuleViolation(
                "ORG-2", f"{self.code} holds no authorisation from {served} active on {on.isoformat()}.",
                organization=self.code, serves=served,
            )
