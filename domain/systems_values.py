"""The values of the systems context and the compliance judgement of SYS-5 (第十一条–第十八条, 第三十六条–第三十七条)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import date
from typing import Annotated

import msgspec

from domain.limits import MAX_ITEMS, Code, ItemCodes, LongText, ShortText, Text
from domain.rules import RULES, InvalidTransition, RuleViolation


class SystemState(enum.StrEnum):
    PROPOSED = "proposed"            # 建设方案 and project catalog sent, no justification yet
    JUSTIFIED = "justified"          # 采集论证 filed, awaiting the Office's review
    REJECTED = "rejected"
    APPROVED = "approved"            # approved: under construction, connecting, being tested
    LIVE = "live"                    # in (trial) operation
    DECOMMISSIONED = "decommissioned"


class Platform(enum.StrEnum):
    """The two platforms of 第十八条."""

    EXCHANGE = "exchange"            # 陕西民政数据共享交换平台
    INTEGRATION = "integration"      # 民政一体化平台


class ChangeKind(enum.StrEnum):
    """The changes of 第十五条."""

    CONTENT_CHANGE = "content_change"
    UPGRADE = "upgrade"
    RETROFIT = "retrofit"
    SHUTDOWN = "shutdown"


class FilingState(enum.StrEnum):
    FILED = "filed"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    IMPLEMENTED = "implemented"
    IMPLEMENTED_UNCONFIRMED = "implemented_unconfirmed"   # found implemented without the Office's confirmation


class SystemDecision(enum.StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class ConstructionPlan(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """建设方案: the construction plan sent to the Office with the proposal (第十一条)."""

    title: ShortText
    summary: LongText
    document: ShortText = ""
    """A reference to the plan document (file number or archive id)."""

    def missing(self) -> tuple[str, ...]:
        return tuple(n for n, v in (("title", self.title), ("summary", self.summary)) if not v.strip())


class ProjectEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One entry of the project data resource catalog (项目数据资源目录, 第十二条): what the system will collect."""

    resource_code: Code
    name: ShortText
    item_codes: ItemCodes
    existing: bool = False
    """True when the entry is already in the owner's catalog; False for an entry to be compiled."""


def validate_catalog(catalog: tuple[ProjectEntry, ...]) -> None:
    codes = [e.resource_code for e in catalog]
    if any(not c.strip() for c in codes):
        raise InvalidTransition("Every entry of the project data catalog has a resource code.")
    if len(set(codes)) != len(codes):
        raise InvalidTransition("An entry appears once in the project data catalog.")
    for e in catalog:
        if not e.item_codes or any(not i.strip() for i in e.item_codes):
            raise InvalidTransition(f"Project catalog entry {e.resource_code} lists the data item codes it collects.")
        if len(set(e.item_codes)) != len(e.item_codes):
            raise InvalidTransition(f"Data item codes repeat within project catalog entry {e.resource_code}.")


def collected_items(catalog: tuple[ProjectEntry, ...]) -> dict[str, str]:
    """Item code -> the project catalog entry that collects it (the first, if several)."""
    out: dict[str, str] = {}
    for e in catalog:
        for code in e.item_codes:
            out.setdefault(code, e.resource_code)
    return out


JUSTIFICATION_PARTS = (
    "necessity", "feasibility", "relation_to_existing", "sharing_fit", "mechanism", "catalog", "funding",
)


class Justification(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """采集论证: the seven parts of 第十一条, and why any datum held elsewhere is collected again (第十四条)."""

    necessity: LongText
    feasibility: LongText
    relation_to_existing: LongText
    sharing_fit: LongText
    mechanism: LongText
    catalog: LongText
    funding: LongText
    duplicate_reasons: Annotated[dict[Code, Text], msgspec.Meta(max_length=MAX_ITEMS)] = {}
    """Data item code -> why it is collected although another organization already provides it."""

    def missing(self) -> tuple[str, ...]:
        return tuple(p for p in JUSTIFICATION_PARTS if not str(getattr(self, p)).strip())

    def reason_for(self, item_code: str) -> str:
        return (self.duplicate_reasons.get(item_code) or "").strip()


class ExistingSource(msgspec.Struct, frozen=True):
    """A published entry of another organization that already provides a data item (一数一源)."""

    resource_code: str
    provider: str


class DuplicateCollection(msgspec.Struct, frozen=True):
    """A data item the system would collect again, the source it duplicates, and the stated reason."""

    item_code: str
    project_entry: str
    existing_source: str
    source_provider: str
    reason: str


class Filing(msgspec.Struct):
    """备案: one change filed for a live system, and how far it has got."""

    number: int
    kind: ChangeKind
    description: str
    affects_sharing: bool
    needs_confirmation: bool
    state: FilingState
    comment: str = ""
    implemented_on: date | None = None


class ComplianceTest(msgspec.Struct, frozen=True):
    """目录合规性检测: a catalog compliance test and its findings (第三十六条)."""

    passed: bool
    tested_on: date
    findings: tuple[str, ...] = ()


class Finding(msgspec.Struct, frozen=True):
    """One way a system falls short of its rules, with the rule and its article (SYS-5)."""

    code: str
    rule: str
    article: str
    detail: str


def _finding(code: str, rule_id: str, detail: str) -> Finding:
    return Finding(code=code, rule=rule_id, article=RULES[rule_id].article, detail=detail)


class Rectification(msgspec.Struct, frozen=True):
    """整改通知: what the Office found, what it withholds, and by when the system is put right (第三十七条)."""

    findings: tuple[Finding, ...]
    withhold: str
    deadline: date
    comment: str = ""


class ComplianceFacts(msgspec.Struct, frozen=True):
    """What SYS-5 needs to know of a system: the same shape from the aggregate and from the read model."""

    state: SystemState
    catalog_size: int
    justification_missing: tuple[str, ...] | None
    """The missing parts of the filed justification; None when none was filed."""
    unaccepted_duplicates: tuple[str, ...]
    exchange_connected: bool
    integration_connected: bool
    last_test_passed: bool | None
    unconfirmed_filings: tuple[int, ...]


def compliance_findings(f: ComplianceFacts) -> tuple[Finding, ...]:
    """SYS-5: every rule a proposed or live system does not meet (empty for a compliant one).

    A proposal that falls short is not approved; a live system that falls short gets no O&M
    funding and is rectified (第三十七条). Approved systems under construction, rejected and
    decommissioned ones are not judged.
    """
    out: list[Finding] = []
    if f.state in (SystemState.PROPOSED, SystemState.JUSTIFIED):
        if f.catalog_size == 0:
            out.append(_finding("no_project_catalog", "SYS-1", "The proposal has no project data catalog."))
        if f.justification_missing is None:
            out.append(_finding("no_justification", "COL-1", "No collection justification has been filed."))
        elif f.justification_missing:
            out.append(_finding("justification_incomplete", "COL-1",
                                f"The justification lacks {', '.join(f.justification_missing)}."))
        if f.unaccepted_duplicates:
            out.append(_finding("duplicate_not_accepted", "CAT-5",
                                f"Data items {', '.join(f.unaccepted_duplicates)} are held elsewhere and the Office "
                                "has not accepted collecting them again."))
    elif f.state == SystemState.LIVE:
        if not f.exchange_connected:
            out.append(_finding("not_connected_exchange", "SYS-2", "Not connected to the data sharing-exchange platform."))
        if not f.integration_connected:
            out.append(_finding("not_connected_integration", "SYS-4", "Not connected to the integration platform."))
        if not f.last_test_passed:
            out.append(_finding("no_passed_test", "SYS-4", "Its last catalog compliance test did not pass."
                                if f.last_test_passed is False else "No catalog compliance test has passed."))
        if f.unconfirmed_filings:
            out.append(_finding("unconfirmed_change_implemented", "SYS-3",
                                f"Changes {', '.join(map(str, f.unconfirmed_filings))} were implemented without the "
                                "Office's confirmation."))
    return tuple(out)


def consequence(state: SystemState) -> str:
    """What 第三十七条 makes of a non-compliant system in this state."""
    return "withhold_approval" if state in (SystemState.PROPOSED, SystemState.JUSTIFIED) else "withhold_funding"


# -- checks of the aggregate's commands -------------------------------------------------------

def duplicate_collections(
    catalog: tuple[ProjectEntry, ...], justification: Justification, existing_sources: Mapping[str, ExistingSource],
) -> tuple[DuplicateCollection, ...]:
    """CAT-5 at collection time (第十四条): every item held elsewhere needs a stated reason; returns them."""
    out = []
    for item, entry in collected_items(catalog).items():
        source = existing_sources.get(item)
        if source is None:
            continue
        reason = justification.reason_for(item)
        if not reason:
            raise RuleViolation(
                "CAT-5", f"Data item {item} is already provided by published entry {source.resource_code} of "
                f"{source.provider}; obtain it by sharing, or state why it is collected again.",
                item_code=item, existing_source=source.resource_code, provider=source.provider,
            )
        out.append(DuplicateCollection(item_code=item, project_entry=entry, existing_source=source.resource_code,
                                       source_provider=source.provider, reason=reason))
    return tuple(out)


def check_approvable(
    name: str, plan: ConstructionPlan, catalog: tuple[ProjectEntry, ...], justification: Justification | None,
    accepted: Mapping[str, str], existing_sources: Mapping[str, ExistingSource],
) -> None:
    """SYS-1, COL-1 and CAT-5 before the Office approves a system."""
    if not catalog:
        raise RuleViolation("SYS-1", f"{name} has no project data catalog; it is a required part of the approval file.")
    if plan.missing():
        raise RuleViolation("SYS-1", f"The construction plan lacks its {', '.join(plan.missing())}.")
    if justification is None or justification.missing():
        raise RuleViolation("COL-1", "Collection needs a justification with all seven parts.")
    for item in collected_items(catalog):
        source = existing_sources.get(item)
        if source is not None and item not in accepted:
            raise RuleViolation(
                "CAT-5", f"Data item {item} is already provided by published entry {source.resource_code} of "
                f"{source.provider}; the Office has not accepted collecting it again.",
                item_code=item, existing_source=source.resource_code, provider=source.provider,
            )


def check_go_live(name: str, connected: set[Platform], last_test: ComplianceTest | None) -> None:
    """SYS-2 and SYS-4: both platform connections and a passed catalog compliance test."""
    if Platform.EXCHANGE not in connected:
        raise RuleViolation("SYS-2", f"{name} is not connected to the data sharing-exchange platform.")
    if Platform.INTEGRATION not in connected:
        raise RuleViolation("SYS-4", f"{name} is not connected to the integration platform.")
    if last_test is None or not last_test.passed:
        state = "no test recorded" if last_test is None else f"the test of {last_test.tested_on} failed"
        raise RuleViolation("SYS-4", f"{name} has not passed the catalog compliance test ({state}).")
