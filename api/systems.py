"""HTTP routes of information systems: proposal, justification, review, connections, tests, go-live, changes, SYS-5."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, Parameter, QueryParameter

from api.contract import Page
from api.deps import (
    Caller,
    PastDep,
    ReadsDep,
)
from api.params import (
    AsKnownAtQuery,
    AtQuery,
    CommentBody,
    CursorQuery,
    Limit,
    OrgQuery,
    ReasonBody,
    plain,
)
from api.routes import Decisions, Rows, fields_of, page
from application.common import Forbidden
from application.systems import SystemAnswer, SystemsService
from domain.limits import MAX_ITEMS, Code, OrgCode, ShortText, SmallNumber, Text
from domain.organizations import Level
from domain.systems_values import (
    ChangeKind,
    ConstructionPlan,
    Justification,
    Platform,
    ProjectEntry,
    SystemDecision,
    SystemState,
)
from projections.scope import Scope
from projections.systems_queries import (
    ComplianceRow,
    QueueTask,
    SystemDetail,
    SystemQueries,
    SystemRow,
)

ProjectCatalog = Annotated[list[ProjectEntry], msgspec.Meta(max_length=MAX_ITEMS)]
Filing = Annotated[int, Parameter(ge=0, le=1_000_000, description="The filing's number")]


class ProposeBody(msgspec.Struct, forbid_unknown_fields=True):
    """建设方案 and 项目数据资源目录: the proposal a system manager sends to the Office."""

    name: ShortText
    plan: ConstructionPlan
    catalog: ProjectCatalog = []


class ExistingBody(msgspec.Struct, forbid_unknown_fields=True):
    """A system already in operation (存量系统), registered by the Office."""

    owner: OrgCode
    name: ShortText
    plan: ConstructionPlan
    in_operation_since: date
    catalog: ProjectCatalog = []


class CatalogBody(msgspec.Struct, forbid_unknown_fields=True):
    catalog: ProjectCatalog


class AcceptBody(msgspec.Struct, forbid_unknown_fields=True):
    item_code: Code


class ReviewBody(msgspec.Struct, forbid_unknown_fields=True):
    decision: SystemDecision
    comment: Text = ""


class ConnectionBody(msgspec.Struct, forbid_unknown_fields=True):
    platform: Platform
    reference: ShortText


class TestBody(msgspec.Struct, forbid_unknown_fields=True):
    passed: bool
    findings: Annotated[list[Text], msgspec.Meta(max_length=100)] = []
    tested_on: date | None = None


class DateBody(msgspec.Struct, forbid_unknown_fields=True):
    on: date | None = None


class DateCorrectionBody(msgspec.Struct, forbid_unknown_fields=True):
    """The date a go-live or shutdown really happened, earlier than recorded (TIME-1 … TIME-3)."""

    on: date
    reason: Text


class ChangeBody(msgspec.Struct, forbid_unknown_fields=True):
    """备案: a content change, upgrade, retrofit or shutdown, and whether it affects sharing (第十五条)."""

    kind: ChangeKind
    description: Text
    affects_sharing: bool


class UnconfirmedBody(msgspec.Struct, forbid_unknown_fields=True):
    """A change the Office found implemented without filing or confirmation: a filed one, or a new one."""

    evidence: Text
    filing: SmallNumber | None = None
    kind: ChangeKind = ChangeKind.CONTENT_CHANGE
    description: Text = ""


class RectificationBody(msgspec.Struct, forbid_unknown_fields=True):
    deadline: date
    comment: Text = ""


Service = NamedDependency[SystemsService]
Queries = NamedDependency[SystemQueries]
SystemId = FromPath[UUID]


decide = Decisions("systems", SystemsService, SystemAnswer, system_id=SystemId, filing=Filing)


rows = Rows("system_queries", SystemQueries, "systems", system_id=SystemId)


class SystemController(Controller):
    path = "/systems"
    tags = ["systems"]

    # -- reads -------------------------------------------------------------------------------------

    @get("/", sync_to_thread=True)
    def list_systems(self, principal: Caller, system_queries: Queries, reads: ReadsDep, past: PastDep,
                     system_state: Annotated[SystemState | None, QueryParameter(name="state")] = None,
                     owner: OrgQuery = None,
                     level: FromQuery[Level | None] = None, limit: Limit = 50,
                     cursor: CursorQuery = None, at: AtQuery = None,
                     as_known_at: AsKnownAtQuery = None) -> Response[Page[SystemRow]]:
        """Systems with state, owner, level, connections, last test and pending filings (others than the Office
        see their organization's); with `at` and/or `as_known_at`, as in force then, as known then."""
        queries, position, cut = past.or_live(at, as_known_at, reads, system_queries, SystemQueries, "systems")
        rows, nxt = queries.systems(scope=Scope.of(principal), state=plain(system_state), owner=owner,
                                    level=plain(level), limit=limit, cursor=cursor)
        return page(rows, nxt, position, cut)

    @get("/compliance", sync_to_thread=True)
    def compliance(self, principal: Caller, system_queries: Queries, reads: ReadsDep, past: PastDep,
                   limit: Limit = 50, cursor: CursorQuery = None, at: AtQuery = None,
                   as_known_at: AsKnownAtQuery = None) -> Response[Page[ComplianceRow]]:
        """SYS-5 (第三十七条): proposed and live systems that fall short, each finding with its rule and article
        (`at`, `as_known_at`: as in force then, as known then)."""
        queries, position, cut = past.or_live(at, as_known_at, reads, system_queries, SystemQueries, "systems")
        rows, nxt = queries.compliance(scope=Scope.of(principal), limit=limit, cursor=cursor)
        return page(rows, nxt, position, cut)

    @get("/queue", sync_to_thread=True)
    def queue(self, principal: Caller, system_queries: Queries, reads: ReadsDep, limit: Limit = 50,
              cursor: CursorQuery = None) -> Response[Page[QueueTask]]:
        """The Office's queue: justifications to review, duplicates to accept, changes to confirm, tests to run."""
        if not principal.sees_everything:
            raise Forbidden("The review queue is the Office's (and auditors').")
        position = reads.wait("systems")
        rows, nxt = system_queries.office_queue(limit=limit, cursor=cursor)
        return page(rows, nxt, position)

    get_system = rows("/{system_id:uuid}", SystemQueries.system, SystemDetail, "No system {system_id}.")

    # -- proposal, justification, review -----------------------------------------------------------

    propose = decide("/", SystemsService.propose, "system.propose", ProposeBody, status_code=201,
                     args=lambda b: {**fields_of(b), "catalog": tuple(b.catalog)}, location="/systems/{aggregate_id}",
                     doc="A system manager proposes a system of its organization with its plan and project data "
                         "catalog.")
    register_existing = decide(
        "/existing", SystemsService.register_existing, "system.register_existing", ExistingBody, status_code=201,
        args=lambda b: {**fields_of(b), "catalog": tuple(b.catalog)}, location="/systems/{aggregate_id}",
        doc="The Office records a system already in operation; SYS-5 then judges it (第十三条 retrofits).")
    revise_catalog = decide("/{system_id:uuid}/catalog", SystemsService.revise_catalog, "system.revise_catalog",
                            CatalogBody, args=lambda b: {"catalog": tuple(b.catalog)})
    justify = decide("/{system_id:uuid}/justification", SystemsService.justify, "system.justify", Justification,
                     args=lambda b: {"justification": b},
                     doc="The seven parts of 第十一条 (COL-1); items held elsewhere need `duplicate_reasons` (CAT-5, "
                         "第十四条).")
    accept_duplicate = decide("/{system_id:uuid}/justification/accept", SystemsService.accept_duplicate,
                              "system.accept_duplicate", AcceptBody,
                              doc="The Office accepts collecting one datum again (CAT-5).")
    review = decide("/{system_id:uuid}/review", SystemsService.review, "system.review", ReviewBody,
                    doc="The Office approves (SYS-1, COL-1, CAT-5) or rejects with reasons.")

    # -- connections, compliance test, go-live --------------------------------------------------------

    connect = decide("/{system_id:uuid}/connections", SystemsService.connect, "system.connect", ConnectionBody)
    record_test = decide("/{system_id:uuid}/compliance-tests", SystemsService.record_test, "system.compliance_test",
                         TestBody, args=lambda b: {**fields_of(b), "findings": tuple(b.findings)})
    go_live = decide("/{system_id:uuid}/go-live", SystemsService.go_live, "system.go_live", DateBody, optional=True,
                     doc="Refused without both connections (SYS-2, SYS-4) and a passed compliance test (SYS-4, "
                         "第三十六条).")
    correct_go_live = decide(
        "/{system_id:uuid}/go-live/correction", SystemsService.correct_go_live, "system.correct_go_live",
        DateCorrectionBody,
        doc="The Office dates the go-live when it really happened, never before the approval (TIME-1 … TIME-3).")
    correct_shutdown = decide(
        "/{system_id:uuid}/shutdown/correction", SystemsService.correct_shutdown, "system.correct_shutdown",
        DateCorrectionBody,
        doc="The Office dates the shutdown when it really happened, never before the go-live (TIME-1 … TIME-3).")

    # -- change filings ---------------------------------------------------------------------------------

    file_change = decide("/{system_id:uuid}/changes", SystemsService.file_change, "system.file_change", ChangeBody)
    record_unconfirmed = decide(
        "/{system_id:uuid}/changes/unconfirmed", SystemsService.record_unconfirmed_change,
        "system.unconfirmed_change", UnconfirmedBody,
        doc="The Office records a change found implemented without its confirmation (SYS-3; listed by SYS-5).")
    confirm_change = decide("/{system_id:uuid}/changes/{filing:int}/confirm", SystemsService.confirm_change,
                            "system.confirm_change", CommentBody, optional=True)
    decline_change = decide("/{system_id:uuid}/changes/{filing:int}/decline", SystemsService.decline_change,
                            "system.decline_change", ReasonBody)
    implement_change = decide(
        "/{system_id:uuid}/changes/{filing:int}/implement", SystemsService.implement_change,
        "system.implement_change", DateBody, optional=True,
        doc="Refused for a provincial change that affects sharing until the Office confirms it (SYS-3, 第十五条); "
            "a shutdown decommissions the system and lists the grants on its flagged entries.")

    # -- SYS-5 -----------------------------------------------------------------------------------------------

    order_rectification = decide(
        "/{system_id:uuid}/rectification", SystemsService.order_rectification, "system.order_rectification",
        RectificationBody,
        doc="The Office orders rectification, withholding approval or O&M funding (第三十七条).")
    close_rectification = decide("/{system_id:uuid}/rectification/close", SystemsService.close_rectification,
                                 "system.close_rectification", CommentBody, optional=True)
