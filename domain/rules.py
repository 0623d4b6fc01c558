"""The rule table: each rule id with its article of the Measures and the sentence a refusal cites.

This module is the one source of refusal texts. A command that refuses raises
:class:`RuleViolation` with a rule id; the article and sentence come from here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    id: str
    article: str
    sentence: str


_RULES: tuple[Rule, ...] = (
    Rule("ORG-1", "第五条", "Organizations and members are registered by the Office; roles are assigned to persons of an organization."),
    Rule("ORG-2", "第八条", "A service unit acts only within an active, dated authorisation from the organization it serves."),
    Rule("CAT-1", "第十条", "An entry is published only after a review that passed accuracy, completeness and compliance."),
    Rule("CAT-2", "第十条", "Compiler and reviewer are designated persons of the provider, and never the same person for one version."),
    Rule("CAT-3", "第十条", "Provincial-level entries are published by the Office only."),
    Rule("CAT-4", "第二十条", "A restricted entry needs share conditions; a not-shareable entry needs a legal basis."),
    Rule("CAT-5", "第十四条", "One datum, one source: a data item already provided by another published entry is not collected again without a justification the Office accepted."),
    Rule("CAT-6", "第十条", "Revising a published entry creates a new version that goes through review again."),
    Rule("CAT-7", "第三十八条", "An entry not updated within its update cycle (plus grace) is overdue."),
    Rule("COL-1", "第十一条", "Collection needs an approved justification with all seven parts."),
    Rule("SYS-1", "第十二条", "A system is approved only with a project data catalog and a reviewed plan."),
    Rule("SYS-2", "第十三条", "A system must be connected to the exchange platform before go-live."),
    Rule("SYS-3", "第十五条", "Changes that affect sharing are filed; a provincial system implements only after the Office confirms."),
    Rule("SYS-4", "第三十六条", "Go-live needs both platform connections and a passed catalog compliance test."),
    Rule("SYS-5", "第三十七条", "Non-compliant systems get no approval and no O&M funding, and are rectified."),
    Rule("SHR-1", "第二十三条", "A request has one of the three scenarios."),
    Rule("SHR-2", "第二十三条", "A request states reason, entries, fields and purpose."),
    Rule("SHR-3", "第二十三条", "Municipal governments and their departments may not apply to the Provincial Department directly."),
    Rule("SHR-4", "第二十条", "Not-shareable entries, and fields of them, are never granted."),
    Rule("SHR-5", "第四条", "Requested fields must exist in the published entry; a grant never holds more fields than approved."),
    Rule("SHR-6", "第二十三条", "Only the Office reviews requests and issues implementation orders."),
    Rule("SHR-7", "第二十四条", "Unconditional data gives a reusable grant; restricted data gives a single-use grant per implementation."),
    Rule("SHR-8", "第二十四条", "Data provided by another department states its import, storage and use plan in the order."),
    Rule("USE-1", "第二十六条", "Access is allowed only with an active grant covering holder, entry, every field, purpose and method."),
    Rule("USE-2", "第二十六条", "Shared data is never passed to a third party."),
    Rule("LOG-1", "第二十二条", "Every access decision is logged; no record younger than 3 years is deleted or altered."),
    Rule("LOG-2", "第二十二条", "Provider and user each see, and are pushed, the log records that concern them."),
    Rule("MNT-1", "第三十一条", "Maintenance goes declare, approve, apply, re-check, by three different persons."),
    Rule("MNT-2", "第三十二条", "A batch modification is requested by a division, approved by the Office, executed by a designated operator within scope."),
    Rule("QLT-1", "第十六条", "An objection is answered within its deadline."),
    Rule("AUD-1", "第三十二条", "Every state change is an event with actor, time and cause; the record is tamper-evident."),
    Rule("SEC-1", "第三十四条", "No endpoint reveals more than the caller's role and organization allow."),
    Rule("SEC-2", "第三十五条", "Backup and restore of the store are supported."),
    Rule("OPEN-1", "第二十八条", "The open-data catalog is compiled and updated by the Office from published entries."),
    Rule("TIME-1", "第四条", "Only the Office dates a fact before the moment it is recorded (a back-dated correction)."),
    Rule("TIME-2", "第三十一条", "A correction never takes effect before the fact it corrects."),
    Rule("TIME-3", "第三十一条", "A correction only dates what already happened: never in the future, never later than recorded."),
    Rule("VIO-1", "第三十八条", "Catalogs not compiled or updated as required are ordered to be rectified."),
    Rule("VIO-2", "第三十八条", "Inconsistent or wrong data not checked in time, or data provided unlike data held, is ordered to be rectified."),
    Rule("VIO-3", "第三十八条", "Shared data out of control (abuse, unauthorised use, spreading, leaks) is ordered to be rectified."),
    Rule("VIO-4", "第三十八条", "Shared data passed to a third party or used for other purposes is ordered to be rectified."),
    Rule("VIO-5", "第三十八条", "Other breaches of the Measures are ordered to be rectified."),
)

RULES: dict[str, Rule] = {r.id: r for r in _RULES}


class DomainError(Exception):
    """Base of every refusal the domain raises."""


class RuleViolation(DomainError):
    """A command broke a rule of the Measures; carries the rule id, its article and a sentence."""

    def __init__(self, rule_id: str, detail: str | None = None, **context: object) -> None:
        rule = RULES[rule_id]
        self.rule = rule.id
        self.article = rule.article
        self.detail = detail or rule.sentence
        self.context = context
        super().__init__(f"{rule.id} ({rule.article}): {self.detail}")


class InvalidTransition(DomainError):
    """A command does not apply in the object's current state (not a rule of the Measures)."""

    def __init__(self, detail: str, **context: object) -> None:
        self.detail = detail
        self.context = context
        super().__init__(detail)


class OutOfRange(DomainError):
    """A date or instant outside the ledger's calendar (bad input, not a rule of the Measures)."""

    def __init__(self, field: str, detail: str) -> None:
        self.field = field
        self.detail = detail
        super().__init__(f"{field}: {detail}")


def rule(rule_id: str) -> Rule:
    return RULES[rule_id]
