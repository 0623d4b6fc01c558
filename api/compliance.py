"""HTTP routes of the compliance board (第三十八条): violations and their rectification, and per-organization summaries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery

from api.contract import Page
from api.deps import (
    Caller,
    ReadsDep,
)
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
from api.routes import Decisions, Rows, fields_of, page
from api.state import Past
from application.common import Forbidden, NotFound
from application.compliance import ComplianceService, ViolationAnswer
from domain.compliance import Evidence, ViolationKind, ViolationStatus
from domain.limits import MAX_ITEMS, LongText, OrgCode, ShortText, Text
from infrastructure.config import Settings
from infrastructure.sql import Db
from projections.compliance import ComplianceQueries, SummaryLine, ViolationRow
from projections.scope import Scope
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


class OrganizationBoard(SummaryLine, kw_only=True):
    """One organization's line of the board with its open violations (a page of them; the next with
    `GET /violations?subject=…&open=true&cursor=<next_cursor>`)."""

    violations: list[ViolationRow]
    next_cursor: str | None
    position: int


Service = NamedDependency[ComplianceService]
Queries = NamedDependency[ComplianceQueries]
ViolationId = FromPath[UUID]


def _board_on(settings: Settings) -> Callable[[Db], ComplianceQueries]:
    """The board's queries over a replica of the read models (the past), with the systems' SYS-5 beside them."""
    return lambda db: ComplianceQueries(db, settings.overdue_grace_days,
                                        non_compliant_systems=SystemQueries(db).compliance)


decide = Decisions("compliance", ComplianceService, ViolationAnswer, violation_id=ViolationId)


violations = Rows("compliance_queries", ComplianceQueries, VIEW, key=str, violation_id=ViolationId)


class ViolationController(Controller):
    path = "/violations"
    tags = ["compliance"]

    @get("/", sync_to_thread=True)
    def list_violations(self, principal: Caller, compliance_queries: Queries, reads: ReadsDep,
                        past: NamedDependency[Past], settings: NamedDependency[Settings],
                        kind: FromQuery[ViolationKind | None] = None, subject: OrgQuery = None,
                        status: FromQuery[ViolationStatus | None] = None, open: FromQuery[bool] = False,  # noqa: A002
                        limit: Limit = 50, cursor: CursorQuery = None,
                        at: AtQuery = None, as_known_at: AsKnownAtQuery = None) -> Response[Page[ViolationRow]]:
        """Newest first. The Office and auditors see every case; an organization its own, once confirmed.
        With `at` and/or `as_known_at`, the cases as they stood then, as known then."""
        queries, position, cut = past.or_live(at, as_known_at, reads, compliance_queries, _board_on(settings), VIEW)
        rows, nxt = queries.violations(scope=Scope.of(principal), kind=plain(kind), subject=subject,
                                       status=plain(status), open_only=open, limit=limit, cursor=cursor)
        return page(rows, nxt, position, cut)

    raise_violation = decide("/", ComplianceService.raise_violation, "violation.raise", RaiseBody, status_code=201,
                             args=lambda b: {**fields_of(b), "evidence": tuple(b.evidence)},
                             location="/violations/{aggregate_id}",
                             doc="The Office raises a case directly, confirmed at once (VIO-1 … VIO-5).")

    get_violation = violations("/{violation_id:uuid}", ComplianceQueries.violation, ViolationRow,
                               "No violation {violation_id}.")

    confirm = decide("/{violation_id:uuid}/confirm", ComplianceService.confirm, "violation.confirm", CommentBody,
                     doc="The Office confirms a candidate.")
    dismiss = decide("/{violation_id:uuid}/dismiss", ComplianceService.dismiss, "violation.dismiss", ReasonBody,
                     doc="The Office dismisses a candidate, with a reason.")
    notice = decide("/{violation_id:uuid}/notice", ComplianceService.issue_notice, "violation.notice", NoticeBody,
                    doc="The Office issues a rectification notice with a deadline.")
    report = decide("/{violation_id:uuid}/report", ComplianceService.report, "violation.report", ReportBody,
                    doc="The subject organization reports its rectification (office_admin, system_manager, "
                        "maintainer, approver or catalog_reviewer of that organization).")
    accept = decide("/{violation_id:uuid}/accept", ComplianceService.accept, "violation.accept", CommentBody,
                    doc="The Office accepts the reported rectification: the case is closed.")
    escalate = decide("/{violation_id:uuid}/escalate", ComplianceService.escalate, "violation.escalate", ReasonBody,
                      doc="The Office escalates: a report it will not accept, or a notice unanswered past its "
                          "deadline.")


class ComplianceController(Controller):
    path = "/compliance"
    tags = ["compliance"]

    @get("/summary", sync_to_thread=True)
    def summary(self, principal: Caller, compliance_queries: Queries, reads: ReadsDep, past: NamedDependency[Past],
                settings: NamedDependency[Settings], now: NamedDependency[datetime],
                org: OrgQuery = None, at: AtQuery = None,
                as_known_at: AsKnownAtQuery = None) -> Response[Page[SummaryLine]]:
        """Per organization: open violations, candidates, overdue entries and objections, non-compliant systems.
        An organization sees only its own line. With `at` and/or `as_known_at`, the board as it stood then, as
        known then (overdue judged at `at`)."""
        scope = Scope.of(principal)
        queries, position, cut = past.or_live(at, as_known_at, reads, compliance_queries, _board_on(settings),
                                              *SUMMARY_VIEWS)
        if not scope.sees_everything:
            if org not in (None, scope.org):
                raise Forbidden(f"{scope.org} sees its own compliance summary, not {org}'s.")
            org = scope.org
        items = queries.summary(scope=scope, now=cut.get("at", now), org=org)
        return Response({"items": items, **cut, "position": position})

    @get("/organizations/{code:str}", sync_to_thread=True)
    def organization(self, principal: Caller, compliance_queries: Queries, reads: ReadsDep,
                     now: NamedDependency[datetime], code: OrgPath, limit: Limit = 50) -> Response[OrganizationBoard]:
        """One organization's line of the board, with its open violations."""
        scope = Scope.of(principal)
        if not scope.sees(code):
            raise NotFound(f"No compliance board for {code}.")
        position = reads.wait(*SUMMARY_VIEWS)
        [line] = compliance_queries.summary(scope=scope, now=now, org=code)
        rows, nxt = compliance_queries.violations(scope=scope, subject=code, open_only=True, limit=limit)
        return Response(OrganizationBoard(**msgspec.structs.asdict(line), violations=rows, next_cursor=nxt,
                                          position=position))
