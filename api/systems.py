"""HTTP routes of information systems: proposal, justification, review, connections, tests, go-live, changes, SYS-5."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, Parameter, QueryParameter

from api.contract import Page
from api.deps import (
    Caller,
    EnvelopeDep,
    PastDep,
    ReadsDep,
    answer,
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
from application.common import Forbidden, NotFound
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
        return Response({"items": rows, "next_cursor": nxt, **cut, "position": position})

    @get("/compliance", sync_to_thread=True)
    def compliance(self, principal: Caller, system_queries: Queries, reads: ReadsDep, past: PastDep,
                   limit: Limit = 50, cursor: CursorQuery = None, at: AtQuery = None,
                   as_known_at: AsKnownAtQuery = None) -> Response[Page[ComplianceRow]]:
        """SYS-5 (第三十七条): proposed and live systems that fall short, each finding with its rule and article
        (`at`, `as_known_at`: as in force then, as known then)."""
        queries, position, cut = past.or_live(at, as_known_at, reads, system_queries, SystemQueries, "systems")
        rows, nxt = queries.compliance(scope=Scope.of(principal), limit=limit, cursor=cursor)
        return Response({"items": rows, "next_cursor": nxt, **cut, "position": position})

    @get("/queue", sync_to_thread=True)
    def queue(self, principal: Caller, system_queries: Queries, reads: ReadsDep, limit: Limit = 50,
              cursor: CursorQuery = None) -> Response[Page[QueueTask]]:
        """The Office's queue: justifications to review, duplicates to accept, changes to confirm, tests to run."""
        if not principal.sees_everything:
            raise Forbidden("The review queue is the Office's (and auditors').")
        position = reads.wait("systems")
        rows, nxt = system_queries.office_queue(limit=limit, cursor=cursor)
        return Response(Page(items=rows, next_cursor=nxt, position=position))

    @get("/{system_id:uuid}", sync_to_thread=True)
    def get_system(self, principal: Caller, system_queries: Queries, reads: ReadsDep,
                   system_id: SystemId) -> Response[SystemDetail]:
        reads.wait("systems")
        row = system_queries.system(system_id, Scope.of(principal))
        if row is None:
            raise NotFound(f"No system {system_id}.")
        return Response(row, headers={"ETag": f'"{row.version}"'})

    # -- proposal, justification, review -----------------------------------------------------------

    @post("/", sync_to_thread=True, status_code=201)
    def propose(self, principal: Caller, systems: Service, envelope: EnvelopeDep,
                data: JSONBody[ProposeBody]) -> Response[SystemAnswer]:
        """A system manager proposes a system of its organization with its plan and project data catalog."""
        result = systems.propose(principal, envelope.command("system.propose", data), name=data.name,
                                 plan=data.plan, catalog=tuple(data.catalog))
        return answer(result, location=f"/systems/{result.aggregate_id}")

    @post("/existing", sync_to_thread=True, status_code=201)
    def register_existing(self, principal: Caller, systems: Service, envelope: EnvelopeDep,
                          data: JSONBody[ExistingBody]) -> Response[SystemAnswer]:
        """The Office records a system already in operation; SYS-5 then judges it (第十三条 retrofits)."""
        result = systems.register_existing(principal, envelope.command("system.register_existing", data),
                                           owner=data.owner, name=data.name, plan=data.plan,
                                           catalog=tuple(data.catalog), in_operation_since=data.in_operation_since)
        return answer(result, location=f"/systems/{result.aggregate_id}")

    @post("/{system_id:uuid}/catalog", sync_to_thread=True, status_code=200)
    def revise_catalog(self, principal: Caller, systems: Service, envelope: EnvelopeDep, system_id: SystemId,
                       data: JSONBody[CatalogBody]) -> Response[SystemAnswer]:
        return answer(systems.revise_catalog(principal, envelope.command("system.revise_catalog", data),
                                             system_id, catalog=tuple(data.catalog)))

    @post("/{system_id:uuid}/justification", sync_to_thread=True, status_code=200)
    def justify(self, principal: Caller, systems: Service, envelope: EnvelopeDep, system_id: SystemId,
                data: JSONBody[Justification]) -> Response[SystemAnswer]:
        """The seven parts of 第十一条 (COL-1); items held elsewhere need `duplicate_reasons` (CAT-5, 第十四条)."""
        return answer(systems.justify(principal, envelope.command("system.justify", data), system_id,
                                      justification=data))

    @post("/{system_id:uuid}/justification/accept", sync_to_thread=True, status_code=200)
    def accept_duplicate(self, principal: Caller, systems: Service, envelope: EnvelopeDep, system_id: SystemId,
                         data: JSONBody[AcceptBody]) -> Response[SystemAnswer]:
        """The Office accepts collecting one datum again (CAT-5)."""
        return answer(systems.accept_duplicate(principal, envelope.command("system.accept_duplicate", data),
                                               system_id, item_code=data.item_code))

    @post("/{system_id:uuid}/review", sync_to_thread=True, status_code=200)
    def review(self, principal: Caller, systems: Service, envelope: EnvelopeDep, system_id: SystemId,
               data: JSONBody[ReviewBody]) -> Response[SystemAnswer]:
        """The Office approves (SYS-1, COL-1, CAT-5) or rejects with reasons."""
        return answer(systems.review(principal, envelope.command("system.review", data), system_id,
                                     decision=data.decision, comment=data.comment))

    # -- connections, compliance test, go-live --------------------------------------------------------

    @post("/{system_id:uuid}/connections", sync_to_thread=True, status_code=200)
    def connect(self, principal: Caller, systems: Service, envelope: EnvelopeDep, system_id: SystemId,
                data: JSONBody[ConnectionBody]) -> Response[SystemAnswer]:
        return answer(systems.connect(principal, envelope.command("system.connect", data), system_id,
                                      platform=data.platform, reference=data.reference))

    @post("/{system_id:uuid}/compliance-tests", sync_to_thread=True, status_code=200)
    def record_test(self, principal: Caller, systems: Service, envelope: EnvelopeDep, system_id: SystemId,
                    data: JSONBody[TestBody]) -> Response[SystemAnswer]:
        return answer(systems.record_test(principal, envelope.command("system.compliance_test", data), system_id,
                                          passed=data.passed, findings=tuple(data.findings),
                                          tested_on=data.tested_on))

    @post("/{system_id:uuid}/go-live", sync_to_thread=True, status_code=200)
    def go_live(self, principal: Caller, systems: Service, envelope: EnvelopeDep, system_id: SystemId,
                data: JSONBody[DateBody | None] = None) -> Response[SystemAnswer]:
        """Refused without both connections (SYS-2, SYS-4) and a passed compliance test (SYS-4, 第三十六条)."""
        body = data or DateBody()
        return answer(systems.go_live(principal, envelope.command("system.go_live", body), system_id, on=body.on))

    @post("/{system_id:uuid}/go-live/correction", sync_to_thread=True, status_code=200)
    def correct_go_live(self, principal: Caller, systems: Service, envelope: EnvelopeDep, system_id: SystemId,
                        data: JSONBody[DateCorrectionBody]) -> Response[SystemAnswer]:
        """The Office dates the go-live when it really happened, never before the approval (TIME-1 … TIME-3)."""
        return answer(systems.correct_go_live(principal, envelope.command("system.correct_go_live", data),
                                              system_id, on=data.on, reason=data.reason))

    @post("/{system_id:uuid}/shutdown/correction", sync_to_thread=True, status_code=200)
    def correct_shutdown(self, principal: Caller, systems: Service, envelope: EnvelopeDep, system_id: SystemId,
                         data: JSONBody[DateCorrectionBody]) -> Response[SystemAnswer]:
        """The Office dates the shutdown when it really happened, never before the go-live (TIME-1 … TIME-3)."""
        return answer(systems.correct_shutdown(principal, envelope.command("system.correct_shutdown", data),
                                               system_id, on=data.on, reason=data.reason))

    # -- change filings ---------------------------------------------------------------------------------

    @post("/{system_id:uuid}/changes", sync_to_thread=True, status_code=200)
    def file_change(self, principal: Caller, systems: Service, envelope: EnvelopeDep, system_id: SystemId,
                    data: JSONBody[ChangeBody]) -> Response[SystemAnswer]:
        return answer(systems.file_change(principal, envelope.command("system.file_change", data), system_id,
                                          kind=data.kind, description=data.description,
                                          affects_sharing=data.affects_sharing))

    @post("/{system_id:uuid}/changes/unconfirmed", sync_to_thread=True, status_code=200)
    def record_unconfirmed(self, principal: Caller, systems: Service, envelope: EnvelopeDep, system_id: SystemId,
                           data: JSONBody[UnconfirmedBody]) -> Response[SystemAnswer]:
        """The Office records a change found implemented without its confirmation (SYS-3; listed by SYS-5)."""
        return answer(systems.record_unconfirmed_change(
            principal, envelope.command("system.unconfirmed_change", data), system_id, evidence=data.evidence,
            kind=data.kind, description=data.description, filing=data.filing))

    @post("/{system_id:uuid}/changes/{filing:int}/confirm", sync_to_thread=True, status_code=200)
    def confirm_change(self, principal: Caller, systems: Service, envelope: EnvelopeDep, system_id: SystemId,
                       filing: Filing, data: JSONBody[CommentBody | None] = None) -> Response[SystemAnswer]:
        body = data or CommentBody()
        return answer(systems.confirm_change(principal, envelope.command("system.confirm_change", body),
                                             system_id, filing, comment=body.comment))

    @post("/{system_id:uuid}/changes/{filing:int}/decline", sync_to_thread=True, status_code=200)
    def decline_change(self, principal: Caller, systems: Service, envelope: EnvelopeDep, system_id: SystemId,
                       filing: Filing, data: JSONBody[ReasonBody]) -> Response[SystemAnswer]:
        return answer(systems.decline_change(principal, envelope.command("system.decline_change", data),
                                             system_id, filing, reason=data.reason))

    @post("/{system_id:uuid}/changes/{filing:int}/implement", sync_to_thread=True, status_code=200)
    def implement_change(self, principal: Caller, systems: Service, envelope: EnvelopeDep, system_id: SystemId,
                         filing: Filing, data: JSONBody[DateBody | None] = None) -> Response[SystemAnswer]:
        """Refused for a provincial change that affects sharing until the Office confirms it (SYS-3, 第十五条);
        a shutdown decommissions the system and lists the grants on its flagged entries."""
        body = data or DateBody()
        return answer(systems.implement_change(principal, envelope.command("system.implement_change", body),
                                               system_id, filing, on=body.on))

    # -- SYS-5 -----------------------------------------------------------------------------------------------

    @post("/{system_id:uuid}/rectification", sync_to_thread=True, status_code=200)
    def order_rectification(self, principal: Caller, systems: Service, envelope: EnvelopeDep, system_id: SystemId,
                            data: JSONBody[RectificationBody]) -> Response[SystemAnswer]:
        """The Office orders rectification, withholding approval or O&M funding (第三十七条)."""
        return answer(systems.order_rectification(principal, envelope.command("system.order_rectification", data),
                                                  system_id, deadline=data.deadline, comment=data.comment))

    @post("/{system_id:uuid}/rectification/close", sync_to_thread=True, status_code=200)
    def close_rectification(self, principal: Caller, systems: Service, envelope: EnvelopeDep, system_id: SystemId,
                            data: JSONBody[CommentBody | None] = None) -> Response[SystemAnswer]:
        body = data or CommentBody()
        return answer(systems.close_rectification(principal, envelope.command("system.close_rectification", body),
                                                  system_id, comment=body.comment))
