"""HTTP routes of the compliance board (第三十八条): violations and their rectification, and per-organization summaries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from api.contract import Page, Row
from api.deps import answer, command, runtime_of, wait_for_position
from api.params import (
    AsKnownAtQuery,
    AtQuery,
    CommentBody,
    CursorQuery,
    Instant,
    Limit,
    OrgPath,
    OrgQuery,
    ReasonBody,
    plain,
)
from api.state import as_of
from application.common import Forbidden, NotFound, Principal
from application.compliance import ViolationAnswer
from domain.compliance import Evidence, ViolationKind, ViolationStatus
from domain.limits import MAX_ITEMS, LongText, OrgCode, ShortText, Text
from projections.compliance import ComplianceQueries
from projections.systems_queries import SystemQueries

VIEW = "compliance"
SUMMARY_VIEWS = ("compliance", "catalog", "maintenance", "systems")


class RaiseBody(msgspec.Struct, forbid_unknown_fields=True):
    """违规情形 the Office records directly: the case, the organization, the evidence (event ids, log record ids …)."""

    kind: ViolationKind
    subject: OrgCode
    summary: Text
    evidence: Annotated[list[Evidence], msgspec.Meta(max_length=MAX_ITEMS)]
    key: ShortText = ""


class NoticeBody(msgspec.Struct, forbid_unknown_fields=True):
    """整改通知: what is to be rectified, by when."""

    deadline: Instant
    requirements: Text


class ReportBody(msgspec.Struct, forbid_unknown_fields=True):
    report: LongText


def _org(p: Principal) -> str | None:
    return None if p.sees_everything else p.acting_for




def _board(request: Request[Any, Any, Any], at: datetime | None, as_known_at: datetime | None,
           *views: str) -> tuple[int, ComplianceQueries, datetime, dict[str, Any]]:
    """Today's board (caught up to the caller's position) and now, or its replica as in force at `at` as known at
    `as_known_at`, `at`, and the fields naming that cut."""
    rt = runtime_of(request)
    if at is None and as_known_at is None:
        return wait_for_position(request, *views), rt.compliance_queries, rt.now(), {}
    position, replica, cut = as_of(request, at, as_known_at)
    queries = ComplianceQueries(replica, rt.settings.overdue_grace_days,
                                non_compliant_systems=SystemQueries(replica).compliance)
    return position, queries, cut["at"], cut


class ViolationController(Controller):
    path = "/violations"
    tags = ["compliance"]

    @get("/", sync_to_thread=True)
    def list_violations(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
                        kind: FromQuery[ViolationKind | None] = None, subject: OrgQuery = None,
                        status: FromQuery[ViolationStatus | None] = None, open: FromQuery[bool] = False,  # noqa: A002
                        limit: Limit = 50, cursor: CursorQuery = None,
                        at: AtQuery = None, as_known_at: AsKnownAtQuery = None) -> Response[Page[Row]]:
        """Newest first. The Office and auditors see every case; an organization its own, once confirmed.
        With `at` and/or `as_known_at`, the cases as they stood then, as known then."""
        position, queries, _, cut = _board(request, at, as_known_at, VIEW)
        rows, nxt = queries.violations(org=_org(principal), kind=plain(kind), subject=subject, status=plain(status),
                                                     open_only=open, limit=limit, cursor=cursor)
        return Response({"items": rows, "next_cursor": nxt, **cut, "position": position})

    @post("/", sync_to_thread=True, status_code=201)
    def raise_violation(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
                        data: JSONBody[RaiseBody]) -> Response[ViolationAnswer]:
        """The Office raises a case directly, confirmed at once (VIO-1 … VIO-5)."""
        result = runtime_of(request).compliance.raise_violation(
            principal, command(request, "violation.raise", data), kind=data.kind, subject=data.subject,
            evidence=tuple(data.evidence), summary=data.summary, key=data.key)
        return answer(result, location=f"/violations/{result.aggregate_id}")

    @get("/{violation_id:uuid}", sync_to_thread=True)
    def get_violation(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
                      violation_id: FromPath[UUID]) -> Response[Row]:
        rt = runtime_of(request)
        wait_for_position(request, VIEW)
        row = rt.compliance_queries.violation(str(violation_id))
        visible = row is not None and (principal.sees_everything or (
            row["subject"] == principal.acting_for and row["status"] not in ("candidate", "dismissed")))
        if row is None or not visible:
            raise NotFound(f"No violation {violation_id}.")
        return Response(row, headers={"ETag": f'"{row["version"]}"'})

    @post("/{violation_id:uuid}/confirm", sync_to_thread=True, status_code=200)
    def confirm(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
                violation_id: FromPath[UUID], data: JSONBody[CommentBody]) -> Response[ViolationAnswer]:
        """The Office confirms a candidate."""
        return answer(runtime_of(request).compliance.confirm(
            principal, command(request, "violation.confirm", data), violation_id, comment=data.comment))

    @post("/{violation_id:uuid}/dismiss", sync_to_thread=True, status_code=200)
    def dismiss(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
                violation_id: FromPath[UUID], data: JSONBody[ReasonBody]) -> Response[ViolationAnswer]:
        """The Office dismisses a candidate, with a reason."""
        return answer(runtime_of(request).compliance.dismiss(
            principal, command(request, "violation.dismiss", data), violation_id, reason=data.reason))

    @post("/{violation_id:uuid}/notice", sync_to_thread=True, status_code=200)
    def notice(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
               violation_id: FromPath[UUID], data: JSONBody[NoticeBody]) -> Response[ViolationAnswer]:
        """The Office issues a rectification notice with a deadline."""
        return answer(runtime_of(request).compliance.issue_notice(
            principal, command(request, "violation.notice", data), violation_id, deadline=data.deadline,
            requirements=data.requirements))

    @post("/{violation_id:uuid}/report", sync_to_thread=True, status_code=200)
    def report(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
               violation_id: FromPath[UUID], data: JSONBody[ReportBody]) -> Response[ViolationAnswer]:
        """The subject organization reports its rectification (office_admin, system_manager, maintainer,
        approver or catalog_reviewer of that organization)."""
        return answer(runtime_of(request).compliance.report(
            principal, command(request, "violation.report", data), violation_id, report=data.report))

    @post("/{violation_id:uuid}/accept", sync_to_thread=True, status_code=200)
    def accept(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
               violation_id: FromPath[UUID], data: JSONBody[CommentBody]) -> Response[ViolationAnswer]:
        """The Office accepts the reported rectification: the case is closed."""
        return answer(runtime_of(request).compliance.accept(
            principal, command(request, "violation.accept", data), violation_id, comment=data.comment))

    @post("/{violation_id:uuid}/escalate", sync_to_thread=True, status_code=200)
    def escalate(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
                 violation_id: FromPath[UUID], data: JSONBody[ReasonBody]) -> Response[ViolationAnswer]:
        """The Office escalates: a report it will not accept, or a notice unanswered past its deadline."""
        return answer(runtime_of(request).compliance.escalate(
            principal, command(request, "violation.escalate", data), violation_id, reason=data.reason))


class ComplianceController(Controller):
    path = "/compliance"
    tags = ["compliance"]

    @get("/summary", sync_to_thread=True)
    def summary(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
                org: OrgQuery = None, at: AtQuery = None,
                as_known_at: AsKnownAtQuery = None) -> Response[Page[Row]]:
        """Per organization: open violations, candidates, overdue entries and objections, non-compliant systems.
        An organization sees only its own line. With `at` and/or `as_known_at`, the board as it stood then, as
        known then (overdue judged at `at`)."""
        position, queries, now, cut = _board(request, at, as_known_at, *SUMMARY_VIEWS)
        if not principal.sees_everything:
            if org not in (None, principal.acting_for):
                raise Forbidden(f"{principal.acting_for} sees its own compliance summary, not {org}'s.")
            org = principal.acting_for
        items = queries.summary(now=now, org=org)
        if not principal.sees_everything:  # candidates are the Office's work until confirmed
            items = [{k: v for k, v in i.items() if k != "candidates"} for i in items]
        return Response({"items": items, **cut, "position": position})

    @get("/organizations/{code:str}", sync_to_thread=True)
    def organization(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
                     code: OrgPath, limit: Limit = 50) -> Response[Row]:
        """One organization's line of the board, with its open violations."""
        rt = runtime_of(request)
        if not (principal.sees_everything or principal.acting_for == code):
            raise NotFound(f"No compliance board for {code}.")
        position = wait_for_position(request, *SUMMARY_VIEWS)
        [line] = rt.compliance_queries.summary(now=rt.now(), org=code)
        if not principal.sees_everything:
            line.pop("candidates")
        rows, nxt = rt.compliance_queries.violations(org=None if principal.sees_everything else code, subject=code,
                                                     open_only=True, limit=limit)
        return Response({**line, "violations": rows, "next_cursor": nxt, "position": position})
