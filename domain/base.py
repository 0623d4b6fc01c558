"""What every event of the ledger carries: who acted, when, and the command that caused it."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any, ClassVar, TypeVar
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate

from domain.rules import OutOfRange

#: The ledger's calendar: every date and instant it is given lies in these years, so that the
#: day and time-zone arithmetic done with them (UTC+8 periods, grace days) never leaves Python's.
EARLIEST = date(1900, 1, 1)
LATEST = date(9998, 12, 31)


#: The ledger's calendar runs on Beijing time (UTC+8, no daylight saving): every date derived from an
#: instant (a publication date, a grant's days, an access-log day, a deadline) is its date there.
BEIJING = timezone(timedelta(hours=8), "UTC+8")


def ledger_date(instant: datetime) -> date:
    """The calendar date of an instant in the ledger's calendar (Beijing): 02:35+08:00 is that day, not the one before."""
    return instant.astimezone(BEIJING).date()


def day_start(day: date) -> datetime:
    """00:00 of a calendar date in the ledger's calendar (Beijing)."""
    return datetime.combine(day, time.min, BEIJING)


def day_end(day: date) -> datetime:
    """The last microsecond of a calendar date in the ledger's calendar (Beijing)."""
    return datetime.combine(day, time.max, BEIJING)


def check_calendar(**values: date | datetime | None) -> None:
    """Refuses, naming the field, a date or instant outside the ledger's calendar."""
    for name, value in values.items():
        if value is not None and not EARLIEST <= (value.date() if isinstance(value, datetime) else value) <= LATEST:
            raise OutOfRange(name, f"{value.isoformat()} is outside the ledger's calendar "
                                   f"({EARLIEST.isoformat()} to {LATEST.isoformat()}).")


class Actor(msgspec.Struct, frozen=True):
    """The person who acted, for which organization, under which designated role."""

    person: str
    organization: str
    role: str
    on_behalf_of: str | None = None

    @property
    def acting_for(self) -> str:
        """The organization the act counts for: the served one when a service unit acts (ORG-2)."""
        return self.on_behalf_of or self.organization


class Cause(msgspec.Struct, frozen=True):
    """The command that caused an event, with the client's idempotency key when one was sent."""

    command: str
    idempotency_key: str | None = None
    request_id: str | None = None


class Context(msgspec.Struct, frozen=True):
    """Everything a command needs from outside the domain: actor, decision time and cause."""

    actor: Actor
    at: datetime
    cause: Cause


A = TypeVar("A", bound="LedgerAggregate")


class LedgerAggregate(Aggregate):
    """Base aggregate: every event names its actor and cause; time is always passed in."""

    TOPIC: ClassVar[str] = "civic-ledger:LedgerAggregate"
    KIND: ClassVar[str] = ""

    class Event(Aggregate.Event):
        TOPIC = "civic-ledger:LedgerAggregate.Event"
        actor: Actor
        cause: Cause

    class Created(Event, Aggregate.Created):
        TOPIC = "civic-ledger:LedgerAggregate.Created"

    def _record(self, event_class: type[Any], ctx: Context, **fields: Any) -> None:
        self.trigger_event(
            event_class, timestamp=ctx.at, actor=ctx.actor, cause=ctx.cause, **fields
        )

    @classmethod
    def _start(cls: type[A], event_class: type[Any], ctx: Context, *, id: UUID, **fields: Any) -> A:  # noqa: A002
        return cls._create(
            event_class, id=id, timestamp=ctx.at, actor=ctx.actor, cause=ctx.cause, **fields
        )
