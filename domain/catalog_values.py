"""The values a catalog entry is made of, after the core metadata of GB/T 21063."""

from __future__ import annotations

import enum
from datetime import timedelta
from typing import Annotated

import msgspec

from domain.limits import MAX_ITEMS, Code, LongText, ShortText, Text
from domain.rules import InvalidTransition, RuleViolation


class Sensitivity(enum.StrEnum):
    PUBLIC = "public"
    INTERNAL = "internal"
    SENSITIVE = "sensitive"


class ShareClass(enum.StrEnum):
    UNCONDITIONAL = "unconditional"
    RESTRICTED = "restricted"
    NOT_SHAREABLE = "not_shareable"


class OpenClass(enum.StrEnum):
    OPEN = "open"
    CONDITIONAL = "conditional"
    CLOSED = "closed"


class DeliveryMethod(enum.StrEnum):
    INTERFACE = "interface"
    FRONT_END_PROCESSOR = "front_end_processor"
    ONLINE_QUERY = "online_query"
    BATCH_DOWNLOAD = "batch_download"


class UpdateCycle(enum.StrEnum):
    REALTIME = "realtime"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"


CYCLE_PERIOD: dict[UpdateCycle, timedelta] = {
    UpdateCycle.REALTIME: timedelta(days=1),
    UpdateCycle.DAILY: timedelta(days=1),
    UpdateCycle.WEEKLY: timedelta(days=7),
    UpdateCycle.MONTHLY: timedelta(days=31),
    UpdateCycle.QUARTERLY: timedelta(days=92),
    UpdateCycle.YEARLY: timedelta(days=366),
}


class DataItem(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """数据项: one field of a data resource."""

    code: Code
    name: ShortText
    type: ShortText
    description: Text = ""
    sensitivity: Sensitivity = Sensitivity.INTERNAL
    duplicate_justification: Text | None = None


class EntryContent(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What a version of an entry says: the catalog's core metadata."""

    name: ShortText
    summary: LongText
    category: ShortText
    format: ShortText
    data_items: Annotated[tuple[DataItem, ...], msgspec.Meta(max_length=MAX_ITEMS)]
    share_class: ShareClass
    open_class: OpenClass
    delivery_methods: Annotated[tuple[DeliveryMethod, ...], msgspec.Meta(max_length=len(DeliveryMethod))]
    update_cycle: UpdateCycle
    source_system: ShortText
    share_conditions: Text | None = None
    legal_basis: Text | None = None
    open_conditions: Text | None = None

    def item_codes(self) -> tuple[str, ...]:
        return tuple(i.code for i in self.data_items)

    def validate(self) -> None:
        """Checks the content on its own: CAT-4 and well-formedness."""
        if not self.name.strip():
            raise InvalidTransition("An entry needs a resource name.")
        if not self.data_items:
            raise InvalidTransition("An entry lists at least one data item.")
        codes = [i.code for i in self.data_items]
        dupes = sorted({c for c in codes if codes.count(c) > 1})
        if dupes:
            raise InvalidTransition(f"Data item codes repeat within the entry: {', '.join(dupes)}.")
        if any(not c.strip() for c in codes):
            raise InvalidTransition("Every data item has a code.")
        if not self.delivery_methods and self.share_class != ShareClass.NOT_SHAREABLE:
            raise InvalidTransition("A shareable entry offers at least one delivery method.")
        if self.share_class == ShareClass.RESTRICTED and not (self.share_conditions or "").strip():
            raise RuleViolation("CAT-4", "A restricted (受限共享) entry must state its share conditions.")
        if self.share_class == ShareClass.NOT_SHAREABLE and not (self.legal_basis or "").strip():
            raise RuleViolation("CAT-4", "A not-shareable (非共享) entry must state the legal basis that excludes sharing.")
        if self.open_class == OpenClass.CONDITIONAL and not (self.open_conditions or "").strip():
            raise InvalidTransition("A conditionally open entry states its open conditions.")


class Check(msgspec.Struct, frozen=True):
    passed: bool
    comment: Text = ""


class Review(msgspec.Struct, frozen=True):
    """The three checks of 第十条: accuracy, completeness, compliance."""

    accuracy: Check
    completeness: Check
    compliance: Check

    def all_passed(self) -> bool:
        return self.accuracy.passed and self.completeness.passed and self.compliance.passed

    def failed(self) -> tuple[str, ...]:
        return tuple(
            name for name, c in (
                ("accuracy", self.accuracy), ("completeness", self.completeness), ("compliance", self.compliance)
            ) if not c.passed
        )


class VersionState(enum.StrEnum):
    DRAFTED = "drafted"
    SUBMITTED = "submitted"
    RETURNED = "returned"
    APPROVED = "approved"
    PUBLISHED = "published"
    SUPERSEDED = "superseded"
    WITHDRAWN = "withdrawn"


class ReviewDecision(enum.StrEnum):
    APPROVE = "approve"
    RETURN = "return"
