"""违规情形 (第三十八条): violations with their evidence, raised by the Office or its monitors, and their rectification."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import msgspec

from domain.base import Context, LedgerAggregate, check_calendar
from domain.limits import Position, ShortText
from domain.organizations import Role, is_office
from domain.rules import InvalidTransition, RuleViolation


class ViolationKind(enum.StrEnum):
    """The five cases of 第三十八条, by their rule ids."""

    CATALOG = "VIO-1"
    DATA_QUALITY = "VIO-2"
    OUT_OF_CONTROL = "VIO-3"
    THIRD_PARTY = "VIO-4"
    OTHER = "VIO-5"


class EvidenceKind(enum.StrEnum):
    EVENT = "event"
    LOG_RECORD = "log_record"
    ENTRY = "entry"
    OBJECTION = "objection"
    SYSTEM = "system"


class Evidence(msgspec.Struct, frozen=True):
    """One piece of evidence: an event (aggregate id:version), a log record (request id), an entry, objection or system."""

    kind: EvidenceKind
    ref: ShortText
    position: Position | None = None


class ViolationStatus(enum.StrEnum):
    CANDIDATE = "candidate"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"
    NOTICE_ISSUED = "notice_issued"
    RECTIFICATION_REPORTED = "rectification_reported"
    ACCEPTED = "accepted"
    ESCALATED = "escalated"


OPEN = frozenset({ViolationStatus.CANDIDATE, ViolationStatus.CONFIRMED, ViolationStatus.NOTICE_ISSUED,
                  ViolationStatus.RECTIFICATION_REPORTED})

# What evidence each case needs at the least: the facts 第三十八条 names for it.
NEEDED: dict[ViolationKind, frozenset[EvidenceKind]] = {
    ViolationKind.CATALOG: frozenset({EvidenceKind.ENTRY}),
    ViolationKind.DATA_QUALITY: frozenset({EvidenceKind.OBJECTION, EvidenceKind.EVENT}),
    ViolationKind.OUT_OF_CONTROL: frozenset({EvidenceKind.LOG_RECORD, EvidenceKind.EVENT}),
    ViolationKind.THIRD_PARTY: frozenset({EvidenceKind.LOG_RECORD, EvidenceKind.EVENT}),
    ViolationKind.OTHER: frozenset(EvidenceKind),
}

# Who reports a rectification for the subject organization (any of these designated roles).
REPORTERS = (Role.OFFICE_ADMIN, Role.SYSTEM_MANAGER, Role.MAINTAINER, Role.APPROVER, Role.CATALOG_REVIEWER)


def violation_id(kind: ViolationKind | str, subject: str, key: str) -> UUID:
    """The one id of a case: a monitor raising the same case twice names the same violation."""
    return uuid5(NAMESPACE_URL, f"civic-ledger:violation:{kind}:{subject}:{key}")


def _office(ctx: Context, kind: ViolationKind, what: str) -> None:
    if not is_office(ctx):
        raise RuleViolation(str(kind), f"Only the Office (office_admin) {what}; {ctx.actor.person} acts as "
                            f"{ctx.actor.role} of {ctx.actor.organization}.")


class Violation(LedgerAggregate):
    """违规情形: one case of 第三十八条 against an organization, its evidence, and the rectification ordered (整改通知)."""

    TOPIC = "civic-ledger:Violation"
    KIND = "violation"

    class Created(LedgerAggregate.Created):
        TOPIC = "civic-ledger:Violation.Created"

    class CandidateRaised(Created):
        """A monitor (or the Office) found a possible case; the Office confirms or dismisses it."""

        TOPIC = "civic-ledger:Violation.CandidateRaised"
        kind: ViolationKind
        subject: str
        evidence: tuple[Evidence, ...]
        summary: str
        key: str
        monitor: str | None

        def apply(self, v: Violation) -> None:
            v.status = ViolationStatus.CANDIDATE

    class Raised(Created):
        """The Office records a case directly: confirmed from the start."""

        TOPIC = "civic-ledger:Violation.Raised"
        kind: ViolationKind
        subject: str
        evidence: tuple[Evidence, ...]
        summary: str
        key: str

        def apply(self, v: Violation) -> None:
            v.status = ViolationStatus.CONFIRMED

    class Confirmed(LedgerAggregate.Event):
        TOPIC = "civic-ledger:Violation.Confirmed"
        comment: str

        def apply(self, v: Violation) -> None:
            v.status = ViolationStatus.CONFIRMED

    class Dismissed(LedgerAggregate.Event):
        TOPIC = "civic-ledger:Violation.Dismissed"
        reason: str

        def apply(self, v: Violation) -> None:
            v.status = ViolationStatus.DISMISSED

    class NoticeIssued(LedgerAggregate.Event):
        """整改通知: what to rectify, by when."""

        TOPIC = "civic-ledger:Violation.NoticeIssued"
        deadline: datetime
        requirements: str

        def apply(self, v: Violation) -> None:
            v.status, v.deadline, v.requirements = ViolationStatus.NOTICE_ISSUED, self.deadline, self.requirements

    class RectificationReported(LedgerAggregate.Event):
        TOPIC = "civic-ledger:Violation.RectificationReported"
        report: str
        late: bool

        def apply(self, v: Violation) -> None:
            v.status, v.report = ViolationStatus.RECTIFICATION_REPORTED, self.report

    class Accepted(LedgerAggregate.Event):
        TOPIC = "civic-ledger:Violation.Accepted"
        comment: str

        def apply(self, v: Violation) -> None:
            v.status = ViolationStatus.ACCEPTED

    class Escalated(LedgerAggregate.Event):
        """The Office holds the organization to account beyond the notice (追究责任)."""

        TOPIC = "civic-ledger:Violation.Escalated"
        reason: str

        def apply(self, v: Violation) -> None:
            v.status = ViolationStatus.ESCALATED

    def __init__(self, kind: ViolationKind, subject: str, evidence: tuple[Evidence, ...], summary: str, key: str,
                 monitor: str | None = None, **_: Any) -> None:
        self.kind = ViolationKind(kind)
        self.subject = subject
        self.evidence = evidence
        self.summary = summary
        self.key = key
        self.monitor = monitor
        self.status = ViolationStatus.CANDIDATE
        self.deadline: datetime | None = None
        self.requirements = ""
        self.report = ""

    # -- raising --------------------------------------------------------------------------

    @classmethod
    def detect(cls, ctx: Context, *, kind: ViolationKind | str, subject: str, evidence: tuple[Evidence, ...],
               summary: str, key: str, monitor: str | None = None) -> Violation:
        """A candidate from the Office's monitor (or an Office person); its id follows from kind, subject and key."""
        k = _checked(kind, subject, evidence, summary, key)
        _office(ctx, k, "or its monitors raise violation candidates")
        v = cls._start(cls.CandidateRaised, ctx, id=violation_id(k, subject, key), kind=k, subject=subject,
                       evidence=evidence, summary=summary, key=key, monitor=monitor)
        return v

    @classmethod
    def record(cls, ctx: Context, *, kind: ViolationKind | str, subject: str, evidence: tuple[Evidence, ...],
               summary: str, key: str) -> Violation:
        """An Office person raises a case directly, confirmed at once."""
        k = _checked(kind, subject, evidence, summary, key)
        _office(ctx, k, "raises a violation")
        v = cls._start(cls.Raised, ctx, id=violation_id(k, subject, key), kind=k, subject=subject,
                       evidence=evidence, summary=summary, key=key)
        return v

    # -- the Office decides ---------------------------------------------------------------

    def confirm(self, ctx: Context, *, comment: str = "") -> None:
        _office(ctx, self.kind, "confirms a violation")
        self._in(ViolationStatus.CANDIDATE, "confirmed")
        self._record(self.Confirmed, ctx, comment=comment)

    def dismiss(self, ctx: Context, *, reason: str) -> None:
        _office(ctx, self.kind, "dismisses a violation candidate")
        self._in(ViolationStatus.CANDIDATE, "dismissed")
        if not reason.strip():
            raise InvalidTransition("A candidate is dismissed with a reason.")
        self._record(self.Dismissed, ctx, reason=reason)

    def issue_notice(self, ctx: Context, *, deadline: datetime, requirements: str) -> None:
        _office(ctx, self.kind, "issues a rectification notice")
        self._in(ViolationStatus.CONFIRMED, "given a rectification notice")
        check_calendar(deadline=deadline)
        if deadline.tzinfo is None or deadline <= ctx.at:
            raise InvalidTransition("A rectification deadline is a timezone-aware instant after the notice.")
        if not requirements.strip():
            raise InvalidTransition("A rectification notice says what is to be rectified.")
        self._record(self.NoticeIssued, ctx, deadline=deadline, requirements=requirements)

    # -- the subject organization reports ---------------------------------------------------

    def report_rectification(self, ctx: Context, *, report: str) -> None:
        """整改报告: a designated person of the subject organization says what was done."""
        if ctx.actor.acting_for != self.subject or ctx.actor.role not in REPORTERS:
            raise RuleViolation(str(self.kind), f"The rectification is reported by {self.subject} through its "
                                f"{', '.join(REPORTERS)}; {ctx.actor.person} acts as {ctx.actor.role} for "
                                f"{ctx.actor.acting_for}.")
        self._in(ViolationStatus.NOTICE_ISSUED, "reported as rectified")
        if not report.strip():
            raise InvalidTransition("A rectification report says what was done.")
        assert self.deadline is not None
        self._record(self.RectificationReported, ctx, report=report, late=ctx.at > self.deadline)

    # -- the Office closes ----------------------------------------------------------------

    def accept(self, ctx: Context, *, comment: str = "") -> None:
        _office(ctx, self.kind, "accepts a rectification")
        self._in(ViolationStatus.RECTIFICATION_REPORTED, "accepted")
        self._record(self.Accepted, ctx, comment=comment)

    def escalate(self, ctx: Context, *, reason: str) -> None:
        """Not rectified: after a report the Office will not accept, or a notice past its deadline unanswered."""
        _office(ctx, self.kind, "escalates a violation")
        if self.status == ViolationStatus.NOTICE_ISSUED:
            assert self.deadline is not None
            if ctx.at <= self.deadline:
                raise InvalidTransition(f"The rectification deadline {self.deadline.isoformat()} has not passed; "
                                        "an unanswered notice is escalated after it.")
        else:
            self._in(ViolationStatus.RECTIFICATION_REPORTED, "escalated")
        if not reason.strip():
            raise InvalidTransition("A violation is escalated with a reason.")
        self._record(self.Escalated, ctx, reason=reason)

    def _in(self, wanted: ViolationStatus, what: str) -> None:
        if self.status != wanted:
            raise InvalidTransition(f"A violation is {what} only when {wanted}; this one is {self.status}.")


def _checked(kind: ViolationKind | str, subject: str, evidence: tuple[Evidence, ...], summary: str,
             key: str) -> ViolationKind:
    try:
        k = ViolationKind(kind)
    except ValueError:
        raise InvalidTransition(f"A violation is one of {', '.join(ViolationKind)}, not {kind!r}.") from None
    if not subject.strip():
        raise RuleViolation(str(k), "A violation names the organization it concerns.")
    if not summary.strip() or not key.strip():
        raise RuleViolation(str(k), "A violation states what happened and what identifies the case.")
    needed = NEEDED[k]
    if not any(e.kind in needed for e in evidence):
        raise RuleViolation(str(k), f"A {k} case rests on evidence of kind {' or '.join(sorted(needed))}.",
                            evidence=[e.kind for e in evidence])
    return k
