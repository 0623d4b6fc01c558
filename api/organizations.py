"""HTTP routes of the organizations context (ORG-1, ORG-2)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import msgspec
from litestar import Controller, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, Parameter

from api.contract import Page
from api.deps import Envelope, Reads, answer
from api.params import CursorQuery, OrgPath, PersonPath, plain
from application.common import NotFound, Principal
from application.organizations import OrganizationAnswer, OrganizationService
from application.organizations import answer as org_answer
from domain.limits import OrgCode, PersonName, ShortText, Text
from domain.organizations import Level, OrgKind, Role
from projections.organization_queries import MemberRow, OrganizationQueries, OrganizationRow
from projections.scope import Scope


class RegisterBody(msgspec.Struct, forbid_unknown_fields=True):
    code: OrgCode
    name: ShortText
    kind: OrgKind
    level: Level
    parent: OrgCode | None = None


class MemberBody(msgspec.Struct, forbid_unknown_fields=True):
    person: PersonName
    role: Role


class AuthorisationBody(msgspec.Struct, forbid_unknown_fields=True):
    serves: OrgCode
    valid_from: date
    valid_to: date
    scope: Text


class OrganizationController(Controller):
    path = "/organizations"
    tags = ["organizations"]

    @get("/", sync_to_thread=True)
    def list_organizations(self, principal: NamedDependency[Principal],
                           organization_queries: NamedDependency[OrganizationQueries], reads: NamedDependency[Reads],
                           kind: FromQuery[OrgKind | None] = None,
                           limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
                           cursor: CursorQuery = None) -> Response[Page[OrganizationRow]]:
        position = reads.wait("organizations")
        rows, next_cursor = organization_queries.list(kind=plain(kind), limit=limit, cursor=cursor)
        return Response({"items": rows, "next_cursor": next_cursor, "position": position})

    @post("/", sync_to_thread=True, status_code=201)
    def register(self, principal: NamedDependency[Principal], organizations: NamedDependency[OrganizationService],
                 envelope: NamedDependency[Envelope], data: JSONBody[RegisterBody]) -> Response[OrganizationAnswer]:
        """Registers an organization (the Office only, ORG-1)."""
        result = organizations.register(principal, envelope.command("organization.register", data),
                                        code=data.code, name=data.name, kind=data.kind, level=data.level,
                                        parent=data.parent)
        return answer(result, location=f"/organizations/{data.code}")

    @get("/{code:str}", sync_to_thread=True)
    def get_organization(self, principal: NamedDependency[Principal],
                         organizations: NamedDependency[OrganizationService],
                         code: OrgPath) -> Response[OrganizationAnswer]:
        """The organization; its members are shown to itself, the Office and the auditors only."""
        org = organizations.find(code)
        if org is None:
            raise NotFound(f"No organization {code}.")
        body = org_answer(org)
        if not Scope.of(principal).sees(code):
            body = msgspec.structs.replace(body, members={})
        return Response(body, headers={"ETag": f'"{org.version}"'})

    @get("/{code:str}/members", sync_to_thread=True)
    def members(self, principal: NamedDependency[Principal], organization_queries: NamedDependency[OrganizationQueries],
                reads: NamedDependency[Reads], code: OrgPath) -> Response[Page[MemberRow]]:
        reads.wait("organizations")
        rows = organization_queries.members(code, Scope.of(principal))
        if rows is None:
            raise NotFound(f"No organization {code} visible to the caller.")
        return Response({"items": rows, "next_cursor": None})

    @post("/{code:str}/members", sync_to_thread=True, status_code=200)
    def assign(self, principal: NamedDependency[Principal], organizations: NamedDependency[OrganizationService],
               envelope: NamedDependency[Envelope], code: OrgPath,
               data: JSONBody[MemberBody]) -> Response[OrganizationAnswer]:
        """Assigns a designated role to a person of the organization (ORG-1)."""
        return answer(organizations.assign_role(principal, envelope.command("organization.assign_role", data),
                                                code=code, person=data.person, role=data.role))

    @delete("/{code:str}/members/{person:str}/roles/{role:str}", sync_to_thread=True, status_code=200)
    def revoke(self, principal: NamedDependency[Principal], organizations: NamedDependency[OrganizationService],
               envelope: NamedDependency[Envelope], code: OrgPath, person: PersonPath,
               role: FromPath[Role]) -> Response[OrganizationAnswer]:
        return answer(organizations.revoke_role(principal, envelope.command("organization.revoke_role"),
                                                code=code, person=person, role=role))

    @post("/{code:str}/authorisations", sync_to_thread=True, status_code=200)
    def authorise(self, principal: NamedDependency[Principal], organizations: NamedDependency[OrganizationService],
                  envelope: NamedDependency[Envelope], code: OrgPath,
                  data: JSONBody[AuthorisationBody]) -> Response[OrganizationAnswer]:
        """Records a dated authorisation of a service unit by the organization it serves (ORG-2)."""
        return answer(organizations.authorise_service(
            principal, envelope.command("organization.authorise_service", data), code=code, serves=data.serves,
            valid_from=data.valid_from, valid_to=data.valid_to, scope=data.scope))
