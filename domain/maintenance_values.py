"""The values of data maintenance and the checks its aggregates share (MNT-1, MNT-2, SEC-1)."""

from __future__ import annotations

import enum
import re
from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec

from domain.base import Context, check_calendar
from domain.limits import MAX_BATCH, MAX_ITEMS, ItemCodes, RecordCount, ShortText, Text
from domain.rules import InvalidTransition, RuleViolation


class Method(enum.StrEnum):
    """How a change is made in the source system."""

    SYSTEM_FUNCTION = "system_function"  # the system's own maintenance function (系统维护功能)
    DATA_SCRIPT = "data_script"          # a reviewed data script
    SOURCE_RESYNC = "source_resync"      # re-synchronised from the source of the datum
    BASTION_HOST = "bastion_host"        # through the bastion host (堡垒机)


class TicketStatus(enum.StrEnum):
    DECLARED = "declared"
    APPROVED = "approved"
    REJECTED = "rejected"
    APPLIED = "applied"
    SENT_BACK = "sent_back"
    VERIFIED = "verified"


class Recheck(enum.StrEnum):
    VERIFY = "verify"
    SEND_BACK = "send_back"


class BatchStatus(enum.StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"


class Decision(enum.StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class EntryFacts(msgspec.Struct, frozen=True):
    """What the application tells the maintenance rules about a catalog entry."""

    entry_id: UUID
    resource_code: str
    provider: str
    item_codes: tuple[str, ...]
    source_system: str


class Change(msgspec.Struct, frozen=True):
    """The content of a change: which records and fields, and digests the source system supplied.

    `record_refs` are opaque references of the source system (row keys or their hashes); the
    ledger never holds the personal data being corrected.
    """

    fields: ItemCodes
    record_count: RecordCount
    before_digest: ShortText
    description: Text
    record_refs: Annotated[tuple[ShortText, ...], msgspec.Meta(max_length=MAX_BATCH)] = ()


class ScopeEntry(msgspec.Struct, frozen=True):
    entry_id: UUID
    resource_code: str


class BatchScope(msgspec.Struct, frozen=True):
    """What a batch modification may touch: one system, some entries, a ceiling of records, a window."""

    system: ShortText
    entries: Annotated[tuple[ScopeEntry, ...], msgspec.Meta(max_length=MAX_ITEMS)]
    estimated_records: RecordCount
    window_from: datetime
    window_to: datetime

    def entry_ids(self) -> frozenset[UUID]:
        return frozenset(e.entry_id for e in self.entries)


class Attempt(msgspec.Struct, frozen=True):
    """One execution through the bastion host, as the operator declares it when it starts."""

    system: ShortText
    entry_ids: Annotated[tuple[UUID, ...], msgspec.Meta(max_length=MAX_ITEMS)]
    record_count: RecordCount
    session: ShortText = ""
    note: Text = ""


# -- checks ---------------------------------------------------------------------------------

DIGEST = re.compile(r"^(sha256|sm3):[0-9a-f]{64}$")
# A resident identity number (居民身份证号码) or a mainland mobile number: never stored here.
_PERSONAL = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|1[3-9]\d{9})(?![0-9A-Za-z])")


def check_digest(name: str, value: str) -> None:
    if not DIGEST.match(value):
        raise RuleViolation(
            "SEC-1", f"The {name} is a digest the source system supplies (sha256:<64 hex> or sm3:<64 hex>), "
            "never the data itself.", field=name,
        )


def check_no_personal_data(**texts: str | tuple[str, ...]) -> None:
    """Refuses text that carries an identity or mobile number: the ledger records changes, not the data."""
    for name, value in texts.items():
        parts = (value,) if isinstance(value, str) else value
        if any(_PERSONAL.search(p) for p in parts):
            raise RuleViolation(
                "SEC-1", f"The {name} looks like it carries an identity or telephone number; give the source "
                "system's opaque reference or a digest instead.", field=name,
            )


def check_instant(name: str, value: datetime) -> None:
    if value.tzinfo is None:
        raise InvalidTransition(f"{name} is an instant with its timezone (ISO 8601 with an offset).")
    check_calendar(**{name: value})


def require(ctx: Context, rule: str, organization: str, *roles: str, what: str) -> None:
    """The actor acts for `organization` under one of `roles`, or the rule refuses."""
    if ctx.actor.acting_for != organization or ctx.actor.role not in roles:
        raise RuleViolation(
            rule, f"{what} is done by a designated {' or '.join(roles)} of {organization}; "
            f"{ctx.actor.person} acts as {ctx.actor.role} for {ctx.actor.acting_for}.",
            organization=organization,
        )


def missing(**parts: object) -> list[str]:
    """The names of the parts that are empty (blank text, empty collections)."""
    out = []
    for name, value in parts.items():
        if isinstance(value, str) and not value.strip() or isinstance(value, tuple | list) and not value:
            out.append(name)
    return out
