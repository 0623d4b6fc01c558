"""HTTP routes of the organizations context (ORG-1, ORG-2)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, Parameter

from api.contract import Page, Row
from api.deps import answer, command, runtime_of, wait_for_position
from api.params import CursorQuery, OrgPath, PersonPath, plain
from application.common import NotFound, Principal
from application.organizations import OrganizationAnswer
from application.organizations import answer as org_answer
from domain.limits import OrgCode, PersonName, ShortText, Text
from domain.organizations import Level, OrgKind, Role


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
    def list_organizations(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], kind: FromQuery[OrgKind | None] = None,
                           limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
                           cursor: CursorQuery = None) -> Response[Page[Row]]:
        rt = runtime_of(request)
        position = wait_for_position(request, "organizations")
        rows, next_cursor = rt.organization_queries.list(kind=plain(kind), limit=limit, cursor=cursor)
        return Response({"items": rows, "next_cursor": next_cursor, "position": position})

    @post("/", sync_to_thread=True, status_code=201)
    def register(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], data: JSONBody[RegisterBody]) -> Response[OrganizationAnswer]:
        """Registers an organization (the Office only, ORG-1)."""
        rt = runtime_of(request)
        result = rt.organizations.register(principal, command(request, "organization.register", data),
                                           code=data.code, name=data.name, kind=data.kind, level=data.level,
                                           parent=data.parent)
        return answer(result, location=f"/organizations/{data.code}")

    @get("/{code:str}", sync_to_thread=True)
    def get_organization(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], code: OrgPath) -> Response[Row]:
        rt = runtime_of(request)
        org = rt.organizations.find(code)
        if org is None:
            raise NotFound(f"No organization {code}.")
        body = org_answer(org)
        if not (principal.sees_everything or principal.acting_for == code):
            body = msgspec.structs.replace(body, members={})
        return Response(body, headers={"ETag": f'"{org.version}"'})

    @get("/{code:str}/members", sync_to_thread=True)
    def members(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], code: OrgPath) -> Response[Page[Row]]:
        rt = runtime_of(request)
        wait_for_position(request, "organizations")
        if not (principal.sees_everything or principal.acting_for == code):
            raise NotFound(f"No organization {code} visible to the caller.")
        return Response({"items": rt.organization_queries.members(code), "next_cursor": None})

    @post("/{code:str}/members", sync_to_thread=True, status_code=200)
    def assign(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], code: OrgPath,
               data: JSONBody[MemberBody]) -> Response[OrganizationAnswer]:
        """Assigns a designated role to a person of the organization (ORG-1)."""
        rt = runtime_of(request)
        return answer(rt.organizations.assign_role(principal, command(request, "organization.assign_role", data),
                                                   code=code, person=data.person, role=data.role))

    @delete("/{code:str}/members/{person:str}/roles/{role:str}", sync_to_thread=True, status_code=200)
    def revoke(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], code: OrgPath, person: PersonPath,
               role: FromPath[Role]) -> Response[OrganizationAnswer]:
        rt = runtime_of(request)
        return answer(rt.organizations.revoke_role(principal, command(request, "organization.revoke_role"),
                                                   code=code, person=person, role=role))

    @post("/{code:str}/authorisations", sync_to_thread=True, status_code=200)
    def authorise(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], code: OrgPath,
                  data: JSONBody[AuthorisationBody]) -> Response[OrganizationAnswer]:
        """Records a dated authorisation of a service unit by the organization it serves (ORG-2)."""
        rt = runtime_of(request)
        return answer(rt.organizations.authorise_service(
            principal, command(request, "organization.authorise_service", data), code=code, serves=data.serves,
            valid_from=data.valid_from, valid_to=data.valid_to, scope=data.scope))
