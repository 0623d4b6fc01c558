"""The two time axes: who may date a fact before the moment it is recorded (TIME-1 … TIME-3).

Recorded time is when the ledger learned a fact (the event's timestamp and position); effective
time is when the fact took legal effect. An ordinary event takes effect when it is recorded; a
correction carries its own, earlier, effective time as a field and names what it corrects.
"""

from __future__ import annotations

from datetime import date

from domain.base import Context, day_start, ledger_date
from domain.organizations import is_office
from domain.rules import RuleViolation

__all__ = ["check_dated_correction", "day_start", "require_backdating_office"]


def require_backdating_office(ctx: Context, what: str) -> None:
    """TIME-1: only the Office (office_admin) dates a fact before the moment it is recorded."""
    if not is_office(ctx):
        raise RuleViolation("TIME-1", f"Only the Office (office_admin) {what}; others record facts as they happen.")


def check_dated_correction(ctx: Context, *, on: date, earliest: date, earliest_what: str, recorded: date,
                           what: str) -> None:
    """TIME-2 and TIME-3 for a dated correction: not before `earliest`, not after what it corrects or today."""
    if on < earliest:
        raise RuleViolation("TIME-2", f"{what} is dated {on.isoformat()}, before {earliest_what} "
                            f"({earliest.isoformat()}); a correction never reaches before the fact it corrects.",
                            on=on.isoformat())
    today = ledger_date(ctx.at)
    if on > today or on >= recorded:
        raise RuleViolation("TIME-3", f"{what} is dated {on.isoformat()}; a correction only moves a fact earlier "
                            f"than recorded ({recorded.isoformat()}) and never past today ({today.isoformat()}).",
                            on=on.isoformat())
