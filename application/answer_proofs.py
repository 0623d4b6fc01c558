"""Answers that carry their own proof: a grant-status answer (USE-1) with the events it rests on, each with its
inclusion proof in a signed checkpoint, so that the offline verifier can re-derive the decision without the
service or its database (`infrastructure/verifier.py`, `verify_answer`).

The events are every stored event of the holder's grants for the entry (the decision is folded from exactly
these) and every event of the catalog entry (its drafting, publications with their share class, revisions
and retirement). What such a proof cannot show is that no other event exists: see docs/integrity.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from application.integrity import IntegrityService
from application.sharing import SharingService, StatusAnswer
from infrastructure.store import Ledger
from infrastructure.verifier import ANSWER_FORMAT
from projections.runner import Projector
from projections.sharing_queries import GrantCache


def grant_status_with_proof(sharing: SharingService, integrity: IntegrityService, ledger: Ledger, *, holder: str,
                            entry_id: UUID, fields: tuple[str, ...], purpose: str, method: str,
                            at: datetime | None = None, since: int | None = None) -> tuple[StatusAnswer, dict[str, Any]]:
    """The answer judged from the grants' events, and the proof file that lets anyone re-derive it; with `since`
    (the tree size of a checkpoint the asker holds) also the consistency proof from it."""
    answer, positions = sharing.status_from_events(holder=holder, entry_id=entry_id, fields=fields, purpose=purpose,
                                                   method=method, at=at)
    positions += [position for position, _ in ledger.stored_events_of(entry_id)]
    head, proofs, consistency = integrity.prove_events(positions, since)
    bundle = {
        "format": ANSWER_FORMAT,
        "question": {"holder": holder, "entry_id": str(entry_id), "fields": list(fields), "purpose": purpose,
                     "method": method, "at": answer.at.isoformat()},
        "answer": msgspec.to_builtins(answer),
        "checkpoint": msgspec.to_builtins(head),
        "events": proofs,
    }
    if consistency is not None:
        bundle["consistency"] = consistency
    return answer, bundle


class GrantStatusParts:
    """What a grant-status question (USE-1) uses, as one part: the edge hands it to the handler in one
    dependency, because each further one costs the hot path a task of its own per request."""

    __slots__ = ("sharing", "grant_cache", "projector", "integrity", "ledger")

    def __init__(self, sharing: SharingService, grant_cache: GrantCache, projector: Projector,
                 integrity: IntegrityService, ledger: Ledger) -> None:
        self.sharing, self.grant_cache, self.projector = sharing, grant_cache, projector
        self.integrity, self.ledger = integrity, ledger

    def catch_up_catalog(self) -> None:
        """Waits until the catalog view holds every event recorded so far (an entry published a moment ago)."""
        self.projector.wait_for(self.ledger.max_position(), "catalog")

    def with_proof(self, *, holder: str, entry_id: UUID, fields: tuple[str, ...], purpose: str, method: str,
                   at: datetime | None = None, since: int | None = None) -> tuple[StatusAnswer, dict[str, Any]]:
        return grant_status_with_proof(self.sharing, self.integrity, self.ledger, holder=holder, entry_id=entry_id,
                                       fields=fields, purpose=purpose, method=method, at=at, since=since)
