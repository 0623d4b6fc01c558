"""The raw demo data set: organizations of the Shaanxi civil-affairs regime, their members, and catalog entries.

Plain values only; `demo.loader` turns them into commands. Person names are fictitious.
Data item codes are `{prefix}_{suffix}` in pinyin initials, unique per entry so that one datum has
one source (CAT-5); a token of the form `=CODE:名称` reuses another entry's code on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from domain.organizations import Level, OrgKind

DEMO_MARKER = "sx-mz-city-xa"
"""The organization whose presence means the demo has been loaded."""

DEMO_ADMIN = "office-admin"


@dataclass(frozen=True)
class Org:
    code: str
    name: str
    kind: OrgKind
    level: Level
    parent: str | None
    members: tuple[tuple[str, str], ...] = ()
    """(person, role) pairs; catalog-compiling organizations list a compiler and a reviewer."""


def _compiling(code: str, name: str, kind: OrgKind, level: Level, parent: str | None,
               compiler: str, reviewer: str, *extra: tuple[str, str]) -> Org:
    members = ((compiler, "catalog_compiler"), (reviewer, "catalog_reviewer"), *extra)
    return Org(code, name, kind, level, parent, members)


D, AU, CB, CO = OrgKind.DIVISION, OrgKind.AFFILIATED_UNIT, OrgKind.CITY_BUREAU, OrgKind.COUNTY_BUREAU
PD, MG, SU = OrgKind.PROVINCIAL_DEPARTMENT, OrgKind.MUNICIPAL_GOVERNMENT, OrgKind.SERVICE_UNIT
P, C, X = Level.PROVINCE, Level.CITY, Level.COUNTY

OFFICE_MEMBERS: tuple[tuple[str, str], ...] = (
    ("刘振华", "office_admin"),
    ("陈静", "auditor"),
    ("sx-exchange-platform", "platform"),
)

ORGANIZATIONS: tuple[Org, ...] = (
    # 业务处室 (divisions of the Provincial Department)
    _compiling("sx-mz-div-relief", "社会救助处", D, P, "office", "张丽娟", "李建国", ("白雪", "requester")),
    _compiling("sx-mz-div-elderly", "养老服务处", D, P, "office", "王海燕", "赵志强", ("郑晓光", "requester")),
    _compiling("sx-mz-div-children", "儿童福利处", D, P, "office", "刘晓梅", "陈国平", ("方丽", "requester")),
    _compiling("sx-mz-div-ngo", "社会组织管理局", D, P, "office", "杨帆", "黄卫东"),
    _compiling("sx-mz-div-zoning", "区划地名处", D, P, "office", "周文博", "吴秀兰"),
    _compiling("sx-mz-div-affairs", "社会事务处（婚姻登记、殡葬管理、残疾人福利）", D, P, "office", "徐明", "孙桂芳", ("邓超然", "requester")),
    _compiling("sx-mz-div-charity", "慈善事业促进和社会工作处", D, P, "office", "马晓东", "朱红霞", ("许文", "requester")),
    _compiling("sx-mz-div-finance", "规划财务处", D, P, "office", "胡雪", "郭振宇", ("傅强", "requester")),
    _compiling("sx-mz-div-policy", "政策法规处", D, P, "office", "林涛", "何雅琴", ("沈晓雯", "requester")),
    # 直属单位 (affiliated units)
    _compiling("sx-mz-unit-info", "陕西省民政厅信息中心", AU, P, "office", "高鹏", "罗婷", ("梁宇", "system_manager"),
               ("夏明远", "requester")),
    _compiling("sx-mz-unit-welfare", "陕西省社会福利院", AU, P, "office", "宋佳", "唐国强", ("薛梅", "requester")),
    _compiling("sx-mz-unit-rescue", "陕西省救助管理站", AU, P, "office", "韩磊", "冯淑珍", ("侯建军", "requester")),
    # 设区市民政局 (the ten prefecture-level cities)
    _compiling("sx-mz-city-xa", "西安市民政局", CB, C, None, "曹静", "彭立新", ("龙飞", "requester")),
    _compiling("sx-mz-city-tc", "铜川市民政局", CB, C, None, "曾小燕", "萧军", ("段丽萍", "requester")),
    _compiling("sx-mz-city-bj", "宝鸡市民政局", CB, C, None, "田蕊", "董建军", ("贾文静", "requester")),
    _compiling("sx-mz-city-xy", "咸阳市民政局", CB, C, None, "袁媛", "潘志刚", ("雷鸣", "requester")),
    _compiling("sx-mz-city-wn", "渭南市民政局", CB, C, None, "蒋雯", "蔡永胜", ("黎红", "requester")),
    _compiling("sx-mz-city-ya", "延安市民政局", CB, C, None, "余晨", "杜海波", ("史国栋", "requester")),
    _compiling("sx-mz-city-hz", "汉中市民政局", CB, C, None, "叶青", "程思远", ("陶然", "requester")),
    _compiling("sx-mz-city-yl", "榆林市民政局", CB, C, None, "苏敏", "魏宏伟", ("贺军", "requester")),
    _compiling("sx-mz-city-ak", "安康市民政局", CB, C, None, "吕倩", "丁卫国", ("顾晓丽", "requester")),
    _compiling("sx-mz-city-sl", "商洛市民政局", CB, C, None, "任娜", "沈德明", ("邱玲", "requester")),
    # 县（市、区）民政局
    _compiling("sx-mz-county-xa-yanta", "西安市雁塔区民政局", CO, X, "sx-mz-city-xa", "姚琳", "卢建平", ("孔祥瑞", "requester")),
    _compiling("sx-mz-county-xa-changan", "西安市长安区民政局", CO, X, "sx-mz-city-xa", "姜楠", "崔振华", ("常涛", "requester")),
    _compiling("sx-mz-county-bj-fengxiang", "宝鸡市凤翔区民政局", CO, X, "sx-mz-city-bj", "钟颖", "谭国庆", ("武娟", "requester")),
    _compiling("sx-mz-county-hz-chenggu", "汉中市城固县民政局", CO, X, "sx-mz-city-hz", "邹敏", "熊建华", ("康宁", "requester")),
    _compiling("sx-mz-county-yl-shenmu", "神木市民政局", CO, X, "sx-mz-city-yl", "陆婷", "汪海军", ("严俊", "requester")),
    _compiling("sx-mz-county-ak-ziyang", "安康市紫阳县民政局", CO, X, "sx-mz-city-ak", "范雪", "金永红", ("尹明", "requester")),
    _compiling("sx-mz-county-sl-zhashui", "商洛市柞水县民政局", CO, X, "sx-mz-city-sl", "石静", "廖志勇", ("易红", "requester")),
    # 其他省级部门: they request civil-affairs data; four also catalog data they exchange with civil affairs
    _compiling("sx-dept-police", "陕西省公安厅", PD, P, None, "赵刚", "钱伟", ("王磊", "requester")),
    _compiling("sx-dept-hrss", "陕西省人力资源和社会保障厅", PD, P, None, "孙立", "周红梅", ("李娜", "requester")),
    _compiling("sx-dept-health", "陕西省卫生健康委员会", PD, P, None, "吴倩", "郑海涛", ("张敏", "requester")),
    _compiling("sx-dept-dpf", "陕西省残疾人联合会", PD, P, None, "冯丽", "陈晓峰", ("刘洋", "requester")),
    Org("sx-dept-edu", "陕西省教育厅", PD, P, None, (("赵婷", "requester"),)),
    # 设区市政府: may not apply to the Provincial Department directly (SHR-3)
    Org("sx-gov-xa", "西安市人民政府", MG, C, None, (("孙浩", "requester"),)),
    # 技术支持单位: acts for the Information Centre under a dated authorisation (ORG-2)
    Org("sx-svc-qinyun", "陕西秦云数据技术服务有限公司（技术支持单位）", SU, P, "office",
        (("邵斌", "operator"), ("毛俊", "maintainer"))),
)

@dataclass(frozen=True)
class ServiceGrant:
    """A dated authorisation given by the served organization's system manager (ORG-2)."""

    unit: str
    serves: str
    grantor: str
    grantor_role: str
    valid_from: date
    valid_to: date
    scope: str


SERVICE_AUTHORISATION = ServiceGrant(
    unit="sx-svc-qinyun", serves="sx-mz-unit-info", grantor="梁宇", grantor_role="system_manager",
    valid_from=date(2026, 1, 1), valid_to=date(2027, 12, 31),
    scope="民政一体化平台运行维护、目录数据维护技术支持（不含数据查询与导出）",
)

# -- data items ------------------------------------------------------------------------------

COMMON_ITEMS: dict[str, tuple[str, str, str]] = {
    "XM": ("姓名", "string", "sensitive"),
    "SFZH": ("公民身份号码", "string", "sensitive"),
    "XB": ("性别", "code", "internal"),
    "CSRQ": ("出生日期", "date", "sensitive"),
    "XZQH": ("行政区划代码", "string", "public"),
    "HJDZ": ("户籍地址", "string", "sensitive"),
    "LXDH": ("联系电话", "string", "sensitive"),
    "TYSHXYDM": ("统一社会信用代码", "string", "public"),
    "JGMC": ("机构名称", "string", "public"),
    "FDDBR": ("法定代表人", "string", "public"),
    "DJRQ": ("登记日期", "date", "public"),
    "FFYF": ("发放年月", "string", "internal"),
    "FFJE": ("发放金额（元）", "decimal", "internal"),
    "CWS": ("床位数", "integer", "public"),
}


# -- catalog entries -------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """One demo entry and the path it takes through the lifecycle (`flow`)."""

    code: str
    org: str
    name: str
    category: str
    summary: str
    prefix: str
    items: str
    share: tuple[str, str | None]
    open: tuple[str, str | None]
    via: str
    cycle: str
    system: str
    flow: str = "published"
    comment: tuple[str, str] | None = None   # returned / fixed: the failed check and its comment
    extra: str | None = None                 # fixed / revising: the data item the new content adds
    stage: str = "drafted"                   # revising: how far the new version has got
    reason: str | None = None                # retired
    dup: str | None = None                   # CAT-5: justification for re-collecting the `=CODE` item


FLOWS = ("drafted", "submitted", "returned", "approved", "published", "fixed", "stale", "revising", "retired")

U: tuple[str, str | None] = ("unconditional", None)
OPEN: tuple[str, str | None] = ("open", None)
CLOSED: tuple[str, str | None] = ("closed", None)


def R(conditions: str) -> tuple[str, str | None]:
    return ("restricted", conditions)


def N(legal_basis: str) -> tuple[str, str | None]:
    return ("not_shareable", legal_basis)


def COND(conditions: str) -> tuple[str, str | None]:
    return ("conditional", conditions)


REL, ELD, CHI, NGO = "sx-mz-div-relief", "sx-mz-div-elderly", "sx-mz-div-children", "sx-mz-div-ngo"
ZON, AFF, CHA, FIN = "sx-mz-div-zoning", "sx-mz-div-affairs", "sx-mz-div-charity", "sx-mz-div-finance"
POL, INF, WEL, RES = "sx-mz-div-policy", "sx-mz-unit-info", "sx-mz-unit-welfare", "sx-mz-unit-rescue"

SJ = "陕西省社会救助信息系统"
YL = "全国养老服务信息系统（陕西）"
ET = "全国儿童福利信息系统（陕西）"
ZZ = "全国社会组织信用信息公示平台（陕西）"
HY = "全国婚姻登记信息系统（陕西）"
BZ = "全国殡葬管理信息系统（陕西）"
CJ = "全国残疾人两项补贴信息系统（陕西）"
DM = "国家地名信息库（陕西）"
YT = "陕西省民政一体化平台"

R_RELIEF = R("限医保、教育、住建、人社等部门用于救助政策衔接和身份核验；按次申请，前置机或接口逐条比对，不提供批量导出")
R_CHILD = R("仅限教育、卫健、医保等部门用于儿童福利政策落实；不得公开，不得转交第三方")
R_DISAB = R("限残联、医保、人社部门用于残疾人政策衔接；数据不出共享交换平台前置机")
R_POLICE = R("限民政、人社、卫健部门依法履职时逐人核验户籍状况；接口或前置机比对，不提供批量数据")
R_HRSS = R("限民政、医保、税务部门用于社会救助和福利待遇资格核对；按次申请，接口逐条比对")
R_HEALTH = R("限民政、公安、人社部门用于儿童福利、殡葬管理和待遇停发；按次申请，不得转交第三方")
N_CHECK = N("《社会救助暂行办法》第五十九条、《个人信息保护法》第二十八条：家庭经济状况核对所获信息仅用于救助审核确认")
N_MINOR = N("《未成年人保护法》第七十二条、《个人信息保护法》第三十一条：未成年人个人信息严格限定处理目的与范围")
N_ADOPT = N("《民法典》第一千一百一十条：收养人、送养人要求保守收养秘密的，其他人应当尊重其意愿，不得泄露")
N_SECURE = N("《网络安全法》第二十一条、《陕西省民政数据资源管理暂行办法》第三十四条：账号与权限信息属安全防护数据")

ENTRIES: tuple[Entry, ...] = (
    # 社会救助处
    Entry("610000-SHJZ-001", REL, "城乡最低生活保障对象信息", "社会救助", "全省城乡低保对象家庭的认定、保障人口与月保障金额。",
          "DBDX", "XM SFZH XB XZQH JTBH:低保家庭编号 BZLB:保障类别:code BZRK:保障人口数:integer YBZJ:月保障金额（元）:decimal",
          R_RELIEF, CLOSED, "IF FE", "monthly", SJ),
    Entry("610000-SHJZ-002", REL, "特困人员救助供养信息", "社会救助", "全省特困人员的认定、供养形式、自理能力与供养标准。",
          "TKRY", "XM SFZH XZQH GYXS:供养形式:code ZLNL:生活自理能力:code JBBZ:基本生活标准（元/月）:decimal HLBZ:照料护理标准（元/月）:decimal",
          R_RELIEF, CLOSED, "IF FE", "monthly", SJ, flow="revising", extra="GYJG:集中供养机构名称"),
    Entry("610000-SHJZ-003", REL, "临时救助信息", "社会救助", "临时救助对象、救助类型、金额与日期。",
          "LSJZ", "XM SFZH XZQH JZLX:救助类型:code JZJE:救助金额（元）:decimal JZRQ:救助日期:date",
          R_RELIEF, CLOSED, "IF", "monthly", SJ, flow="fixed",
          comment=("completeness", "缺少“申请事由”数据项，无法支撑“救急难”专项统计，请补充后重新报送。"), extra="SQSY:申请事由"),
    Entry("610000-SHJZ-004", REL, "低收入人口动态监测信息", "社会救助", "低收入人口类型、监测预警类型与处置状态。",
          "DSR", "XM SFZH XZQH RKLX:低收入人口类型:code YJLX:预警类型:code YJRQ:预警日期:date CZZT:处置状态:code",
          R_RELIEF, CLOSED, "FE IF", "daily", "全国低收入人口动态监测信息平台（陕西）"),
    Entry("610000-SHJZ-005", REL, "社会救助家庭经济状况核对结果", "社会救助", "核对报告编号、核对日期与家庭收入财产核对结论。",
          "HDJG", "SFZH HDBH:核对报告编号 HDRQ:核对日期:date JTNSR:家庭年收入（元）:decimal:sensitive HDJL:核对结论:code",
          N_CHECK, CLOSED, "", "monthly", "陕西省居民家庭经济状况核对信息系统"),
    Entry("610000-SHJZ-006", REL, "城乡低保和特困人员救助供养标准", "社会救助", "各市县现行城乡低保标准与特困人员基本生活标准。",
          "JZBZ", "XZQH CSBZ:城市低保标准（元/月）:decimal:public NCBZ:农村低保标准（元/年）:decimal:public TKBZ:特困人员基本生活标准（元/月）:decimal:public ZXRQ:执行日期:date:public",
          U, OPEN, "BD OQ", "yearly", SJ),
    Entry("610000-SHJZ-007", REL, "社会救助资金发放汇总", "社会救助", "按县区、月份汇总的低保、特困、临时救助资金支出。",
          "ZJHZ", "XZQH TJYF:统计年月 DBZJ:低保资金（万元）:decimal TKZJ:特困供养资金（万元）:decimal LSZJ:临时救助资金（万元）:decimal",
          U, COND("经申请用于学术研究和公共政策分析；汇总至县级，不含个人信息"), "BD", "quarterly", SJ, flow="submitted"),
    Entry("610000-SHJZ-008", REL, "支出型困难家庭认定信息", "社会救助", "因病因学等刚性支出导致生活困难家庭的认定信息。",
          "ZCX", "XM SFZH XZQH ZCLX:刚性支出类型:code ZCJE:年度刚性支出（元）:decimal RDRQ:认定日期:date",
          R_RELIEF, CLOSED, "IF", "monthly", SJ, flow="drafted"),
    # 养老服务处
    Entry("610000-YLFW-001", ELD, "养老机构基本信息", "养老服务", "全省备案养老机构的性质、床位与护理型床位。",
          "YLJG", "TYSHXYDM JGMC XZQH JGXZ:机构性质:code CWS HLCW:护理型床位数:integer:public BARQ:备案日期:date:public",
          U, OPEN, "IF OQ BD", "monthly", YL),
    Entry("610000-YLFW-002", ELD, "高龄老人津贴发放信息", "养老服务", "80周岁以上老年人高龄津贴的发放对象、标准与金额。",
          "GLJT", "XM SFZH XZQH NLD:年龄段:code BTBZ:补贴标准（元/月）:decimal FFYF FFJE",
          R("限人社、卫健部门用于老年人待遇核验；接口逐条比对"), CLOSED, "IF", "monthly", YL, flow="stale"),
    Entry("610000-YLFW-003", ELD, "经济困难老年人能力评估信息", "养老服务", "经济困难的高龄、失能老年人能力评估等级与评估机构。",
          "NLPG", "XM SFZH PGDJ:能力等级:code PGRQ:评估日期:date PGJG:评估机构",
          R("限卫健、医保部门用于长期照护衔接；按次申请"), CLOSED, "FE", "quarterly", YL, flow="returned",
          comment=("completeness", "未注明所用评估标准（GB/T 42195-2022）版本，评估等级代码表缺失。")),
    Entry("610000-YLFW-004", ELD, "居家社区养老服务设施信息", "养老服务", "社区养老服务站、日间照料中心等设施及运营状态。",
          "SQSS", "SSMC:设施名称:string:public XZQH SSLX:设施类型:code JZMJ:建筑面积（平方米）:decimal:public YYZT:运营状态:code",
          U, OPEN, "OQ BD", "quarterly", YL),
    Entry("610000-YLFW-005", ELD, "养老服务补贴发放信息", "养老服务", "经济困难老年人养老服务补贴与护理补贴发放。",
          "YLBT", "XM SFZH XZQH BTLX:补贴类型:code FFYF FFJE",
          R("限财政、审计部门用于资金监管；按次申请"), CLOSED, "IF", "monthly", YL, flow="approved"),
    Entry("610000-YLFW-006", ELD, "农村互助幸福院信息", "养老服务", "农村互助幸福院名称、所在村与服务人数。",
          "XFY", "YMC:幸福院名称:string:public XZQH FWRS:服务人数:integer:public",
          U, OPEN, "BD", "yearly", YL, flow="retired",
          reason="农村互助幸福院已纳入“居家社区养老服务设施信息”（610000-YLFW-004）统一编目，本目录停止维护。"),
    Entry("610000-YLFW-007", ELD, "养老机构等级评定结果", "养老服务", "养老机构等级评定的等级、评定日期与有效期。",
          "DJPD", "TYSHXYDM JGMC PDDJ:评定等级:code:public PDRQ:评定日期:date:public YXQZ:有效期至:date:public",
          U, OPEN, "OQ", "yearly", YL),
    # 儿童福利处
    Entry("610000-ETFL-001", CHI, "孤儿基本生活保障信息", "儿童福利", "集中养育和社会散居孤儿的安置方式与保障金额。",
          "GE", "XM SFZH XB CSRQ XZQH AZLX:安置类型:code BZJE:月保障金额（元）:decimal",
          R_CHILD, CLOSED, "IF FE", "monthly", ET),
    Entry("610000-ETFL-002", CHI, "事实无人抚养儿童信息", "儿童福利", "事实无人抚养儿童的认定情形、监护与保障信息。",
          "SSWR", "XM SFZH CSRQ XZQH RDQX:认定情形:code JHRXM:监护人姓名:string:sensitive BZJE:月保障金额（元）:decimal",
          R_CHILD, CLOSED, "IF", "monthly", ET, flow="revising", extra="JHRLX:监护人联系电话:string:sensitive", stage="submitted"),
    Entry("610000-ETFL-003", CHI, "农村留守儿童和困境儿童关爱服务信息", "儿童福利", "留守、困境儿童的监护类型、困境类型与帮扶措施。",
          "LSET", "XM SFZH XZQH JHLX:监护类型:code KJLX:困境类型:code BFCS:帮扶措施:string:sensitive",
          N_MINOR, CLOSED, "", "quarterly", ET),
    Entry("610000-ETFL-004", CHI, "儿童福利机构信息", "儿童福利", "儿童福利机构和未成年人救助保护机构基本信息。",
          "ETJG", "TYSHXYDM JGMC XZQH JGLX:机构类型:code:public CWS",
          U, OPEN, "OQ BD", "yearly", ET),
    Entry("610000-ETFL-005", CHI, "收养登记信息", "儿童福利", "收养登记的当事人、登记日期与登记机关。",
          "SYDJ", "SYRXM:收养人姓名:string:sensitive SYRSFZH:收养人公民身份号码:string:sensitive BSYRXM:被收养人姓名:string:sensitive DJRQ:登记日期:date DJJG:登记机关",
          N_ADOPT, CLOSED, "", "monthly", ET),
    Entry("610000-ETFL-006", CHI, "儿童督导员和儿童主任名册", "儿童福利", "乡镇儿童督导员、村（居）儿童主任名册。",
          "ETZR", "XM XZQH ZW:职务:code LXDH",
          U, COND("公开姓名与服务村（社区），联系电话仅向服务对象提供"), "OQ", "yearly", ET, flow="drafted"),
    # 社会组织管理局
    Entry("610000-SHZZ-001", NGO, "社会团体法人登记信息", "社会组织", "省级登记社会团体的名称、住所、业务主管单位与状态。",
          "STDJ", "TYSHXYDM JGMC FDDBR ZS:住所:string:public YWZG:业务主管单位:string:public ZCZJ:注册资金（万元）:decimal:public DJRQ DJZT:登记状态:code:public",
          U, OPEN, "IF OQ BD", "daily", ZZ),
    Entry("610000-SHZZ-002", NGO, "社会服务机构登记信息", "社会组织", "省级登记社会服务机构（民办非企业单位）登记信息。",
          "MFDJ", "TYSHXYDM JGMC FDDBR ZS:住所:string:public KBZJ:开办资金（万元）:decimal:public DJRQ DJZT:登记状态:code:public",
          U, OPEN, "IF OQ", "daily", ZZ),
    Entry("610000-SHZZ-003", NGO, "基金会登记信息", "社会组织", "省级登记基金会的原始基金、理事长与登记状态。",
          "JJH", "TYSHXYDM JGMC FDDBR YSJJ:原始基金（万元）:decimal:public DJRQ",
          U, OPEN, "IF OQ", "monthly", ZZ),
    Entry("610000-SHZZ-004", NGO, "社会组织年度检查结果", "社会组织", "社会组织年度检查年度与结论。",
          "NJJG", "TYSHXYDM JGMC JCND:检查年度:string:public JCJL:检查结论:code:public",
          U, OPEN, "BD", "yearly", ZZ),
    Entry("610000-SHZZ-005", NGO, "社会组织活动异常名录和严重违法失信名单", "社会组织", "列入活动异常名录或严重违法失信名单的社会组织。",
          "YCML", "TYSHXYDM JGMC LRYY:列入原因:string:public LRRQ:列入日期:date:public ZCJG:作出决定机关:string:public",
          U, OPEN, "IF OQ", "daily", ZZ, flow="stale"),
    Entry("610000-SHZZ-006", NGO, "社会组织行政处罚信息", "社会组织", "对社会组织作出的行政处罚决定。",
          "XZCF", "TYSHXYDM JGMC CFJDSH:处罚决定书文号:string:public CFNR:处罚内容:string:public CFRQ:处罚日期:date:public",
          U, COND("按《社会组织信用信息管理办法》在公示期内开放"), "OQ", "weekly", ZZ, flow="returned",
          comment=("compliance", "未标注处罚信息公示期限，开放条件与《社会组织信用信息管理办法》第十八条不一致。")),
    Entry("610000-SHZZ-007", NGO, "社会组织负责人信息", "社会组织", "社会组织法定代表人、负责人任职信息。",
          "FZR", "XM SFZH JGMC ZW:职务:code RZRQ:任职日期:date",
          R("限组织、纪检监察部门用于干部兼职核查；按次申请"), CLOSED, "OQ", "monthly", ZZ, flow="submitted"),
    # 区划地名处
    Entry("610000-QHDM-001", ZON, "行政区划代码及名称", "区划地名", "全省县级以上行政区划代码、名称及上级区划。",
          "QHDM", "DM:区划代码:string:public MC:区划名称:string:public SJDM:上级区划代码:string:public JB:区划级别:code:public BGRQ:变更日期:date:public",
          U, OPEN, "IF OQ BD", "yearly", "全国行政区划信息查询平台"),
    Entry("610000-QHDM-002", ZON, "地名信息", "区划地名", "标准地名、类别、罗马字母拼写、含义与位置。",
          "DMXX", "DMDM:地名代码:string:public BZMC:标准名称:string:public DMLB:地名类别:code:public LMPX:罗马字母拼写:string:public ZXJD:中心点经度:decimal:public ZXWD:中心点纬度:decimal:public DMHY:地名含义:string:public",
          U, OPEN, "IF OQ BD", "quarterly", DM),
    Entry("610000-QHDM-003", ZON, "行政区域界线信息", "区划地名", "省、市、县级行政区域界线及界桩管理信息。",
          "JXXX", "JXMC:界线名称:string:public JXCD:界线长度（千米）:decimal:public JZSL:界桩数量:integer:public KJRQ:勘界日期:date:public",
          U, COND("界线坐标按测绘成果管理规定申请使用；公开界线名称、长度和界桩数量"), "BD", "yearly", DM,
          flow="revising", extra="LJND:最近联合检查年度:string:public", stage="approved"),
    Entry("610000-QHDM-004", ZON, "乡镇（街道）行政区划调整信息", "区划地名", "乡镇、街道设立、撤销、更名与驻地迁移。",
          "XZTZ", "TZLX:调整类型:code:public TZQMC:调整前名称:string:public TZHMC:调整后名称:string:public PZWH:批准文号:string:public PZRQ:批准日期:date:public",
          U, OPEN, "BD", "quarterly", "全国行政区划信息查询平台"),
    Entry("610000-QHDM-005", ZON, "门楼牌地址信息", "区划地名", "城乡门楼牌编码与标准地址。",
          "MLP", "MLPBM:门楼牌编码:string:public BZDZ:标准地址:string:public SSJLX:所属街路巷:string:public",
          U, OPEN, "IF", "quarterly", DM, flow="drafted"),
    # 社会事务处
    Entry("610000-HYDJ-001", AFF, "婚姻登记信息", "婚姻登记", "结婚、离婚、补领登记的当事人、类型、日期与登记机关。",
          "HYDJ", "NFXM:男方姓名:string:sensitive NFSFZH:男方公民身份号码:string:sensitive NVXM:女方姓名:string:sensitive NVSFZH:女方公民身份号码:string:sensitive DJLX:登记类型:code DJRQ DJJG:登记机关 ZSZH:证书字号",
          R("限公安、人社、法院、不动产登记等部门依法办理业务时逐人核验婚姻状况；联机查询，不提供批量数据"), CLOSED, "OQ IF", "realtime", HY),
    Entry("610000-HYDJ-002", AFF, "婚姻登记机关信息", "婚姻登记", "婚姻登记机关名称、地址、办公时间与咨询电话。",
          "HYJG", "JGMC XZQH BGDZ:办公地址:string:public BGSJ:办公时间:string:public ZXDH:咨询电话:string:public",
          U, OPEN, "OQ BD", "yearly", HY),
    Entry("610000-BZGL-001", AFF, "殡葬服务机构信息", "殡葬管理", "殡仪馆、公墓、殡仪服务站及其服务项目与收费标准。",
          "BZJG", "TYSHXYDM JGMC JGLX:机构类型:code:public XZQH FWXM:服务项目:string:public SFBZ:收费标准:string:public",
          U, OPEN, "OQ BD", "quarterly", BZ),
    Entry("610000-BZGL-002", AFF, "火化信息", "殡葬管理", "遗体火化的逝者身份、死亡日期、火化日期与火化机构。",
          "HH", "XM SFZH SWRQ:死亡日期:date HHRQ:火化日期:date HHJG:火化机构",
          R("限人社、医保、公安部门用于待遇停发和户籍注销；按次申请，接口逐条比对"), CLOSED, "IF FE", "daily", BZ),
    Entry("610000-BZGL-003", AFF, "惠民殡葬补贴发放信息", "殡葬管理", "基本殡葬服务费用减免与补贴发放。",
          "HMBZ", "XM SFZH XZQH BTXM:补贴项目:code FFJE",
          R("限财政、审计部门用于资金监管"), CLOSED, "IF", "monthly", BZ, flow="approved"),
    Entry("610000-CJFL-001", AFF, "困难残疾人生活补贴发放信息", "残疾人福利", "困难残疾人生活补贴的对象、残疾类别等级与发放金额。",
          "KNBT", "XM SFZH CJZH:残疾人证号:string:sensitive CJLB:残疾类别:code CJDJ:残疾等级:code BTBZ:补贴标准（元/月）:decimal FFYF FFJE",
          R_DISAB, CLOSED, "FE IF", "monthly", CJ),
    Entry("610000-CJFL-002", AFF, "重度残疾人护理补贴发放信息", "残疾人福利", "重度残疾人护理补贴的对象、护理类型与发放金额。",
          "HLBT", "XM SFZH CJZH:残疾人证号:string:sensitive HLLX:护理类型:code BTBZ:补贴标准（元/月）:decimal FFYF FFJE",
          R_DISAB, CLOSED, "FE IF", "monthly", CJ),
    Entry("610000-CJFL-003", AFF, "精神障碍社区康复服务机构信息", "残疾人福利", "精神障碍社区康复服务机构及服务能力。",
          "JSKF", "TYSHXYDM JGMC XZQH FWNL:服务能力（人）:integer:public",
          U, OPEN, "OQ", "yearly", YT, flow="submitted"),
    # 慈善事业促进和社会工作处
    Entry("610000-CSSG-001", CHA, "慈善组织认定信息", "慈善社工", "慈善组织认定日期、公开募捐资格与登记管理机关。",
          "CSZZ", "TYSHXYDM JGMC RDRQ:认定日期:date:public GMZG:公开募捐资格:boolean:public DJGL:登记管理机关:string:public",
          U, OPEN, "IF OQ BD", "monthly", "慈善中国（陕西）"),
    Entry("610000-CSSG-002", CHA, "公开募捐方案备案信息", "慈善社工", "公开募捐方案的备案编号、目的、起止日期与方式。",
          "MJBA", "BABH:备案编号:string:public JGMC MJMD:募捐目的:string:public QZRQ:起止日期:string:public MJFS:募捐方式:code:public",
          U, OPEN, "OQ", "weekly", "慈善中国（陕西）", flow="stale"),
    Entry("610000-CSSG-003", CHA, "慈善信托备案信息", "慈善社工", "慈善信托名称、委托人、受托人与财产规模。",
          "CSXT", "XTMC:信托名称:string:public WTR:委托人:string:public STR:受托人:string:public CCGM:信托财产规模（万元）:decimal:public BARQ:备案日期:date:public",
          U, OPEN, "OQ", "monthly", "慈善中国（陕西）"),
    Entry("610000-CSSG-004", CHA, "持证社会工作者信息", "慈善社工", "取得社会工作者职业资格证书人员的等级与工作单位。",
          "SGZ", "XM SFZH ZSBH:证书编号 ZSDJ:证书等级:code GZDW:工作单位",
          R("限人社部门用于社会工作岗位资格核验与人才统计；联机查询"), CLOSED, "OQ", "quarterly", YT),
    Entry("610000-CSSG-005", CHA, "志愿服务组织信息", "慈善社工", "志愿服务组织名称、服务领域与注册志愿者数。",
          "ZYZZ", "JGMC FWLY:服务领域:string:public ZYZS:注册志愿者数:integer:public",
          U, OPEN, "BD", "quarterly", "全国志愿服务信息系统（陕西）"),
    # 规划财务处
    Entry("610000-GHCW-001", FIN, "民政事业统计季报数据", "规划财务", "按县区汇总的民政服务机构、床位与社会组织数量。",
          "TJJB", "XZQH TJQ:统计期:string:public JGSL:民政服务机构数:integer:public CWZS:床位总数:integer:public ZZSL:社会组织数:integer:public",
          U, OPEN, "BD", "quarterly", "民政统计信息系统"),
    Entry("610000-GHCW-002", FIN, "福利彩票公益金使用信息", "规划财务", "省级福彩公益金资助项目、资金来源与支出。",
          "GYJ", "XMMC:项目名称:string:public ZJLY:资金来源:code:public ZCJE:支出金额（万元）:decimal:public ZXND:执行年度:string:public",
          U, COND("按《彩票公益金管理办法》年度公告内容开放；项目明细经申请提供"), "BD", "yearly", "民政财务管理系统"),
    Entry("610000-GHCW-003", FIN, "民政部门预算执行信息", "规划财务", "省级民政部门预算指标、支出进度与结余。",
          "YSZX", "YSKM:预算科目:string YSZB:预算指标（万元）:decimal ZCJD:支出进度:decimal",
          R("限财政、审计部门用于预算监督"), CLOSED, "BD", "quarterly", "民政财务管理系统", flow="approved"),
    # 政策法规处
    Entry("610000-ZCFG-001", POL, "民政行政许可事项目录", "政策法规", "民政行政许可事项名称、设定依据、实施主体与时限。",
          "XZXK", "SXBM:事项编码:string:public SXMC:事项名称:string:public SDYJ:设定依据:string:public SSZT:实施主体:string:public BLSX:办理时限（工作日）:integer:public",
          U, OPEN, "OQ BD", "yearly", YT),
    Entry("610000-ZCFG-002", POL, "民政行政执法人员信息", "政策法规", "民政行政执法人员执法证号、执法领域与所属单位。",
          "ZFRY", "XM ZFZH:执法证号 ZFLY:执法领域:code SSDW:所属单位",
          U, COND("公开姓名、执法证号和执法领域，供公众核验执法身份"), "OQ", "yearly", YT),
    # 直属单位
    Entry("610000-XXH-001", INF, "民政一体化平台用户及权限信息", "信息化", "平台用户、所属机构、角色权限与账号状态。",
          "YHQX", "YHBM:用户编码 YHXM:用户姓名:string:sensitive SSJG:所属机构 JSQX:角色权限 ZHZT:账号状态:code",
          N_SECURE, CLOSED, "", "weekly", YT),
    Entry("610000-XXH-002", INF, "民政数据共享交换调用汇总", "信息化", "按日、按接口汇总的调用次数与数据量。",
          "JHRZ", "TJRQ:统计日期:date JKBM:接口编码 DYCS:调用次数:integer SJL:数据量（条）:integer",
          U, CLOSED, "BD", "daily", "陕西省民政数据共享交换平台"),
    Entry("610000-SHFL-001", WEL, "省社会福利院入住老人信息", "社会福利", "入住老人的入住日期、护理等级与服务类型。",
          "RZLR", "XM SFZH RZRQ:入住日期:date HLDJ:护理等级:code FWLX:服务类型:code",
          R("限卫健、医保部门用于医养结合服务衔接；按次申请"), CLOSED, "FE", "monthly", YL),
    Entry("610000-JZGL-001", RES, "流浪乞讨人员救助信息", "救助管理", "受助人员的救助编号、入站与离站信息。",
          "LLQT", "JZBH:救助编号 XM SFZH XB JZRQ:入站日期:date LZFS:离站方式:code",
          R("限公安机关用于身份查询与寻亲比对；接口逐条比对"), CLOSED, "IF OQ", "daily", "全国救助管理信息系统（陕西）"),
    Entry("610000-JZGL-002", RES, "寻亲公告信息", "救助管理", "身份不明受助人员的寻亲公告。",
          "XQGG", "GGBH:公告编号:string:public TZMS:体貌特征:string:public JZRQ:救助日期:date:public JZDD:救助地点:string:public",
          U, OPEN, "OQ", "daily", "全国救助管理信息系统（陕西）"),
    # 设区市和县（市、区）民政局: published by their own reviewers
    Entry("610100-SHJZ-001", "sx-mz-city-xa", "西安市城乡低保家庭成员信息", "社会救助", "西安市低保家庭成员及与户主关系，用于入户核查和动态管理。",
          "XADB", "XM SFZH YHZGX:与户主关系:code XZQH =DBDX_JTBH:低保家庭编号",
          R_RELIEF, CLOSED, "IF", "monthly", "西安市社会救助综合管理平台",
          dup="低保审核确认权限已下放至县区，市级平台需保存低保家庭编号以关联家庭成员、开展入户核查；编号以省级数据为准，每月同步。"),
    Entry("610100-YLFW-001", "sx-mz-city-xa", "西安市养老机构运营补贴信息", "养老服务", "按收住老人数和护理等级核定的运营补贴。",
          "XAYB", "TYSHXYDM JGMC SZRS:收住老人数:integer BTJE:补贴金额（元）:decimal BTND:补贴年度",
          R("限财政、审计部门用于资金监管"), CLOSED, "IF", "quarterly", "西安市智慧养老服务平台"),
    Entry("610100-HYDJ-001", "sx-mz-city-xa", "西安市婚姻登记预约信息", "婚姻登记", "婚姻登记网上预约的日期、时段与登记处。",
          "XAYY", "YYRQ:预约日期:date YYSD:预约时段:code DJC:登记处:string:public YYZT:预约状态:code",
          U, CLOSED, "OQ", "daily", "西安市婚姻登记预约系统", flow="submitted"),
    Entry("610100-QHDM-001", "sx-mz-city-xa", "西安市地名标志设置信息", "区划地名", "道路、街巷地名标志的位置与设置日期。",
          "XABZ", "BZBM:标志编码:string:public DMMC:地名名称:string:public SZWZ:设置位置:string:public SZRQ:设置日期:date:public",
          U, OPEN, "BD", "yearly", "西安市地名信息管理系统", flow="drafted"),
    Entry("610200-BZGL-001", "sx-mz-city-tc", "铜川市公益性公墓信息", "殡葬管理", "公益性公墓名称、位置、墓穴总数与剩余数。",
          "TCGM", "GMMC:公墓名称:string:public XZQH MXZS:墓穴总数:integer:public SYMX:剩余墓穴数:integer:public",
          U, OPEN, "OQ BD", "yearly", BZ),
    Entry("610300-ETFL-001", "sx-mz-city-bj", "宝鸡市困境儿童信息", "儿童福利", "宝鸡市困境儿童类型、监护状况与保障措施。",
          "BJKJ", "XM SFZH XZQH KJLX:困境类型:code BZCS:保障措施:string:sensitive",
          R_CHILD, CLOSED, "IF", "monthly", ET, flow="returned",
          comment=("accuracy", "困境类型代码与省级代码表不一致（“重病重残”应为 03），监护人信息字段缺失。")),
    Entry("610400-SHJZ-001", "sx-mz-city-xy", "咸阳市“救急难”临时救助信息", "社会救助", "急难型临时救助的先行救助与事后补审信息。",
          "XYJJ", "XM SFZH XZQH XXJZ:先行救助:boolean JZJE:救助金额（元）:decimal BSRQ:补审日期:date",
          R_RELIEF, CLOSED, "IF", "monthly", SJ),
    Entry("610500-YLFW-001", "sx-mz-city-wn", "渭南市农村幸福院运营信息", "养老服务", "渭南市农村幸福院运营状态与就餐人数。",
          "WNXF", "YMC:幸福院名称:string:public XZQH YYZT:运营状态:code JCRS:日均就餐人数:integer:public",
          U, OPEN, "BD", "quarterly", YL, flow="retired", reason="已并入渭南市养老服务综合信息平台统一编目，本目录停止更新。"),
    Entry("610600-SHJZ-001", "sx-mz-city-ya", "延安市社会救助“一门受理”申请信息", "社会救助", "乡镇（街道）一门受理、协同办理的救助申请与转办。",
          "YASL", "SQBH:申请编号 XM SFZH SQLX:申请类型:code SLRQ:受理日期:date ZBBM:转办部门",
          R_RELIEF, CLOSED, "IF", "weekly", SJ, flow="stale"),
    Entry("610700-ETFL-001", "sx-mz-city-hz", "汉中市儿童主任名册", "儿童福利", "汉中市村（居）儿童主任姓名与服务村（社区）。",
          "HZZR", "XM XZQH FWCS:服务村（社区）:string:public",
          U, COND("公开姓名与服务村（社区），联系电话仅向服务对象提供"), "OQ", "yearly", ET),
    Entry("610800-CJFL-001", "sx-mz-city-yl", "榆林市残疾人两项补贴发放信息", "残疾人福利", "榆林市困难残疾人生活补贴和重度残疾人护理补贴发放。",
          "YLLX", "XM SFZH BTLX:补贴类型:code FFYF FFJE",
          R_DISAB, CLOSED, "FE", "monthly", CJ),
    Entry("610900-SHJZ-001", "sx-mz-city-ak", "安康市易地搬迁安置点低收入人口信息", "社会救助", "易地扶贫搬迁集中安置点的低收入人口监测信息。",
          "AKBQ", "XM SFZH AZD:安置点:string:internal RKLX:人口类型:code",
          R_RELIEF, CLOSED, "FE", "monthly", "全国低收入人口动态监测信息平台（陕西）", flow="approved"),
    Entry("611000-SHZZ-001", "sx-mz-city-sl", "商洛市社区社会组织备案信息", "社会组织", "社区社会组织名称、服务领域与备案日期。",
          "SLZZ", "JGMC XZQH FWLY:服务领域:string:public BARQ:备案日期:date:public",
          U, OPEN, "OQ BD", "quarterly", ZZ),
    Entry("610113-SHJZ-001", "sx-mz-county-xa-yanta", "雁塔区低保动态管理入户调查信息", "社会救助", "低保家庭入户调查记录与调查结论。",
          "YTDC", "XM SFZH DCRQ:调查日期:date DCR:调查人 DCJL:调查结论:code",
          R_RELIEF, CLOSED, "FE", "monthly", SJ, flow="submitted"),
    Entry("610881-YLFW-001", "sx-mz-county-yl-shenmu", "神木市高龄老人补贴发放信息", "养老服务", "神木市高龄老人补贴发放对象与金额。",
          "SMGL", "XM SFZH NLD:年龄段:code FFYF FFJE",
          R("限人社部门用于老年人待遇核验；接口逐条比对"), CLOSED, "IF", "monthly", YL),
    Entry("610924-ETFL-001", "sx-mz-county-ak-ziyang", "紫阳县留守儿童关爱帮扶信息", "儿童福利", "紫阳县农村留守儿童的监护与帮扶记录。",
          "ZYLS", "XM XZQH JHLX:监护类型:code BFJL:帮扶记录:string:sensitive",
          N_MINOR, CLOSED, "", "quarterly", ET),
    Entry("611026-BZGL-001", "sx-mz-county-sl-zhashui", "柞水县农村公益性公墓信息", "殡葬管理", "柞水县农村公益性公墓的位置与容量。",
          "ZSGM", "GMMC:公墓名称:string:public XZQH MXZS:墓穴总数:integer:public",
          U, OPEN, "BD", "yearly", BZ),
    # 其他省级部门: data civil affairs receives by exchange (第二十三条), published by the Office (CAT-3)
    Entry("610000-GAHJ-001", "sx-dept-police", "常住人口户籍信息", "人口户籍", "常住人口的户籍登记、户口类别与婚姻状况。",
          "GAHJ", "XM SFZH XB CSRQ HJDZ HKLB:户口类别:code HYZK:婚姻状况:code",
          R_POLICE, CLOSED, "IF FE", "daily", "陕西省人口信息管理系统"),
    Entry("610000-GAHJ-002", "sx-dept-police", "户籍注销信息", "人口户籍", "因死亡、出国（境）定居等注销户籍的人员与注销日期。",
          "GAZX", "XM SFZH ZXYY:注销原因:code ZXRQ:注销日期:date",
          R_POLICE, CLOSED, "IF", "daily", "陕西省人口信息管理系统"),
    Entry("610000-RSSB-001", "sx-dept-hrss", "社会保险参保缴费信息", "社会保障", "企业职工和城乡居民社会保险参保险种、状态与缴费基数。",
          "RSCB", "XM SFZH CBXZ:参保险种:code CBZT:参保状态:code JFJS:缴费基数（元）:decimal",
          R_HRSS, CLOSED, "IF", "monthly", "陕西省社会保险信息系统"),
    Entry("610000-RSSB-002", "sx-dept-hrss", "基本养老保险待遇领取信息", "社会保障", "基本养老保险待遇类型、月发放金额与领取状态。",
          "RSDY", "XM SFZH DYLX:待遇类型:code YFJE:月发放金额（元）:decimal LQZT:领取状态:code",
          R_HRSS, CLOSED, "IF FE", "monthly", "陕西省社会保险信息系统"),
    Entry("610000-WJCS-001", "sx-dept-health", "出生医学证明信息", "卫生健康", "新生儿出生医学证明编号、出生日期与父母身份。",
          "WJCS", "CSZBH:出生医学证明编号 XM XB CSRQ MQSFZH:母亲公民身份号码:string:sensitive FQSFZH:父亲公民身份号码:string:sensitive",
          R_HEALTH, CLOSED, "IF", "daily", "陕西省妇幼健康信息系统"),
    Entry("610000-WJSW-001", "sx-dept-health", "居民死亡医学证明信息", "卫生健康", "居民死亡医学证明（推断）书的死亡日期与死亡地点类别。",
          "WJSW", "XM SFZH SWRQ:死亡日期:date SWDD:死亡地点类别:code SWYY:根本死因:code:sensitive",
          R_HEALTH, CLOSED, "IF FE", "daily", "陕西省人口死亡信息登记管理系统"),
    Entry("610000-CLCJ-001", "sx-dept-dpf", "残疾人证信息", "残疾人事业", "第二代残疾人证的证号、残疾类别、等级与发证日期。",
          "CLCJ", "XM SFZH CJZH:残疾人证号:string:sensitive CJLB:残疾类别:code CJDJ:残疾等级:code FZRQ:发证日期:date",
          R("限民政、人社、医保部门用于残疾人福利补贴和社会保障政策落实；前置机或接口逐条比对"), CLOSED, "IF FE", "monthly",
          "全国残疾人人口基础数据库（陕西）"),
    Entry("610000-CLJG-001", "sx-dept-dpf", "残疾人康复和托养服务机构信息", "残疾人事业", "残疾人康复、托养服务机构的服务类型与服务能力。",
          "CLJG", "TYSHXYDM JGMC XZQH FWLX:服务类型:code:public FWNL:服务能力（人）:integer:public",
          U, OPEN, "OQ BD", "yearly", "陕西省残疾人服务信息系统"),
)
