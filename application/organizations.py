"""Use cases of the organizations context: register, assign and revoke roles, authorise service units."""

from __future__ import annotations

from datetime import date

import msgspec

from application.common import Command, CommandResult, ContextMaker, Principal, Service
from domain.organizations import Level, Organization, OrgKind, Role, organization_id


class OrganizationAnswer(msgspec.Struct, frozen=True):
    id: str
    code: str
    name: str
    kind: str
    level: str
    parent: str | None
    version: int
    members: dict[str, list[str]]


def answer(org: Organization) -> OrganizationAnswer:
    return OrganizationAnswer(
        id=str(org.id), code=org.code, name=org.name, kind=str(org.kind), level=str(org.level),
        parent=org.parent, version=org.version,
        members={p: sorted(str(r) for r in roles) for p, roles in sorted(org.members.items()) if roles},
    )


OFFICE_ONLY = (Role.OFFICE_ADMIN,)


class OrganizationService(Service):
    def register(
        self, p: Principal, cmd: Command, *, code: str, name: str, kind: OrgKind, level: Level, parent: str | None
    ) -> CommandResult:
        def decide(context: ContextMaker) -> tuple[list[Organization], OrganizationAnswer]:
            ctx = context(self.actor(p, OFFICE_ONLY))
            if parent is not None:
                self.get(Organization, organization_id(parent))
            org = Organization.register(ctx, code=code, name=name, kind=kind, level=level, parent=parent)
            return [org], answer(org)

        return self.execute(p, cmd, decide, status=201)

    def assign_role(self, p: Principal, cmd: Command, *, code: str, person: str, role: Role) -> CommandResult:
        def decide(context: ContextMaker) -> tuple[list[Organization], OrganizationAnswer]:
            ctx = context(self.actor(p, OFFICE_ONLY))
            org = self.get(Organization, organization_id(code), expected_version=cmd.expected_version)
            org.assign_role(ctx, person=person, role=role)
            return [org], answer(org)

        return self.execute(p, cmd, decide)

    def revoke_role(self, p: Principal, cmd: Command, *, code: str, person: str, role: Role) -> CommandResult:
        def decide(context: ContextMaker) -> tuple[list[Organization], OrganizationAnswer]:
            ctx = context(self.actor(p, OFFICE_ONLY))
            org = self.get(Organization, organization_id(code), expected_version=cmd.expected_version)
            org.revoke_role(ctx, person=person, role=role)
            return [org], answer(org)

        return self.execute(p, cmd, decide)

    def authorise_service(
        self, p: Principal, cmd: Command, *, code: str, serves: str, valid_from: date, valid_to: date, scope: str
    ) -> CommandResult:
        def decide(context: ContextMaker) -> tuple[list[Organization], OrganizationAnswer]:
            ctx = context(self.actor(p, (Role.OFFICE_ADMIN, Role.SYSTEM_MANAGER)))
            self.get(Organization, organization_id(serves))
            org = self.get(Organization, organization_id(code), expected_version=cmd.expected_version)
            org.authorise_service(ctx, serves=serves, valid_from=valid_from, valid_to=valid_to, scope=scope)
            return [org], answer(org)

        return self.execute(p, cmd, decide)

    def find(self, code: str) -> Organization | None:
        try:
            return self.get(Organization, organization_id(code))
        except Exception:
            return None




