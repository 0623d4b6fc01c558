"""Given / when / then for domain tests.

``given`` builds an aggregate from past events (constructed as the store would hand them back and
applied in order), a command is called on it, and ``then`` reads what it recorded — or ``refused``
checks that it was turned down by a named rule and recorded nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, TypeVar
from uuid import UUID

import pytest
from eventsourcing.utils import get_topic

from domain.base import Actor, Cause, Context, LedgerAggregate
from domain.catalog import SOURCE_INDEX_ID, CatalogEntry, SourceIndex, entry_id
from domain.catalog_values import EntryContent, Review, ReviewDecision
from domain.organizations import OFFICE_CODE, Level, Organization, Role, organization_id
from domain.rules import InvalidTransition, RuleViolation
from tests.support import PASS, content

A = TypeVar("A", bound=LedgerAggregate)

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=CST)
TODAY = T0.date()

DIV = "div-relief"
OTHER_DIV = "div-welfare"
CITY = "xa-bureau"
CODE = "SX-MZ-001"


def actor(person: str, organization: str, role: Role | str, on_behalf_of: str | None = None) -> Actor:
    return Actor(person=person, organization=organization, role=str(role), on_behalf_of=on_behalf_of)


OFFICE_ADMIN = actor("office-admin", OFFICE_CODE, Role.OFFICE_ADMIN)
OFFICE_REVIEWER = actor("office-reviewer", OFFICE_CODE, Role.CATALOG_REVIEWER)
COMPILER = actor("div-compiler", DIV, Role.CATALOG_COMPILER)
REVIEWER = actor("div-reviewer", DIV, Role.CATALOG_REVIEWER)
OTHER_COMPILER = actor("welfare-compiler", OTHER_DIV, Role.CATALOG_COMPILER)
OTHER_REVIEWER = actor("welfare-reviewer", OTHER_DIV, Role.CATALOG_REVIEWER)
CITY_COMPILER = actor("xa-compiler", CITY, Role.CATALOG_COMPILER)
CITY_REVIEWER = actor("xa-reviewer", CITY, Role.CATALOG_REVIEWER)


def ctx(who: Actor, at: datetime = T0, command: str = "test") -> Context:
    """The context of a command: who acts, when, and the command name."""
    return Context(actor=who, at=at, cause=Cause(command=command))


@dataclass(frozen=True)
class Past:
    """One event of an aggregate's history, before it is numbered and stamped."""

    event_class: type[Any]
    by: Actor
    fields: dict[str, Any] = field(default_factory=dict)


def past(event_class: type[Any], by: Actor, **fields: Any) -> Past:
    return Past(event_class, by, fields)


_IDS: dict[type[Any], Callable[[dict[str, Any]], UUID]] = {
    CatalogEntry: lambda f: entry_id(f["resource_code"]),
    Organization: lambda f: organization_id(f["code"]),
    SourceIndex: lambda f: SOURCE_INDEX_ID,
}


def given(aggregate_class: type[A], *history: Past, start: datetime = T0) -> A:
    """The aggregate as replayed from ``history``: versions count from 1, one minute apart."""
    assert history, "a history starts with a created event"
    originator_id = _IDS[aggregate_class](history[0].fields)
    aggregate: Any = None
    for version, fact in enumerate(history, start=1):
        extra = {"originator_topic": get_topic(aggregate_class)} if version == 1 else {}
        event = fact.event_class(
            originator_id=originator_id,
            originator_version=version,
            timestamp=start - timedelta(minutes=len(history) - version + 1),
            actor=fact.by,
            cause=Cause(command=f"given.{fact.event_class.__name__}"),
            **extra,
            **fact.fields,
        )
        aggregate = event.mutate(aggregate)
    assert isinstance(aggregate, aggregate_class) and not aggregate.pending_events
    return aggregate


@dataclass(frozen=True)
class Expected:
    event_class: type[Any]
    by: Actor | None
    fields: dict[str, Any]


def event(event_class: type[Any], by: Actor | None = None, **fields: Any) -> Expected:
    """An event a ``then`` expects: its class, optionally its actor, and the fields to compare."""
    return Expected(event_class, by, fields)


def then(aggregate: LedgerAggregate, *expected: Expected) -> list[Any]:
    """Asserts the command recorded exactly these events, in order; returns them."""
    recorded: list[Any] = list(aggregate.collect_events())
    assert [type(e) for e in recorded] == [x.event_class for x in expected]
    for got, want in zip(recorded, expected, strict=True):
        if want.by is not None:
            assert got.actor == want.by
        for name, value in want.fields.items():
            assert getattr(got, name) == value, f"{type(got).__name__}.{name}"
    return recorded


@contextmanager
def refused(rule_id: str, aggregate: LedgerAggregate | None = None) -> Iterator[pytest.ExceptionInfo[RuleViolation]]:
    """The block is refused under ``rule_id`` and, when an aggregate is named, records nothing."""
    with pytest.raises(RuleViolation) as info:
        yield info
    assert info.value.rule == rule_id, f"refused under {info.value.rule}, not {rule_id}: {info.value}"
    if aggregate is not None:
        assert list(aggregate.collect_events()) == []


@contextmanager
def invalid(aggregate: LedgerAggregate | None = None) -> Iterator[pytest.ExceptionInfo[InvalidTransition]]:
    """The block is an invalid transition (not a rule of the Measures) and records nothing."""
    with pytest.raises(InvalidTransition) as info:
        yield info
    if aggregate is not None:
        assert list(aggregate.collect_events()) == []


# -- past events of a catalog entry ---------------------------------------------------------

def drafted(
    body: EntryContent | None = None, *, by: Actor = COMPILER, provider: str = DIV,
    level: Level = Level.PROVINCE, code: str = CODE,
) -> Past:
    return past(CatalogEntry.Drafted, by, resource_code=code, provider=provider, provider_level=level,
                content=body or content())


def submitted(version: int = 1, *, by: Actor = COMPILER) -> Past:
    return past(CatalogEntry.Submitted, by, version=version)


def reviewed(
    version: int = 1, *, review: Review = PASS, decision: ReviewDecision = ReviewDecision.APPROVE,
    by: Actor = REVIEWER,
) -> Past:
    return past(CatalogEntry.Reviewed, by, version=version, review=review, decision=decision)


def accepted(item_code: str, source: str, version: int = 1, *, by: Actor = OFFICE_ADMIN) -> Past:
    return past(CatalogEntry.DuplicateSourceAccepted, by, version=version, item_code=item_code,
                existing_source=source)


def published(version: int = 1, body: EntryContent | None = None, *, by: Actor = OFFICE_ADMIN,
              on: date = TODAY) -> Past:
    return past(CatalogEntry.Published, by, version=version, published_on=on, content=body or content())


def revision_started(version: int = 2, body: EntryContent | None = None, *, by: Actor = COMPILER) -> Past:
    return past(CatalogEntry.RevisionStarted, by, version=version, content=body or content())


def retired(reason: str = "no longer collected", *, by: Actor = OFFICE_ADMIN) -> Past:
    return past(CatalogEntry.Retired, by, reason=reason)


def approved(body: EntryContent | None = None, **draft: Any) -> tuple[Past, ...]:
    """Drafted, submitted and approved: version 1 is ready to publish."""
    return drafted(body, **draft), submitted(), reviewed()


def live(body: EntryContent | None = None, **draft: Any) -> tuple[Past, ...]:
    """Version 1 published by the Office."""
    return (*approved(body, **draft), published(body=body))


# -- a catalog entry, and the commands its tests repeat ---------------------------------------

APPROVE, RETURN = ReviewDecision.APPROVE, ReviewDecision.RETURN
NONE_ELSEWHERE: dict[str, str] = {}
"""The source index as a command sees it when no other entry provides any of the data items."""


def entry(*history: Past) -> CatalogEntry:
    """A catalog entry with this history."""
    return given(CatalogEntry, *history)


def publish(e: CatalogEntry, who: Actor = OFFICE_ADMIN, sources: dict[str, str] = NONE_ELSEWHERE) -> None:
    """`who` publishes the pending version today, with `sources` as the other entries' data items."""
    e.publish(ctx(who), published_on=TODAY, existing_sources=sources)
