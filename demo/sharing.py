"""Sharing in the demo data set: share requests in every state, their orders, and a few hundred grants.

Every fact goes through `SharingService` with the persons the rules name: a requester of the
requesting organization submits (and sometimes withdraws), the Office's admin reviews, narrows,
rejects and issues implementation orders, the provider's catalog reviewer or the Office suspends,
resumes and revokes grants, and the exchange platform's account records single uses.

The three scenarios of 第二十三条 appear: city and county bureaus and the Department's divisions
ask for civil-affairs data (`internal_sharing`), divisions ask for other provincial departments'
data with an import, storage and use plan in the order (`external_exchange`, SHR-8), and other
provincial departments ask for civil-affairs data (`external_sharing`). The municipal government
makes no request: it may not apply to the Provincial Department directly (SHR-3).

Time. Requests run from the load's Beijing date to the end of next year, except the `short`
ones, which end two weeks later. The loader runs between the catalog's two waves: the grants on
entries retired in wave two exist first and are suspended by the retirement, and when the clock
can be moved the six-week gap between the waves takes the short grants past their end, so the
sweep records them as expired. Under the wall clock they expire when their date has passed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import msgspec

from application.common import Command, Principal
from demo.parts import Services, Store
from domain.base import BEIJING
from domain.catalog import entry_id
from domain.catalog_values import DataItem, DeliveryMethod, Sensitivity
from domain.organizations import OFFICE_CODE, Role
from domain.sharing import ImplementationOrder, ShareRequest
from domain.sharing_values import (
    GrantKind,
    GrantStatus,
    RequestDecision,
    RequestedEntry,
    RequestStatus,
    Scenario,
    UsePlan,
    grant_id,
)
from projections.scope import EVERYTHING

PLATFORM = Principal(person="sx-exchange-platform", organization=OFFICE_CODE, roles=frozenset({Role.PLATFORM}))
SHORT = timedelta(days=14)

IF, FE = DeliveryMethod.INTERFACE, DeliveryMethod.FRONT_END_PROCESSOR
OQ, BD = DeliveryMethod.ONLINE_QUERY, DeliveryMethod.BATCH_DOWNLOAD
INTERNAL, EXCHANGE, EXTERNAL = Scenario.INTERNAL_SHARING, Scenario.EXTERNAL_EXCHANGE, Scenario.EXTERNAL_SHARING
SUBMITTED, APPROVED, REJECTED = RequestStatus.SUBMITTED, RequestStatus.APPROVED, RequestStatus.REJECTED
WITHDRAWN, IMPLEMENTED = RequestStatus.WITHDRAWN, RequestStatus.IMPLEMENTED


@dataclass(frozen=True)
class Ask:
    """One share request of the demo and how far it gets (`outcome`)."""

    key: str
    requester: str
    scenario: Scenario
    method: DeliveryMethod
    entries: tuple[str, ...]
    purpose: str
    reason: str
    outcome: RequestStatus = IMPLEMENTED
    narrow: bool = False        # the Office keeps only the fields needed (see `narrowed`)
    short: bool = False         # the period ends two weeks after the load's date
    only: tuple[str, ...] = ()  # item suffixes asked for; all items of the entry when empty
    comment: str = ""           # the rejection's reason, or the approval's comment


@dataclass(frozen=True)
class Step:
    """A later step in the life of the grant that ask `ask` created on entry `code`."""

    ask: str
    code: str
    act: str   # suspend, resume, revoke, use
    by: str    # office, provider, platform
    reason: str = ""


CITIES = tuple(f"sx-mz-city-{c}" for c in ("xa", "tc", "bj", "xy", "wn", "ya", "hz", "yl", "ak", "sl"))
COUNTIES = tuple(f"sx-mz-county-{c}" for c in (
    "xa-yanta", "xa-changan", "bj-fengxiang", "hz-chenggu", "yl-shenmu", "ak-ziyang", "sl-zhashui"))

BASE = ("610000-QHDM-001", "610000-QHDM-002", "610000-SHZZ-001", "610000-SHZZ-002", "610000-SHZZ-003",
        "610000-YLFW-001", "610000-CSSG-001")
RELIEF = ("610000-SHJZ-001", "610000-SHJZ-002", "610000-SHJZ-003", "610000-SHJZ-004", "610000-BZGL-002")
STATS = ("610000-SHJZ-006", "610000-YLFW-004", "610000-ETFL-004", "610000-SHZZ-004", "610000-QHDM-004",
         "610000-QHDM-003", "610000-GHCW-001", "610000-GHCW-002", "610000-CSSG-005", "610000-XXH-002")
QUERY = ("610000-YLFW-007", "610000-HYDJ-002", "610000-BZGL-001", "610000-CSSG-003", "610000-ZCFG-001",
         "610000-ZCFG-002", "610000-JZGL-002", "610700-ETFL-001", "611000-SHZZ-001", "610200-BZGL-001")

P_BASE = "基层民政业务系统对接区划、社会组织和养老机构基础数据"
P_RELIEF = "社会救助申请审核中的身份核验和救助政策衔接"
P_STATS = "民政事业统计分析和年度工作规划编制"
NARROWED = "按最小必要原则核减金额、地址等与用途无关的数据项后同意。"

REL, ELD, CHI, AFF = "sx-mz-div-relief", "sx-mz-div-elderly", "sx-mz-div-children", "sx-mz-div-affairs"
CHA, FIN, POL = "sx-mz-div-charity", "sx-mz-div-finance", "sx-mz-div-policy"
INF, WEL, RES = "sx-mz-unit-info", "sx-mz-unit-welfare", "sx-mz-unit-rescue"
POLICE, HRSS, HEALTH, DPF, EDU = "sx-dept-police", "sx-dept-hrss", "sx-dept-health", "sx-dept-dpf", "sx-dept-edu"


def _bureaus() -> list[Ask]:
    """Every city and county bureau connects to the base data and checks relief applicants; cities analyse."""
    out = []
    for i, org in enumerate(CITIES + COUNTIES):
        out.append(Ask(f"base:{org}", org, INTERNAL, IF, BASE, P_BASE,
                       "本级民政业务系统需调用省级区划地名、社会组织和养老机构基础数据，避免重复采集。"))
        out.append(Ask(f"relief:{org}", org, INTERNAL, IF, RELIEF, P_RELIEF,
                       "社会救助审核确认权限下放后，县级需逐人核验申请家庭在省级系统中的救助和火化记录。",
                       narrow=i % 3 == 0, comment=NARROWED if i % 3 == 0 else ""))
    for org in CITIES:
        out.append(Ask(f"stats:{org}", org, INTERNAL, BD, STATS, P_STATS,
                       "编制本市民政事业发展统计分析和年度规划，需要全省汇总数据作对比。"))
    return out


ASKS: tuple[Ask, ...] = (
    *_bureaus(),
    Ask("base-again:sx-mz-city-bj", "sx-mz-city-bj", INTERNAL, IF, ("610000-QHDM-001", "610000-SHZZ-001"), P_BASE,
        "市级社会组织服务平台上线，需接入区划代码和社会团体登记数据。",
        only=("DM", "MC", "TYSHXYDM", "JGMC", "DJZT")),
    Ask("retire:sx-mz-city-xy", "sx-mz-city-xy", INTERNAL, BD, ("610000-YLFW-006", "610500-YLFW-001"),
        "农村互助养老设施布局规划", "编制咸阳市农村互助养老设施布局规划，需参照省级和渭南市幸福院数据。"),
    # divisions and affiliated units of the Department
    Ask("care:elderly", ELD, INTERNAL, FE, ("610000-SHJZ-001", "610000-SHJZ-004", "610000-CJFL-001", "610000-CJFL-002"),
        "经济困难老年人养老服务补贴资格比对", "养老服务补贴对象须为低保、低收入或残疾老年人，需与救助和残疾人补贴数据比对。",
        narrow=True, comment=NARROWED),
    Ask("care:children", CHI, INTERNAL, IF, ("610000-SHJZ-001", "610000-SHJZ-003", "610000-BZGL-002"),
        "困境儿童家庭救助和监护情况核实", "认定困境儿童需核实其家庭低保、临时救助情况及父母死亡火化记录。"),
    Ask("stats:finance", FIN, INTERNAL, BD, STATS, "民政事业发展统计公报和部门预算编制",
        "编制年度统计公报和部门预算，需要各业务条线汇总数据。"),
    Ask("query:policy", POL, INTERNAL, OQ, QUERY, "行政执法监督和政策实施效果评估",
        "开展民政行政执法监督和规范性文件实施评估，需查询机构、设施和公告信息。"),
    Ask("base:info", INF, INTERNAL, IF, BASE, "民政一体化平台基础数据库建设",
        "信息中心建设一体化平台基础库，统一提供区划、社会组织和养老机构主数据。"),
    Ask("care:affairs", AFF, INTERNAL, IF, ("610000-SHJZ-001", "610000-SHJZ-002"),
        "困难群众基本殡葬服务费用减免资格核验", "惠民殡葬政策对低保、特困人员减免基本殡葬服务费用，需核验身份。"),
    Ask("base:charity", CHA, INTERNAL, IF, ("610000-SHZZ-001", "610000-SHZZ-002", "610000-SHZZ-003"),
        "慈善组织认定和公开募捐资格审查", "认定慈善组织、审查公开募捐资格，需核对社会组织登记状态。"),
    Ask("short:rescue", RES, INTERNAL, IF, ("610000-SHJZ-001", "610000-SHJZ-004"),
        "春节前困难群众走访慰问专项核查", "配合开展走访慰问专项行动，核查受助人员救助和监测状态，行动结束即停止使用。",
        short=True),
    Ask("short:welfare", WEL, INTERNAL, OQ, ("610000-YLFW-007", "610000-ZCFG-001"),
        "养老机构安全生产专项检查", "参加全省养老机构安全生产专项检查，需查询等级评定和许可事项。", short=True),
    # other provincial departments ask for civil-affairs data
    Ask("police:if", POLICE, EXTERNAL, IF, ("610000-BZGL-002", "610000-JZGL-001", "610000-HYDJ-001"),
        "户籍注销核查和身份不明人员寻亲比对", "依据火化记录核查户籍注销，比对受助人员身份以协助寻亲。"),
    Ask("police:oq", POLICE, EXTERNAL, OQ, ("610000-HYDJ-001", "610000-JZGL-002", "610000-QHDM-002"),
        "户籍业务办理中的婚姻状况核验和地址标准化", "户籍窗口办理随迁、变更业务时逐人核验婚姻状况，并统一标准地名。",
        narrow=True, comment=NARROWED),
    Ask("hrss:if", HRSS, EXTERNAL, IF, ("610000-SHJZ-001", "610000-SHJZ-002", "610000-SHJZ-003", "610000-YLFW-002",
                                        "610000-BZGL-002", "610881-YLFW-001"),
        "社会保险待遇资格认证和救助政策衔接", "城乡居民养老保险代缴、待遇资格认证需核验救助对象身份和火化记录。",
        narrow=True, comment=NARROWED),
    Ask("hrss:oq", HRSS, EXTERNAL, OQ, ("610000-CSSG-004",), "社会工作者职业资格和岗位聘用核验",
        "事业单位社会工作岗位聘用时核验职业资格证书。"),
    Ask("health:fe", HEALTH, EXTERNAL, FE, ("610000-ETFL-001", "610000-SHFL-001", "610000-SHJZ-001"),
        "医养结合服务和儿童医疗救助衔接", "落实孤儿医疗救助和医养结合签约服务，需比对福利对象身份。"),
    Ask("health:if", HEALTH, EXTERNAL, IF, ("610000-ETFL-002", "610000-YLFW-002"),
        "事实无人抚养儿童和高龄老人医疗保障衔接", "家庭医生签约和健康管理服务对象认定。"),
    Ask("dpf:fe", DPF, EXTERNAL, FE, ("610000-CJFL-001", "610000-CJFL-002", "610800-CJFL-001"),
        "残疾人两项补贴与残疾人证信息比对", "核对两项补贴发放对象与残疾人证状态，及时发现证件注销仍在领取的情形。"),
    Ask("edu:if", EDU, EXTERNAL, IF, ("610000-SHJZ-001", "610000-SHJZ-002", "610000-ETFL-001", "610000-SHZZ-001"),
        "家庭经济困难学生资助认定", "学生资助认定需核验低保、特困和孤儿身份，减少证明材料。", narrow=True, comment=NARROWED),
    Ask("edu:bd", EDU, EXTERNAL, BD, ("610000-ETFL-004", "610000-QHDM-001", "610000-QHDM-004"),
        "特殊教育学校和随班就读布点规划", "编制特殊教育发展规划，需儿童福利机构分布和行政区划数据。"),
    # divisions ask for other provincial departments' data (SHR-8)
    Ask("exchange:relief", REL, EXCHANGE, IF, ("610000-GAHJ-001", "610000-RSSB-001", "610000-WJSW-001", "610000-CLCJ-001"),
        "低保对象家庭成员户籍、参保、死亡和残疾状况核对", "低保动态管理需核对家庭成员户籍、参保和生存状况，以及残疾情况。",
        narrow=True, comment=NARROWED),
    Ask("exchange:affairs", AFF, EXCHANGE, FE, ("610000-WJSW-001", "610000-CLCJ-001"),
        "殡葬服务管理和残疾人两项补贴资格复核", "死亡医学证明是遗体火化的依据；残疾人证状态决定两项补贴资格。"),
    Ask("exchange:children", CHI, EXCHANGE, IF, ("610000-WJCS-001", "610000-GAHJ-002"),
        "孤儿和事实无人抚养儿童认定核实", "认定孤儿和事实无人抚养儿童需核实出生信息和父母户籍注销情况。"),
    Ask("exchange:elderly", ELD, EXCHANGE, IF, ("610000-RSSB-002", "610000-GAHJ-002"),
        "高龄津贴发放对象待遇领取和生存状态核验", "高龄津贴按月发放，需核验领取人生存状态，防止冒领。"),
    Ask("exchange:welfare", WEL, EXCHANGE, BD, ("610000-CLJG-001",), "残疾人福利机构布局和转介服务",
        "为入住残疾人提供康复转介服务，需全省康复托养机构名录。"),
    # requests that stop before an order
    Ask("queue:yl", "sx-mz-city-yl", INTERNAL, OQ, ("610000-YLFW-007", "610000-BZGL-001"),
        "养老和殡葬服务机构综合监管", "开展养老、殡葬服务机构“双随机、一公开”综合监管。", outcome=SUBMITTED),
    Ask("queue:relief", REL, EXCHANGE, IF, ("610000-RSSB-002",), "低保对象养老金收入核对",
        "低保家庭收入核算需计入养老金收入。", outcome=SUBMITTED),
    Ask("queue:edu", EDU, EXTERNAL, FE, ("610000-SHJZ-004",), "防止因学返贫动态监测",
        "将低收入人口监测预警信息用于家庭经济困难学生精准资助。", outcome=SUBMITTED),
    Ask("approved:hz", "sx-mz-city-hz", INTERNAL, IF, ("610000-SHJZ-001", "610000-SHJZ-004"), "防止返贫动态监测和帮扶",
        "汉中市防返贫监测帮扶需核验监测对象的救助状态。", outcome=APPROVED, narrow=True, comment=NARROWED),
    Ask("approved:health", HEALTH, EXTERNAL, OQ, ("610000-HYDJ-002", "610000-BZGL-001"),
        "出生、死亡医学证明办理指引", "在医疗机构公示婚姻登记和殡葬服务机构信息，方便群众后续办事。",
        outcome=APPROVED, comment="同意；实施单待交换平台联机查询通道开通后签发。"),
    Ask("rejected:info", INF, INTERNAL, OQ, ("610000-HYDJ-001",), "平台数据质量抽检", "抽检婚姻登记数据质量。",
        outcome=REJECTED, comment="数据质量核查属数据维护事项（第二十八条），不以共享方式获取个人婚姻登记信息；请按数据维护流程申报。"),
    Ask("rejected:edu", EDU, EXTERNAL, IF, ("610000-BZGL-002",), "学籍信息清理", "清理已死亡学生的学籍。",
        outcome=REJECTED, comment="火化信息的共享条件限于人社、医保、公安部门；学籍清理不在其内，可商请公安部门提供户籍注销信息。"),
    Ask("rejected:ak", "sx-mz-city-ak", INTERNAL, IF, ("610000-ETFL-001",), "社区儿童关爱活动组织",
        "组织社区儿童关爱活动需要孤儿名单。", outcome=REJECTED,
        comment="孤儿个人信息仅限教育、卫健、医保等部门用于儿童福利政策落实；组织活动请使用儿童福利机构信息等汇总数据。"),
    Ask("withdrawn:sl", "sx-mz-city-sl", INTERNAL, BD, ("610000-GHCW-001",), "县区民政统计季报汇总",
        "汇总县区民政统计季报。", outcome=WITHDRAWN),
    Ask("withdrawn:hrss", HRSS, EXTERNAL, OQ, ("610000-HYDJ-001",), "工伤保险供养亲属婚姻状况核验",
        "核验工亡职工供养亲属的婚姻状况。", outcome=WITHDRAWN),
)

STEPS: tuple[Step, ...] = (
    Step("relief:sx-mz-city-tc", "610000-SHJZ-001", "suspend", "provider", "铜川市民政局接口夜间批量调用量异常，暂停待核查。"),
    Step("police:if", "610000-HYDJ-001", "suspend", "office", "公安厅前置机网络安全等级保护测评到期未复测，暂停至整改完成。"),
    Step("base:sx-mz-city-ak", "610000-QHDM-002", "suspend", "provider", "地名信息接口迁移至新版交换平台，暂停三日。"),
    Step("base:sx-mz-city-ak", "610000-QHDM-002", "resume", "provider"),
    Step("relief:sx-mz-county-xa-yanta", "610000-SHJZ-003", "suspend", "provider", "调用日志显示存在超出申请用途的批量查询。"),
    Step("relief:sx-mz-county-xa-yanta", "610000-SHJZ-003", "revoke", "office",
         "经核实存在超出申请用途使用数据的情形（第三十八条），撤销授权并责令整改。"),
    Step("stats:sx-mz-city-sl", "610000-XXH-002", "revoke", "office", "申请单位职能调整，调用汇总改由省级统一提供，经其确认撤销。"),
    Step("edu:if", "610000-SHZZ-001", "revoke", "office", "教育厅已通过省政务数据共享平台获取社会组织登记数据，撤销重复授权。"),
    *(Step(f"relief:{org}", "610000-SHJZ-001", "use", "platform") for org in CITIES[2:8]),
    Step("dpf:fe", "610000-CJFL-001", "use", "platform"),
    Step("hrss:if", "610000-BZGL-002", "use", "platform"),
    Step("health:fe", "610000-ETFL-001", "use", "platform"),
    Step("exchange:relief", "610000-GAHJ-001", "use", "platform"),
)


def narrowed(items: tuple[DataItem, ...], asked: tuple[str, ...]) -> tuple[str, ...]:
    """The Office keeps the identity keys and drops amounts and other sensitive items (最小必要)."""
    by_code = {i.code: i for i in items}
    keep = tuple(c for c in asked if c.endswith(("_XM", "_SFZH")) or (
        by_code[c].type != "decimal" and by_code[c].sensitivity != Sensitivity.SENSITIVE))
    return keep or asked


def _cmd(name: str) -> Command:
    return Command(name=name, request_id="civic-ledger demo")


class SharingLoader:
    def __init__(self, services: Services, store: Store, office: Principal, people: dict[str, dict[str, Principal]],
                 providers: dict[str, str]) -> None:
        self.services = services
        self.office = office
        self.people = people
        self.providers = providers
        self.grants: dict[tuple[str, str], UUID] = {}
        self.asks = {a.key: a for a in ASKS}
        today = store.now().astimezone(BEIJING).date()
        self.period = (today, date(today.year + 1, 12, 31))
        self.short_period = (today, today + SHORT)

    def load(self) -> None:
        for ask in ASKS:
            self._ask(ask)
        for step in STEPS:
            self._step(step)

    def expire(self) -> int:
        """Records the ends of the grants whose period has passed (none under the wall clock at load)."""
        return self.services.sharing.expire_due()

    def _items(self, code: str) -> tuple[DataItem, ...]:
        current = self.services.catalog.load(entry_id(code)).current
        assert current is not None, code
        return current.content.data_items

    def _ask(self, a: Ask) -> None:
        sharing, office, cmd = self.services.sharing, self.office, _cmd
        requester = self.people[a.requester]["requester"]
        codes = [c for c in a.entries if self.providers[c] != a.requester]
        items = {c: self._items(c) for c in codes}
        asked = {c: tuple(i.code for i in items[c] if not a.only or i.code.split("_", 1)[1] in a.only) for c in codes}
        start, end = self.short_period if a.short else self.period
        rid = sharing.submit(
            requester, cmd("share.submit"), scenario=a.scenario, reason=a.reason, purpose=a.purpose,
            entries=tuple(RequestedEntry(entry_id=entry_id(c), resource_code=c, fields=asked[c]) for c in codes),
            valid_from=start, valid_to=end, delivery_method=a.method,
        ).aggregate_id
        assert rid is not None
        if a.outcome == SUBMITTED:
            return
        if a.outcome == WITHDRAWN:
            sharing.withdraw(requester, cmd("share.withdraw"), rid)
            return
        if a.outcome == REJECTED:
            sharing.review(office, cmd("share.review"), rid, decision=RequestDecision.REJECT, reason=a.comment)
            return
        fields = {entry_id(c): narrowed(items[c], asked[c]) for c in codes} if a.narrow else None
        sharing.review(office, cmd("share.review"), rid, decision=RequestDecision.APPROVE, fields=fields,
                       reason=a.comment)
        if a.outcome == APPROVED:
            return
        plans = {entry_id(c): self._plan(a) for c in codes if self.providers[c].startswith("sx-dept-")}
        order = msgspec.json.decode(sharing.issue_order(office, cmd("share.order"), rid, plans=plans).body)
        new = set(order["new_grants"])
        for c in codes:
            gid = grant_id(UUID(order["id"]), entry_id(c))
            if str(gid) in new:
                self.grants[(a.key, c)] = gid

    @staticmethod
    def _plan(a: Ask) -> UsePlan:
        return UsePlan(
            import_plan=f"经省级共享交换平台以“{a.method}”方式导入民政一体化平台专用比对库，逐条比对，不落地全量数据。",
            storage_plan="存放于政务外网区加密数据库，按申请期限留存，期满或用途完成后删除并记录。",
            use_plan=f"仅用于“{a.purpose}”，不对外提供，不转交第三方，比对结果纳入业务档案。",
        )

    def _step(self, s: Step) -> None:
        sharing, gid = self.services.sharing, self.grants[(s.ask, s.code)]
        if s.by == "office":
            who = self.office
        elif s.by == "provider":
            who = self.people[self.providers[s.code]]["catalog_reviewer"]
        else:
            who = PLATFORM
        if s.act == "suspend":
            sharing.suspend(who, _cmd("grant.suspend"), gid, reason=s.reason)
        elif s.act == "resume":
            sharing.resume(who, _cmd("grant.resume"), gid)
        elif s.act == "revoke":
            sharing.revoke(who, _cmd("grant.revoke"), gid, reason=s.reason)
        else:
            a, spec = self.asks[s.ask], sharing.load_grant(gid).spec
            answer, _ = sharing.use(who, _cmd("grant.use"), holder=a.requester, entry_id=entry_id(s.code),
                                    fields=spec.fields[:2], purpose=a.purpose, method=a.method)
            if not (answer.allowed and answer.recorded_use and answer.grant_id == gid):
                raise RuntimeError(f"demo: the use of grant {gid} was not recorded: {answer}")


def sharing_summary(services: Services, store: Store) -> dict[str, Any]:
    """Requests by status and scenario, grants by status (as of now) and kind, read from the aggregates."""
    store.projector.wait_for(store.ledger.max_position(), "sharing")
    requests, cursor = [], None
    while True:
        page, cursor = store.sharing_queries.requests(scope=EVERYTHING, limit=500, cursor=cursor)
        requests += [services.sharing.get(ShareRequest, UUID(r.id)) for r in page]
        if cursor is None:
            break
    now = store.now()
    grants: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    reused = 0
    for r in requests:
        if r.order_id is None:
            continue
        order = services.sharing.get(ImplementationOrder, r.order_id)
        reused += len(order.reused)
        for spec in order.new_grants:
            grants[services.sharing.load_grant(spec.grant_id).status_at(now)] += 1
            kinds[spec.kind] += 1
    by_status = Counter(str(r.status) for r in requests)
    by_scenario = Counter(str(r.scenario) for r in requests)
    return {
        "requests": len(requests),
        "requests_by_status": {str(s): by_status[s] for s in RequestStatus if by_status[s]},
        "requests_by_scenario": {str(s): by_scenario[s] for s in Scenario if by_scenario[s]},
        "grants": sum(grants.values()),
        "grants_by_status": {str(s): grants[s] for s in GrantStatus if grants[s]},
        "grants_by_kind": {str(k): kinds[k] for k in GrantKind if kinds[k]},
        "reused_grants": reused,
    }
