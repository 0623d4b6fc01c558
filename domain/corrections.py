"""Which events are corrections, when each takes effect, and which earlier event's effect it moves.

The read models answer "as at T, as known at T′" by applying, over the ledger prefix recorded by
T, the corrections recorded after T but by T′ that take effect by T, together with the events
whose effect those corrections move to on or before T.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.catalog import CatalogEntry
from domain.grants import Grant
from domain.systems import InformationSystem
from domain.time_axes import day_start

CORRECTIONS: tuple[type[Any], ...] = (
    Grant.SuspensionBackdated, Grant.RevocationBackdated, Grant.ValidityCorrected,
    CatalogEntry.EffectiveDateCorrected, InformationSystem.GoLiveDateCorrected,
    InformationSystem.ShutdownDateCorrected,
)


def is_correction(event: Any) -> bool:
    return isinstance(event, CORRECTIONS)


def effective_instant(event: Any) -> datetime | None:
    """When a correction takes effect; None for one that corrects a field and counts as soon as it is known."""
    if isinstance(event, (Grant.SuspensionBackdated, Grant.RevocationBackdated)):
        return event.effective_at
    if isinstance(event, CatalogEntry.EffectiveDateCorrected):
        return day_start(event.effective_on)
    if isinstance(event, (InformationSystem.GoLiveDateCorrected, InformationSystem.ShutdownDateCorrected)):
        return day_start(event.on)
    return None


def moved_version(event: Any) -> int | None:
    """The version of the same aggregate's event whose effect the correction moves earlier, if any."""
    if isinstance(event, (CatalogEntry.EffectiveDateCorrected, InformationSystem.GoLiveDateCorrected,
                          InformationSystem.ShutdownDateCorrected)):
        return event.corrects_version or None
    return None
