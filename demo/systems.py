"""Information systems in the demo data set: one in every state, each taken there by the persons the rules name.

Run after the catalog and sharing parts of the demo: the systems feed the demo's catalog entries
(as `existing` project catalog entries of their owner) and plan new ones. Two justifications
collect a datum another organization already publishes (the police department's household
address, the health commission's birth certificate number), so the CAT-5 check at collection time
has real sources to name; one is accepted by the Office, the other still awaits it.

Where the systems end up (`Plan.stage`):
- `proposed` — sent without a project data catalog or justification: SYS-5 lists it (withhold approval);
- `justified` — awaiting the Office's review, with a re-collected datum to accept;
- `rejected` — returned with reasons;
- `approved` — under construction, not connected yet;
- `test_failed` — connected to both platforms, its catalog compliance test failed (awaiting a retest);
- `live` — in operation; `upgraded` also went through a confirmed upgrade and has a change awaiting confirmation;
- `legacy` — an existing system never connected: SYS-5 lists it, rectification ordered (withhold funding);
- `unconfirmed` — an existing system retrofitted, then found to have implemented a change without confirmation;
- `decommissioned` — an existing system shut down after a confirmed filing; its entries are flagged.

Every command carries an idempotency key derived from the system and the step, so loading twice
records nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from application.common import Command, NotFound, Principal
from demo.parts import Services, Store
from domain.catalog import entry_id
from domain.organizations import OFFICE_CODE, Role
from domain.systems_values import ConstructionPlan, Justification, ProjectEntry
from projections.scope import EVERYTHING

DEMO_ADMIN = "office-admin"
HOUSEHOLD, BIRTHS = "610000-GAHJ-001", "610000-WJCS-001"


@dataclass(frozen=True)
class Plan:
    """One demo system: owner, its system manager, what it collects, and how far it gets (`stage`)."""

    key: str
    owner: str
    manager: str
    name: str
    stage: str
    existing: tuple[str, ...] = ()
    new: tuple[tuple[str, str, str], ...] = ()
    """(resource code, name, space-separated item codes) of entries to be compiled."""
    borrows: str | None = None
    """Another organization's published entry one of whose data items the system would collect again."""
    since: date = date(2016, 5, 1)


SYSTEMS: tuple[Plan, ...] = (
    Plan("relief", "sx-mz-div-relief", "秦志远", "陕西省社会救助信息系统（二期）", "upgraded",
         existing=("610000-SHJZ-001", "610000-SHJZ-002"),
         new=(("610000-SHJZ-009", "救助对象居住核验信息", "JZHY_BH JZHY_JZDZ JZHY_HYRQ"),), borrows=HOUSEHOLD),
    Plan("elderly", "sx-mz-div-elderly", "白露", "陕西省智慧养老服务平台", "test_failed",
         existing=("610000-YLFW-001",), new=(("610000-YLFW-008", "智慧养老呼叫服务记录", "HJFW_BH HJFW_LX HJFW_SJ"),)),
    Plan("children", "sx-mz-div-children", "江涛", "陕西省儿童福利综合管理系统", "justified",
         existing=("610000-ETFL-001",), new=(("610000-ETFL-007", "新生儿福利衔接信息", "XSE_BH XSE_DJRQ"),),
         borrows=BIRTHS),
    Plan("ngo", "sx-mz-div-ngo", "孟凡", "社会组织综合监管系统", "proposed"),
    Plan("zoning", "sx-mz-div-zoning", "尚文", "陕西省地名公共服务系统", "rejected",
         existing=("610000-QHDM-002",), new=(("610000-QHDM-006", "地名文化遗产信息", "DMWH_MC DMWH_LB DMWH_RDRQ"),)),
    Plan("welfare", "sx-mz-unit-welfare", "卓然", "省社会福利院智慧护理系统", "approved",
         existing=("610000-SHFL-001",), new=(("610000-SHFL-002", "护理服务记录", "HLJL_BH HLJL_DJ HLJL_RQ"),)),
    Plan("xian", "sx-mz-city-xa", "霍建", "西安市社会救助入户核查系统", "live",
         existing=("610100-SHJZ-001",), new=(("610100-SHJZ-002", "入户核查记录", "RHHC_BH RHHC_RQ RHHC_JL"),)),
    Plan("marriage", "sx-mz-div-affairs", "韦立", "婚姻登记信息系统（省级节点）", "legacy",
         existing=("610000-HYDJ-001",), since=date(2012, 7, 1)),
    Plan("rescue", "sx-mz-unit-rescue", "柏青", "救助管理站业务系统", "unconfirmed",
         existing=("610000-JZGL-001",), since=date(2014, 3, 1)),
    Plan("old-relief", "sx-mz-div-relief", "秦志远", "城乡低保信息系统（旧版）", "decommissioned",
         existing=("610000-SHJZ-001",), since=date(2010, 1, 1)),
)

PLANS = {p.key: ConstructionPlan(title=f"{p.name}建设方案", summary=f"{p.name}：业务办理、数据采集与共享交换",
                                 document=f"陕民办函〔2026〕{i + 11}号") for i, p in enumerate(SYSTEMS)}


def _justification(p: Plan, duplicate: str | None) -> Justification:
    reasons = {duplicate: "需按业务办理时的实际情况采集，与来源部门登记口径不同，采集后与来源数据比对核验"} if duplicate else {}
    return Justification(
        necessity=f"{p.name}支撑民政业务网上办理，现有系统不能满足需要。",
        feasibility="依托省级政务云和民政一体化平台建设，技术方案成熟。",
        relation_to_existing="优先通过共享交换平台获取已有数据，仅采集本业务产生的数据。",
        sharing_fit="按共享目录向共享交换平台提供数据，满足各部门共享需求。",
        mechanism="业务经办人员在办理环节采集，系统自动校验，按更新周期同步。",
        catalog="见项目数据资源目录。",
        funding="省级财政专项资金，运维经费纳入部门预算。",
        duplicate_reasons=reasons,
    )


class _SystemsLoader:
    def __init__(self, services: Services, store: Store, office: Principal) -> None:
        self.services, self.store, self.office = services, store, office

    def cmd(self, p: Plan, step: str) -> Command:
        return Command(name=f"system.{step}", idempotency_key=f"demo-system:{p.key}:{step}",
                       request_id="civic-ledger demo")

    def manager(self, p: Plan) -> Principal:
        self.services.organizations.assign_role(self.office, Command(name="organization.assign_role"), code=p.owner,
                                          person=p.manager, role=Role.SYSTEM_MANAGER)
        return Principal(person=p.manager, organization=p.owner, roles=frozenset({Role.SYSTEM_MANAGER}))

    def borrowed(self, p: Plan) -> str | None:
        """The last data item of the borrowed entry as published, if it is published."""
        if p.borrows is None:
            return None
        try:
            current = self.services.catalog.load(entry_id(p.borrows)).current
        except NotFound:
            return None
        return current.content.item_codes()[-1] if current is not None else None

    def catalog(self, p: Plan, duplicate: str | None) -> tuple[ProjectEntry, ...]:
        out = []
        for code in p.existing:
            try:
                e = self.services.catalog.load(entry_id(code))
            except NotFound:
                continue
            version = e.current or e.pending
            if version is not None and e.provider == p.owner:
                out.append(ProjectEntry(resource_code=code, name=version.content.name,
                                        item_codes=version.content.item_codes(), existing=True))
        for code, name, item_codes in p.new:
            codes = tuple(item_codes.split()) + ((duplicate,) if duplicate else ())
            out.append(ProjectEntry(resource_code=code, name=name, item_codes=codes))
        return tuple(out)

    def load(self, p: Plan) -> UUID:
        systems, office, manager = self.services.systems, self.office, self.manager(p)
        duplicate = self.borrowed(p)
        catalog = self.catalog(p, duplicate)
        if p.stage in ("legacy", "unconfirmed", "decommissioned"):
            return self._legacy(p, manager, catalog)
        sid = systems.propose(manager, self.cmd(p, "propose"), name=p.name, plan=PLANS[p.key],
                              catalog=catalog).aggregate_id
        assert sid is not None
        if p.stage == "proposed":
            return sid
        systems.justify(manager, self.cmd(p, "justify"), sid, justification=_justification(p, duplicate))
        if p.stage == "justified":
            return sid
        if p.stage == "rejected":
            systems.review(office, self.cmd(p, "reject"), sid, decision="reject",
                           comment="与国家地名信息库功能重复，请说明与已有系统的关系并补充运维经费来源。")
            return sid
        if duplicate:
            systems.accept_duplicate(office, self.cmd(p, "accept"), sid, item_code=duplicate)
        systems.review(office, self.cmd(p, "approve"), sid, decision="approve", comment="同意建设，按批复方案实施。")
        if p.stage == "approved":
            return sid
        self._connect(p, manager, sid)
        if p.stage == "test_failed":
            systems.record_test(office, self.cmd(p, "test"), sid, passed=False,
                                findings=("HJFW_LX 代码表未在目录中登记", "呼叫服务记录更新周期与目录不一致"))
            return sid
        systems.record_test(office, self.cmd(p, "test"), sid, passed=True, findings=())
        systems.go_live(manager, self.cmd(p, "go_live"), sid)
        if p.stage == "live":
            systems.file_change(manager, self.cmd(p, "file"), sid, kind="content_change",
                                description="新增入户核查照片附件字段", affects_sharing=True)
            systems.implement_change(manager, self.cmd(p, "implement"), sid, 1)
            return sid
        systems.file_change(manager, self.cmd(p, "file_upgrade"), sid, kind="upgrade",
                            description="二期升级：新增救助资金发放接口", affects_sharing=True)
        systems.confirm_change(office, self.cmd(p, "confirm_upgrade"), sid, 1, comment="不影响现有共享接口，同意实施。")
        systems.implement_change(manager, self.cmd(p, "implement_upgrade"), sid, 1)
        systems.file_change(manager, self.cmd(p, "file_content"), sid, kind="content_change",
                            description="低保对象信息新增“致贫原因”数据项", affects_sharing=True)
        return sid

    def _connect(self, p: Plan, manager: Principal, sid: UUID) -> None:
        n = SYSTEMS.index(p) + 1
        self.services.systems.connect(manager, self.cmd(p, "connect_exchange"), sid, platform="exchange",
                                reference=f"SXMZ-JH-{n:04d}")
        self.services.systems.connect(manager, self.cmd(p, "connect_integration"), sid, platform="integration",
                                reference=f"SXMZ-YT-{n:04d}")

    def _legacy(self, p: Plan, manager: Principal, catalog: tuple[ProjectEntry, ...]) -> UUID:
        systems, office = self.services.systems, self.office
        sid = systems.register_existing(office, self.cmd(p, "register"), owner=p.owner, name=p.name, plan=PLANS[p.key],
                                        catalog=catalog,
                                        in_operation_since=p.since).aggregate_id
        assert sid is not None
        if p.stage == "legacy":
            systems.order_rectification(office, self.cmd(p, "rectify"), sid,
                                        deadline=self.store.today() + timedelta(days=90),
                                        comment="限期接入共享交换平台和民政一体化平台并通过目录合规性检测，整改期间暂停运维经费。")
            return sid
        self._connect(p, manager, sid)
        systems.record_test(office, self.cmd(p, "test"), sid, passed=True, findings=())
        if p.stage == "unconfirmed":
            systems.record_unconfirmed_change(office, self.cmd(p, "found"), sid, kind="content_change",
                                              description="新增受助人员人脸照片采集",
                                              evidence="共享交换平台巡检发现接口字段变化，未备案确认。")
            return sid
        systems.file_change(manager, self.cmd(p, "file_shutdown"), sid, kind="shutdown",
                            description="业务并入社会救助信息系统（二期），旧系统停运", affects_sharing=True)
        systems.confirm_change(office, self.cmd(p, "confirm_shutdown"), sid, 1, comment="数据已迁移，同意停运。")
        systems.implement_change(manager, self.cmd(p, "implement_shutdown"), sid, 1)
        return sid


def load_systems_demo(services: Services, store: Store, office: Principal | None = None) -> dict[str, Any]:
    """Loads the demo systems (once) as the Office `office` and the owners' system managers; returns their states."""
    office = office or Principal(person=DEMO_ADMIN, organization=OFFICE_CODE, roles=frozenset({Role.OFFICE_ADMIN}))
    loader = _SystemsLoader(services, store, office)
    for p in SYSTEMS:
        loader.load(p)
    return systems_summary(store)


def systems_summary(store: Store) -> dict[str, Any]:
    """The systems of the ledger by state, and how many SYS-5 lists (from the read model, caught up first)."""
    store.projector.catch_up("systems")
    rows = store.ledger.db.query("SELECT state, COUNT(*) AS n FROM systems GROUP BY state ORDER BY state")
    flagged, _ = store.system_queries.compliance(scope=EVERYTHING, limit=500)
    return {"systems": sum(int(r["n"]) for r in rows), "systems_by_state": {r["state"]: int(r["n"]) for r in rows},
            "systems_non_compliant": len(flagged)}
