"""Given / when / then for domain tests.

``given`` builds an aggregate from past events (constructed as the store would hand them back and
applied in order), a command is called on it, and ``then`` reads what it recorded — or ``refused``
checks that it was turned down by a named rule and recorded nothing. Who acts and when is
``tests.domain.cast``; a catalog entry's past events are ``tests.domain.given_catalog``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

import pytest
from eventsourcing.utils import get_topic

from domain.base import Actor, Cause, Context, LedgerAggregate
from domain.catalog import SOURCE_INDEX_ID, CatalogEntry, SourceIndex, entry_id
from domain.organizations import Organization, organization_id
from domain.rules import InvalidTransition, RuleViolation
from tests.domain.cast import T0

A = TypeVar("A", bound=LedgerAggregate)


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
