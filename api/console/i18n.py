"""The console's words in Chinese (the default) and English: labels, messages and refusals.

A refusal keeps the API's rule id and article and says the rule's sentence in the chosen
language; the API's own detail (English, the record's language) is shown beside it, folded.
"""

from __future__ import annotations

import re
from typing import Any

LANGS = ("zh-CN", "en")
DEFAULT = "zh-CN"

_T: dict[str, tuple[str, str]] = {
    # frame
    "app": ("数据资源治理台账", "Civic ledger console"),
    "office": ("陕西省民政厅", "Shaanxi Provincial Department of Civil Affairs"),
    "skip": ("跳到正文", "Skip to content"),
    "nav.overview": ("概览", "Overview"),
    "nav.catalog": ("资源目录", "Catalog"),
    "nav.timeline": ("对象时间线", "Timeline"),
    "nav.state": ("历史状态", "State at a date"),
    "nav.grant": ("授权核验", "Grant status"),
    "nav.access": ("应用日志", "Access log"),
    "nav.compliance": ("违规处置", "Compliance"),
    "nav.integrity": ("完整性", "Integrity"),
    "nav.feed": ("实时动态", "Live feed"),
    "signed_in_as": ("当前用户", "Signed in as"),
    "sign_out": ("退出", "Sign out"),
    "lang.switch": ("English", "中文"),
    "footer": ("依据《陕西省民政数据资源管理暂行办法》（陕民发〔2018〕79号）。每项变更均记入不可篡改的台账。",
               "Under the Measures (陕民发〔2018〕79号). Every change is recorded in a tamper-evident ledger."),
    # login
    "login.title": ("登录", "Sign in"),
    "login.lead": ("使用接口令牌登录（与 API 相同的令牌，例如演示数据打印的办公室管理员令牌）。",
                   "Sign in with your API token (the same bearer token the API takes, e.g. the one the demo prints)."),
    "login.token": ("令牌", "Token"),
    "login.submit": ("登录", "Sign in"),
    "login.bad": ("令牌无效或已被吊销。", "The token is unknown or revoked."),
    "login.ended": ("会话已结束，请重新登录。", "Your session has ended; please sign in again."),
    "login.out": ("您已退出。", "You are signed out."),
    "login.needed": ("请先登录。", "Please sign in."),
    # common
    "search": ("查询", "Search"),
    "filter": ("筛选", "Filter"),
    "reset": ("清除", "Clear"),
    "next_page": ("下一页", "Next page"),
    "first_page": ("第一页", "First page"),
    "none": ("无", "None"),
    "any": ("全部", "Any"),
    "position": ("台账位置", "Ledger position"),
    "position_note": ("此答复所依据的台账位置", "The ledger position this answer stands on"),
    "view": ("查看", "View"),
    "timeline": ("时间线", "Timeline"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "count": ("数量", "Count"),
    "organization": ("单位", "Organization"),
    "status": ("状态", "Status"),
    "time": ("时间", "Time"),
    "actor": ("操作人", "Actor"),
    "rules": ("规则", "Rules"),
    "details": ("接口原文", "API detail"),
    "done": ("已完成。", "Done."),
    "error.title": ("操作未完成", "Not done"),
    "beijing": ("北京时间", "Beijing time"),
    "colon": ("：", ": "),
    "semi": ("；", "; "),
    "sep": ("、", ", "),
    "comma": ("，", ", "),
    "csrf.bad": ("表单缺少或带有失效的安全校验码，操作未执行。请刷新页面后重试。",
                 "The form lacks a valid security token, so nothing was done. Reload the page and retry."),
    # overview
    "ov.title": ("概览", "Overview"),
    "ov.head": ("台账头部", "Ledger head"),
    "ov.lag": ("读模型滞后（事件数）", "Projection lag (events)"),
    "ov.store": ("存储", "Store"),
    "ov.open_by_kind": ("未结违规（按情形）", "Open violations by kind"),
    "ov.by_org": ("各单位合规情况", "Compliance by organization"),
    "ov.open": ("未结违规", "Open violations"),
    "ov.candidates": ("待确认", "Candidates"),
    "ov.overdue_entries": ("逾期未更新目录", "Overdue entries"),
    "ov.overdue_objections": ("逾期异议", "Overdue objections"),
    "ov.non_compliant": ("不合规系统", "Non-compliant systems"),
    "ov.queues": ("待办事项", "Work queues"),
    "ov.queue.requests": ("待审核共享申请", "Share requests to review"),
    "ov.queue.entries": ("待审核目录", "Entries awaiting review"),
    "ov.queue.tickets": ("数据维护待办", "Maintenance tickets awaiting you"),
    "ov.queue.batches": ("批量修改待办", "Batch modifications awaiting you"),
    "ov.queue.systems": ("系统审核待办", "System reviews"),
    "ov.queue.objections": ("待答复异议", "Objections to answer"),
    "ov.queue.candidates": ("待确认违规", "Violation candidates to decide"),
    "ov.overdue_list": ("逾期未更新的目录条目", "Overdue catalog entries"),
    "ov.overdue_obj_list": ("逾期未答复的异议", "Overdue objections"),
    "ov.systems_list": ("不合规系统", "Non-compliant systems"),
    "ov.all_clear": ("暂无。", "Nothing."),
    # catalog
    "cat.title": ("数据资源目录", "Catalog"),
    "cat.q": ("关键词（名称、编码、摘要）", "Text (name, code, summary)"),
    "cat.provider": ("提供单位", "Provider"),
    "cat.share_class": ("共享类型", "Share class"),
    "cat.open_class": ("开放类型", "Open class"),
    "cat.code": ("资源编码", "Resource code"),
    "cat.name": ("资源名称", "Resource name"),
    "cat.cycle": ("更新周期", "Update cycle"),
    "cat.published_on": ("发布日期", "Published on"),
    "cat.overdue": ("逾期", "Overdue"),
    "cat.current": ("已发布版本", "Published version"),
    "cat.pending": ("待发布版本", "Pending version"),
    "cat.version": ("版本", "Version"),
    "cat.diff": ("版本差异", "Difference between versions"),
    "cat.diff.none": ("两个版本之间没有差异。", "No difference between the two versions."),
    "cat.field": ("字段", "Field"),
    "cat.before": ("变更前", "Before"),
    "cat.after": ("变更后", "After"),
    "cat.summary": ("摘要", "Summary"),
    "cat.category": ("分类", "Category"),
    "cat.format": ("格式", "Format"),
    "cat.items": ("数据项", "Data items"),
    "cat.item_code": ("数据项编码", "Item code"),
    "cat.item_name": ("名称", "Name"),
    "cat.item_type": ("类型", "Type"),
    "cat.sensitivity": ("敏感级别", "Sensitivity"),
    "cat.methods": ("共享方式", "Delivery methods"),
    "cat.source": ("来源系统", "Source system"),
    "cat.conditions": ("共享条件", "Share conditions"),
    "cat.legal": ("不予共享依据", "Legal basis"),
    "cat.empty": ("没有符合条件的目录条目。", "No entry matches."),
    "cat.compare": ("比较版本", "Compare versions"),
    "cat.grants": ("该条目的授权", "Grants on this entry"),
    "cat.from": ("自版本", "From version"),
    "cat.to": ("至版本", "To version"),
    # timeline
    "tl.title": ("对象时间线", "Timeline of an object"),
    "tl.kind": ("对象类型", "Kind"),
    "tl.id": ("对象编号", "Id"),
    "tl.show": ("显示时间线", "Show the timeline"),
    "tl.event": ("事件", "Event"),
    "tl.changed": ("变化的字段", "Fields that changed"),
    "tl.cause": ("起因", "Cause"),
    "tl.first": ("（创建）", "(created)"),
    "tl.lead": ("选择对象类型并输入编号（单位可输入代码）。", "Pick a kind and give the id (an organization's code works too)."),
    # state
    "st.title": ("某一时刻的状态", "State at a date"),
    "st.at": ("时刻（北京时间）", "Instant (Beijing time)"),
    "st.ask": ("查询", "Ask"),
    "st.lead": ("按记录时间重建当时的目录、授权、系统与违规情况。", "Rebuilds the catalog, grants, systems and violations as recorded by then."),
    "st.catalog": ("当时的目录", "Catalog then"),
    "st.grants": ("当时有效的授权", "Grants in force then"),
    "st.systems": ("当时的系统", "Systems then"),
    "st.violations": ("当时的违规", "Violations then"),
    "st.published": ("已发布", "Published"),
    "st.in_force": ("有效", "In force"),
    "st.live": ("运行中", "Live"),
    "st.open": ("未结", "Open"),
    "st.answer": ("截至 {at}（台账位置 {position}）", "As at {at} (ledger position {position})"),
    "st.bad": ("请输入有效的日期和时间。", "Give a valid date and time."),
    # grants
    "gr.title": ("授权核验", "Grant status"),
    "gr.lead": ("交付前核验：某单位能否以某方式、为某用途获取某目录条目的若干数据项。",
                "Before a delivery: may this holder receive these fields of this entry for this purpose by this method?"),
    "gr.holder": ("使用单位", "Holder"),
    "gr.entry": ("目录条目编号", "Entry id"),
    "gr.fields": ("数据项（逗号分隔）", "Fields (comma-separated)"),
    "gr.purpose": ("用途", "Purpose"),
    "gr.method": ("共享方式", "Method"),
    "gr.at": ("时刻（可选，北京时间）", "Instant (optional, Beijing time)"),
    "gr.check": ("核验", "Check"),
    "gr.allowed": ("允许", "Allowed"),
    "gr.refused": ("拒绝", "Refused"),
    "gr.reasons": ("理由", "Reasons"),
    "gr.grant": ("授权", "Grant"),
    "gr.grant_timeline": ("该授权的时间线", "This grant's timeline"),
    "gr.list": ("授权列表", "Grants"),
    "gr.valid": ("有效期", "Valid"),
    # access log
    "al.title": ("应用日志", "Access log"),
    "al.provider": ("提供单位", "Provider"),
    "al.holder": ("使用单位", "Holder"),
    "al.entry": ("目录条目编号", "Entry id"),
    "al.grant": ("授权编号", "Grant id"),
    "al.outcome": ("结果", "Outcome"),
    "al.from": ("起（北京时间）", "From (Beijing time)"),
    "al.to": ("止（北京时间）", "To (Beijing time)"),
    "al.chart": ("每日访问次数", "Accesses per day"),
    "al.export_csv": ("导出 CSV", "Export CSV"),
    "al.export_jsonl": ("导出 JSON Lines", "Export JSON Lines"),
    "al.records": ("记录数", "Records"),
    "al.allowed": ("允许", "allowed"),
    "al.denied": ("拒绝", "denied"),
    "al.empty": ("没有符合条件的日志。", "No record matches."),
    "al.fields": ("数据项", "Fields"),
    "al.chart_empty": ("所选范围内没有访问。", "No access in the chosen window."),
    # compliance
    "co.title": ("违规处置", "Compliance board"),
    "co.kind": ("违规情形", "Kind"),
    "co.subject": ("涉及单位", "Organization"),
    "co.summary": ("情况", "Summary"),
    "co.evidence": ("证据", "Evidence"),
    "co.raised": ("发现时间", "Raised"),
    "co.open_only": ("仅未结", "Open only"),
    "co.actions": ("处置", "Actions"),
    "co.confirm": ("确认违规", "Confirm"),
    "co.dismiss": ("不予认定", "Dismiss"),
    "co.notice": ("下发整改通知", "Issue notice"),
    "co.report": ("报告整改情况", "Report rectification"),
    "co.accept": ("验收整改", "Accept"),
    "co.escalate": ("升级处理", "Escalate"),
    "co.comment": ("意见", "Comment"),
    "co.reason": ("理由", "Reason"),
    "co.deadline": ("整改期限（北京时间）", "Deadline (Beijing time)"),
    "co.requirements": ("整改要求", "Requirements"),
    "co.report_text": ("整改情况", "Report"),
    "co.stale": ("该记录已被他人修改（版本已变）。请查看最新内容后再操作。",
                 "The case was changed by someone else (its version moved on). Look at it again and retry."),
    "co.done": ("已记录：{action}。", "Recorded: {action}."),
    "co.decision": ("处理结果", "Decision"),
    "co.empty": ("没有符合条件的违规记录。", "No case matches."),
    "co.version": ("版本", "Version"),
    # integrity
    "in.title": ("完整性", "Integrity"),
    "in.latest": ("最新签名检查点", "Latest signed checkpoint"),
    "in.none": ("尚无检查点。", "No checkpoint yet."),
    "in.none_first": ("尚无签名检查点：证明须针对一个检查点，请办公室先签署。",
                      "No signed checkpoint yet: a proof is made against one; the Office signs it first."),
    "in.size": ("树大小", "Tree size"),
    "in.root": ("根哈希", "Root hash"),
    "in.last": ("最后位置", "Last position"),
    "in.chain": ("链哈希", "Chain hash"),
    "in.key": ("密钥标识", "Key id"),
    "in.sign": ("签署新检查点", "Sign a checkpoint now"),
    "in.verify": ("校验整个台账", "Verify the whole ledger"),
    "in.verifying": ("正在校验……", "Verifying…"),
    "in.ok": ("校验通过：{events} 个事件，{checkpoints} 个检查点，均未被篡改。",
              "Verified: {events} events and {checkpoints} checkpoints, nothing altered."),
    "in.broken": ("校验失败：在位置 {position} 发现 {kind}。", "Verification failed: {kind} at position {position}."),
    "in.bundle": ("下载证明包", "Download a proof bundle"),
    "in.bundle_lead": ("证明包含检查点、某一事件的包含性证明和公钥，可用 infrastructure/verifier.py 离线核验：",
                       "One file with a checkpoint, an event's inclusion proof and the public key; check it offline with infrastructure/verifier.py:"),
    "in.bundle_pos": ("事件的台账位置", "Ledger position of the event"),
    "in.download": ("下载", "Download"),
    # feed
    "fd.title": ("实时动态", "Live feed"),
    "fd.lead": ("您有权查看的事件，发生时即显示（服务器推送事件）。", "The events you may see, as they happen (Server-Sent Events)."),
    "fd.waiting": ("等待新事件……", "Waiting for events…"),
    "fd.recent": ("最近事件", "Recent events"),
    "fd.latest": ("最新事件", "Latest events"),
    "fd.earlier": ("更早的事件", "Earlier events"),
    "fd.type": ("类型", "Type"),
    "fd.subject": ("对象", "Subject"),
    "fd.nojs": ("未启用脚本时，请刷新本页查看最新事件。", "Without scripts, reload this page for the latest events."),
}

ENUMS: dict[str, dict[str, tuple[str, str]]] = {
    "status": {
        "drafted": ("草稿", "drafted"), "submitted": ("已提交", "submitted"), "returned": ("已退回", "returned"),
        "approved": ("已通过", "approved"), "published": ("已发布", "published"), "revising": ("修订中", "revising"),
        "retired": ("已停用", "retired"), "reviewed": ("已审核", "reviewed"),
        "active": ("有效", "active"), "suspended": ("暂停", "suspended"), "revoked": ("撤销", "revoked"),
        "expired": ("过期", "expired"), "consumed": ("已使用", "consumed"),
        "candidate": ("待确认", "candidate"), "confirmed": ("已确认", "confirmed"), "dismissed": ("不予认定", "dismissed"),
        "noticed": ("已下发整改通知", "noticed"), "reported": ("已报告整改", "reported"), "rectified": ("已整改", "rectified"),
        "escalated": ("已升级", "escalated"), "open": ("待处理", "open"), "rejected": ("已驳回", "rejected"),
        "implemented": ("已实施", "implemented"), "withdrawn": ("已撤回", "withdrawn"), "live": ("运行中", "live"),
        "proposed": ("已申报", "proposed"), "justified": ("已论证", "justified"), "decommissioned": ("已下线", "decommissioned"),
        "declared": ("已申报", "declared"), "applied": ("已实施", "applied"), "verified": ("已复核", "verified"),
        "sent_back": ("已退回", "sent back"), "requested": ("已申请", "requested"), "closed": ("已结案", "closed"),
    },
    "share_class": {"unconditional": ("无条件共享", "unconditional"), "restricted": ("受限共享", "restricted"),
                    "not_shareable": ("非共享", "not shareable")},
    "open_class": {"open": ("无条件开放", "open"), "conditional": ("有条件开放", "conditional"), "closed": ("不予开放", "closed")},
    "method": {"interface": ("交换接口", "interface"), "front_end_processor": ("前置机", "front-end processor"),
               "online_query": ("联机查询", "online query"), "batch_download": ("批量下载", "batch download")},
    "cycle": {"realtime": ("实时", "real time"), "daily": ("每日", "daily"), "weekly": ("每周", "weekly"),
              "monthly": ("每月", "monthly"), "quarterly": ("每季度", "quarterly"), "yearly": ("每年", "yearly")},
    "grant_kind": {"reusable": ("可复用授权", "reusable"), "single_use": ("按次授权", "single use")},
    "outcome": {"allowed": ("允许", "allowed"), "denied": ("拒绝", "denied")},
    "vio": {"VIO-1": ("VIO-1 目录未按要求编制或更新", "VIO-1 catalog not compiled or updated"),
            "VIO-2": ("VIO-2 数据不一致未及时校核", "VIO-2 inconsistent data not checked"),
            "VIO-3": ("VIO-3 共享数据失控", "VIO-3 shared data out of control"),
            "VIO-4": ("VIO-4 转交第三方或挪作他用", "VIO-4 passed to a third party or misused"),
            "VIO-5": ("VIO-5 其他违反办法的情形", "VIO-5 other breaches")},
    "kind": {"organization": ("单位", "organization"), "catalog-entry": ("目录条目", "catalog entry"),
             "source-index": ("数据源索引", "source index"), "share-request": ("共享申请书", "share request"),
             "implementation-order": ("共享实施单", "implementation order"), "grant": ("授权", "grant"),
             "system": ("政务信息系统", "information system"), "maintenance-ticket": ("数据维护单", "maintenance ticket"),
             "batch-modification": ("批量修改", "batch modification"), "objection": ("异议", "objection"),
             "access-log": ("应用日志批次", "access-log batch"), "violation": ("违规情形", "violation")},
    "sensitivity": {"public": ("公开", "public"), "internal": ("内部", "internal"), "sensitive": ("敏感", "sensitive")},
    "break": {"altered": ("篡改", "an altered event"), "missing": ("缺失", "a missing event"),
              "inserted": ("插入", "an inserted event"), "reordered": ("顺序错乱", "reordered events")},
}

EVENTS_ZH: dict[str, str] = {
    "accepted": "已验收",
    "applied": "已实施",
    "approved": "已批准",
    "candidate_raised": "发现疑似违规",
    "catalog_revised": "项目目录已修订",
    "change_confirmed": "变更已确认",
    "change_declined": "变更未获确认",
    "change_filed": "变更已备案",
    "change_implemented": "变更已实施",
    "compliance_tested": "已完成符合性测试",
    "confirmed": "已确认",
    "connected": "已接入平台",
    "consumed": "已使用",
    "data_refreshed": "数据已更新",
    "declared": "已申报",
    "decommissioned": "已下线",
    "dismissed": "不予认定",
    "draft_revised": "草稿已修改",
    "drafted": "已起草",
    "duplicate_collection_accepted": "重复采集理由已认可",
    "duplicate_source_accepted": "重复数据源已认可",
    "escalated": "已升级处理",
    "executed": "已执行",
    "execution_refused": "执行被拒绝",
    "expired": "已过期",
    "granted": "已授权",
    "issued": "已下发",
    "justification_filed": "已提交论证",
    "notice_issued": "已下发整改通知",
    "opened": "已立案",
    "order_issued": "已下发实施单",
    "proposed": "已申报",
    "published": "已发布",
    "raised": "已提出",
    "recorded": "已记录",
    "rectification_closed": "整改已结束",
    "rectification_ordered": "已责令整改",
    "rectification_reported": "已报告整改",
    "registered": "已登记",
    "registered_existing": "已登记（存量）",
    "rejected": "已驳回",
    "requested": "已申请",
    "resumed": "已恢复",
    "retired": "已停用",
    "reviewed": "已审核",
    "revision_started": "开始修订",
    "revoked": "已撤销",
    "role_assigned": "已授予角色",
    "role_revoked": "已收回角色",
    "sent_back": "已退回",
    "service_authorisation_withdrawn": "服务授权已撤回",
    "service_authorised": "已授权服务单位",
    "sources_claimed": "已登记数据源",
    "sources_released": "已释放数据源",
    "submitted": "已提交",
    "suspended": "已暂停",
    "suspended_for_catalog": "因目录变化暂停",
    "unconfirmed_change_found": "发现未确认的变更",
    "verified": "已复核",
    "went_live": "已上线",
    "withdrawn": "已撤回",
}
"""Event names by their last word (`catalog.entry.drafted`, `Drafted`), in Chinese."""

ROLES: dict[str, tuple[str, str]] = {
    "office_admin": ("办公室管理员", "Office admin"), "catalog_compiler": ("编目人", "catalog compiler"),
    "catalog_reviewer": ("目录审核人", "catalog reviewer"), "system_manager": ("系统管理员", "system manager"),
    "requester": ("申请人", "requester"), "maintainer": ("维护人", "maintainer"), "approver": ("审批人", "approver"),
    "verifier": ("复核人", "verifier"), "operator": ("操作员", "operator"), "platform": ("交换平台", "platform"),
    "auditor": ("审计人员", "auditor"), "integrator": ("集成方", "integrator"),
}

RULES_ZH: dict[str, str] = {
    "ORG-1": "单位及其人员由办公室登记；角色授予单位内的人员。",
    "ORG-2": "技术支持或服务单位仅在有效且注明日期的授权范围内行事。",
    "CAT-1": "目录条目须经准确性、完整性、合规性审核通过后方可发布。",
    "CAT-2": "编目人与审核人须为提供单位指定人员，且同一版本不得为同一人。",
    "CAT-3": "省级目录条目仅由办公室发布。",
    "CAT-4": "受限共享须载明共享条件；非共享须载明法律依据。",
    "CAT-5": "一数一源：其他已发布条目已提供的数据项，未经办公室认可的理由不得重复采集。",
    "CAT-6": "修订已发布条目将生成新版本并重新审核。",
    "CAT-7": "条目超过更新周期（含宽限期）未更新即为逾期。",
    "COL-1": "数据采集须有经批准且七项齐全的论证。",
    "SYS-1": "系统须有项目数据目录和经审核的方案方可批准。",
    "SYS-2": "系统上线前须接入交换平台。",
    "SYS-3": "影响共享的变更须备案；省级系统须经办公室确认后方可实施。",
    "SYS-4": "上线须完成两个平台的接入并通过目录符合性测试。",
    "SYS-5": "不合规系统不予审批、不予安排运维经费，并责令整改。",
    "SHR-1": "共享申请须属于三种场景之一。",
    "SHR-2": "共享申请须载明理由、目录条目、数据项和用途。",
    "SHR-3": "设区市政府及其组成部门不得直接向省民政厅申请。",
    "SHR-4": "非共享目录条目及其数据项一律不予授权。",
    "SHR-5": "申请的数据项须存在于已发布条目中；授权不得超出批准的数据项。",
    "SHR-6": "仅办公室审核共享申请并下发共享实施单。",
    "SHR-7": "无条件共享数据授予可复用授权；受限共享数据按次单独实施。",
    "SHR-8": "其他部门提供的数据须在实施单中载明导入、存储和使用方案。",
    "USE-1": "须有覆盖使用单位、条目、全部数据项、用途和方式的有效授权，方可访问。",
    "USE-2": "共享数据不得转交第三方。",
    "LOG-1": "每次访问决定均记入日志；三年内的日志不得删除或修改。",
    "LOG-2": "提供单位与使用单位各自查看并接收与其相关的日志。",
    "MNT-1": "数据维护须经申报、审批、实施、复核，由三名不同人员完成。",
    "MNT-2": "批量修改由业务处室申请、办公室批准、指定操作员在批准范围内执行。",
    "QLT-1": "异议须在期限内答复。",
    "AUD-1": "每项状态变更都是载明操作人、时间和起因的事件；记录防篡改。",
    "SEC-1": "任何接口不得超出调用者角色和单位的权限披露信息。",
    "SEC-2": "支持并测试存储的备份与恢复。",
    "OPEN-1": "开放目录由办公室从已发布条目中编制和更新。",
    "VIO-1": "目录未按要求编制或更新的，责令整改。",
    "VIO-2": "数据不一致未及时校核或提供数据与实际不符的，责令整改。",
    "VIO-3": "共享数据失控（滥用、未经授权使用、扩散、泄露）的，责令整改。",
    "VIO-4": "共享数据转交第三方或挪作他用的，责令整改。",
    "VIO-5": "其他违反本办法情形的，责令整改。",
}

_STATUS: dict[int, tuple[str, str]] = {
    400: ("请求内容有误，请检查填写的内容。", "The request is not well formed; check what you entered."),
    401: ("需要登录。", "Sign-in is needed."),
    403: ("您的角色或单位无权执行此操作。", "Your role or organization may not do this."),
    404: ("未找到，或您无权查看。", "Not found, or not visible to you."),
    409: ("当前状态下不能执行此操作，或记录已被他人修改；请重新加载后再试。",
          "Not possible in the current state, or changed by someone else; reload and retry."),
    413: ("请求过大。", "The request is too large."),
    422: ("请求被规则拒绝。", "A rule refused the request."),
}


class Words:
    """The words of one language, for templates (`t`, `enum`) and for the routes."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGS else DEFAULT
        self._i = 0 if self.lang == "zh-CN" else 1

    @property
    def zh(self) -> bool:
        return self._i == 0

    def t(self, key: str, **kw: Any) -> str:
        pair = _T.get(key)
        text = pair[self._i] if pair else key
        return text.format(**kw) if kw else text

    def enum(self, group: str, value: Any) -> str:
        if value is None:
            return "—"
        pair = ENUMS.get(group, {}).get(str(value))
        return pair[self._i] if pair else str(value)

    def event(self, name: str) -> str:
        """An event's name for people: `已起草` for `Drafted` or `….catalog.entry.drafted`; English as recorded."""
        last = name.rsplit(".", 1)[-1]
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", last).lower()
        if self.zh:
            return EVENTS_ZH.get(snake, name)
        return snake.replace("_", " ")

    def role(self, role: str | None) -> str:
        pair = ROLES.get(str(role))
        return pair[self._i] if pair else str(role or "")

    def rule(self, rule_id: str, article: str | None = None) -> str:
        """`SHR-3 第二十三条：…` — the id and article as the API gives them, the sentence in this language."""
        from domain.rules import RULES

        known = RULES.get(rule_id)
        art = article or (known.article if known else "")
        sentence = RULES_ZH.get(rule_id, "") if self.zh else (known.sentence if known else "")
        sep = "：" if self.zh else ": "
        return f"{rule_id} {art}{sep}{sentence}".strip()

    def refusal(self, status: int, problem: dict[str, Any]) -> str:
        """The message a person reads for an API refusal, in this language."""
        rule = problem.get("rule")
        if rule:
            return self.rule(str(rule), problem.get("article"))
        if status == 409 and "version" in str(problem.get("title", "")).lower():
            return self.t("co.stale")
        pair = _STATUS.get(status, ("操作未完成。", "Not done."))
        return pair[self._i]
