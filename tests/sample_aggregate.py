"""A test-only aggregate with what the domain's events do not have yet: a Decimal, a frozenset, nested
Structs, and an event at its second schema version (`Renamed` gained `language`); `SampleV1` is how
version 1 of the code had it. Tests of the mapper and of schema versions end to end share it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import msgspec

from domain.base import LedgerAggregate
from domain.catalog_values import DataItem


class Detail(msgspec.Struct, frozen=True):
    label: str
    rates: dict[str, Decimal]
    item: DataItem
    note: str | None = None


class Sample(LedgerAggregate):
    """测试样例 (a test-only kind)."""

    TOPIC = "civic-ledger-tests:Sample"
    KIND = "test-sample"

    class Created(LedgerAggregate.Created):
        TOPIC = "civic-ledger-tests:Sample.Created"

    class Opened(Created):
        TOPIC = "civic-ledger-tests:Sample.Opened"
        label: str

    class Amounted(LedgerAggregate.Event):
        TOPIC = "civic-ledger-tests:Sample.Amounted"
        amount: Decimal
        tags: frozenset[str]
        detail: Detail
        due: date | None

    class Renamed(LedgerAggregate.Event):
        """Version 2 added `language`; version-1 events are read as Chinese."""

        TOPIC = "civic-ledger-tests:Sample.Renamed"
        class_version = 2
        name: str
        language: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["language"] = "zh-CN"

    def __init__(self, label: str, **_: Any) -> None:
        self.label = label


class SampleV1(LedgerAggregate):
    """`Sample` as version 1 of the code had it (only the event's shape matters)."""

    TOPIC = "civic-ledger-tests:SampleV1"

    class Created(LedgerAggregate.Created):
        TOPIC = "civic-ledger-tests:SampleV1.Created"

    class Renamed(LedgerAggregate.Event):
        TOPIC = "civic-ledger-tests:SampleV1.Renamed"
        name: str
