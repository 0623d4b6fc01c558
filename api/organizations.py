"""HTTP routes of the organizations context (ORG-1, ORG-2)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import msgspec
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, Parameter

from api.contract import Page
from api.deps import Reads
from api.params import CursorQuery, OrgPath, PersonPath, plain
from api.routes import Decisions, page
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


decide = Decisions("organizations", OrganizationService, OrganizationAnswer, code=OrgPath, person=PersonPath,
                   role=FromPath[Role])


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
        return page(rows, next_cursor, position)

    register = decide("/", OrganizationService.register, "organization.register", RegisterBody, status_code=201,
                      location="/organizations/{code}", doc="Registers an organization (the Office only, ORG-1).")

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

    assign = decide("/{code:str}/members", OrganizationService.assign_role, "organization.assign_role", MemberBody,
                    by_name=True, doc="Assigns a designated role to a person of the organization (ORG-1).")
    revoke = decide("/{code:str}/members/{person:str}/roles/{role:str}", OrganizationService.revoke_role,
                    "organization.revoke_role", by_name=True, http="DELETE")
    authorise = decide("/{code:str}/authorisations", OrganizationService.authorise_service,
                       "organization.authorise_service", AuthorisationBody, by_name=True,
                       doc="Records a dated authorisation of a service unit by the organization it serves (ORG-2).")
