"""复核: what a catalog revision does to the live grants on its entry, and the Office's re-review of each.

Before the Office publishes a revision that removes fields, tightens the share class or withdraws a
delivery method, `impact_of` lists the live grants it would affect and how; publishing it opens one
`GrantReview` per affected grant in the Office's queue (a `not_shareable` entry still suspends them
at once, SHR-4), and closing the review records the Office's decision.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import msgspec

from domain.base import Context, LedgerAggregate
from domain.catalog_values import EntryContent, ShareClass
from domain.grant_status import GrantState
from domain.organizations import require_office
from domain.rules import InvalidTransition
from domain.sharing_values import GrantStatus

#: How strictly each share class shares: a revision moving an entry up this order tightens it.
_STRICTNESS = {ShareClass.UNCONDITIONAL: 0, ShareClass.RESTRICTED: 1, ShareClass.NOT_SHAREABLE: 2}


class GrantImpact(msgspec.Struct, frozen=True):
    """How a revision affects one live grant: fields it removes, a tighter share class, a withdrawn method."""

    grant_id: UUID
    holder: str
    status: GrantStatus
    fields_removed: tuple[str, ...] = ()
    share_class_from: ShareClass | None = None
    share_class_to: ShareClass | None = None
    method_withdrawn: str | None = None
    suspended: bool = False  # a not-shareable entry suspends the grant on publication (SHR-4)

    @property
    def how(self) -> tuple[str, ...]:
        return tuple(name for name, hit in (("fields_removed", bool(self.fields_removed)),
                                            ("reclassified", self.share_class_to is not None),
                                            ("method_withdrawn", self.method_withdrawn is not None)) if hit)


def impact_of(current: EntryContent | None, proposed: EntryContent, grants: Iterable[GrantState],
              at: datetime) -> tuple[GrantImpact, ...]:
    """The live grants (active or suspended, valid at or after `at`) that `proposed` affects, and how."""
    if current is None:
        return ()
    kept = set(proposed.item_codes())
    tighter = _STRICTNESS[ShareClass(proposed.share_class)] > _STRICTNESS[ShareClass(current.share_class)]
    out = []
    for g in sorted(grants, key=lambda g: str(g.grant_id)):
        if g.status_at(at) not in (GrantStatus.ACTIVE, GrantStatus.SUSPENDED):
            continue
        removed = tuple(sorted(f for f in g.fields if f not in kept))
        withdrawn = str(g.method) if g.method not in proposed.delivery_methods else None
        if not (removed or tighter or withdrawn):
            continue
        out.append(GrantImpact(
            grant_id=g.grant_id, holder=g.holder, status=g.status, fields_removed=removed,
            share_class_from=current.share_class if tighter else None,
            share_class_to=proposed.share_class if tighter else None, method_withdrawn=withdrawn,
            suspended=proposed.share_class == ShareClass.NOT_SHAREABLE,
        ))
    return tuple(out)


class ReviewOutcome(enum.StrEnum):
    """The Office's decision on a grant its entry's revision affected."""

    KEEP = "keep"  # the grant stands as it is (e.g. the holder no longer uses the removed fields)
    SUSPEND = "suspend"
    REVOKE = "revoke"


class ReviewStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


def review_id(grant_id: UUID, entry_version: int) -> UUID:
    """One re-review per grant per published version, so a retried publication opens none twice."""
    return uuid5(NAMESPACE_URL, f"civic-ledger:grant-review:{grant_id}:{entry_version}")


class GrantReview(LedgerAggregate):
    """授权复核: the Office's re-review of a live grant after a revision of its catalog entry was published."""

    TOPIC = "civic-ledger:GrantReview"

    class Created(LedgerAggregate.Created):
        TOPIC = "civic-ledger:GrantReview.Created"
    KIND = "grant-review"

    class Opened(Created):
        TOPIC = "civic-ledger:GrantReview.Opened"
        grant_id: UUID
        entry_id: UUID
        resource_code: str
        entry_version: int
        holder: str
        provider: str
        impact: GrantImpact

    class Closed(LedgerAggregate.Event):
        TOPIC = "civic-ledger:GrantReview.Closed"
        decision: ReviewOutcome
        comment: str

        def apply(self, r: GrantReview) -> None:
            r.status, r.decision, r.comment = ReviewStatus.CLOSED, ReviewOutcome(self.decision), self.comment

    def __init__(self, grant_id: UUID, entry_id: UUID, resource_code: str, entry_version: int, holder: str,
                 provider: str, impact: GrantImpact, **_: Any) -> None:
        self.grant_id, self.entry_id, self.resource_code = grant_id, entry_id, resource_code
        self.entry_version, self.holder, self.provider, self.impact = entry_version, holder, provider, impact
        self.status = ReviewStatus.OPEN
        self.decision: ReviewOutcome | None = None
        self.comment = ""

    @classmethod
    def open(cls, ctx: Context, *, impact: GrantImpact, grant: GrantState, entry_id: UUID, resource_code: str,
             entry_version: int) -> GrantReview:
        """Opened by the publication that affects the grant, in the Office's queue."""
        if not impact.how:
            raise InvalidTransition(f"The revision does not affect grant {impact.grant_id}.")
        return cls._start(cls.Opened, ctx, id=review_id(impact.grant_id, entry_version), grant_id=impact.grant_id,
                          entry_id=entry_id, resource_code=resource_code, entry_version=entry_version,
                          holder=grant.holder, provider=grant.provider, impact=impact)

    def close(self, ctx: Context, *, decision: ReviewOutcome | str, comment: str) -> ReviewOutcome:
        """The Office decides (SHR-6): keep the grant, suspend it or revoke it; the caller acts on the grant."""
        require_office(ctx, "SHR-6", "re-reviews grants after a catalog revision")
        if self.status != ReviewStatus.OPEN:
            raise InvalidTransition(f"This re-review was already closed ({self.decision}).")
        try:
            outcome = ReviewOutcome(decision)
        except ValueError:
            raise InvalidTransition(f"A re-review keeps, suspends or revokes the grant, not {decision!r}.") from None
        if not comment.strip():
            raise InvalidTransition("A re-review states the reason for its decision.")
        self._record(self.Closed, ctx, decision=outcome, comment=comment)
        return outcome
