"""The msgspec mapper against the library's own mapper with its JSON transcoder.

Both map the same `CatalogEntry.Drafted` event (ten data items) to a stored event and back. The
library's transcoder needs a transcoding for every type it does not know; the msgspec Structs get
one here that turns a Struct into a dict of its fields and back, as a project on that transcoder
would have to write.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import msgspec
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    Transcoding,
    UUIDAsHex,
)

from bench.common import Options, Outcome, Row, entry_content
from domain.base import Actor, Cause, Context
from domain.catalog import CatalogEntry
from domain.catalog_values import DataItem, EntryContent
from domain.organizations import Level
from infrastructure.transcoding import MsgspecMapper, PassThroughTranscoder

NAME = "mapper"
TITLE = "msgspec mapper vs the library's JSON transcoder"
AIM = 1.0


class StructAsDict(Transcoding):
    """A msgspec Struct as the dict of its fields (nested Structs are transcoded in turn)."""

    def __init__(self, cls: type[msgspec.Struct]) -> None:
        self.type = cls
        self.name = f"struct:{cls.__qualname__}"
        self._fields = cls.__struct_fields__

    def encode(self, obj: Any) -> dict[str, Any]:
        return {f: getattr(obj, f) for f in self._fields}

    def decode(self, data: dict[str, Any]) -> Any:
        return self.type(**data)


def library_mapper() -> Mapper[Any]:
    transcoder = JSONTranscoder()
    for t in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(t)
    for cls in (Actor, Cause, EntryContent, DataItem):
        transcoder.register(StructAsDict(cls))
    return Mapper(transcoder=transcoder)


def msgspec_mapper() -> MsgspecMapper:
    return MsgspecMapper(transcoder=PassThroughTranscoder())


def sample_event() -> CatalogEntry.Drafted:
    from bench.common import ClockForBench

    ctx = Context(actor=Actor("div-relief-compiler", "div-relief", "catalog_compiler"),
                  at=ClockForBench().now(), cause=Cause("catalog.draft", "key-0001", "req-0001"))
    entry = CatalogEntry.draft(ctx, resource_code="SX-MZ-000001", provider="div-relief",
                               provider_level=Level.PROVINCE, content=entry_content(1))
    event = entry.collect_events()[0]
    assert isinstance(event, CatalogEntry.Drafted)
    return event


def _per_op(fn: Callable[[], object], n: int, repeats: int) -> float:
    """Best mean time of one call, in microseconds, over `repeats` runs of `n` calls."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, time.perf_counter() - t0)
    return best / n * 1e6


def _check_round_trip(mapper: Mapper[Any], event: CatalogEntry.Drafted) -> StoredEvent:
    stored = mapper.to_stored_event(event)
    back = mapper.to_domain_event(stored)
    assert isinstance(back, CatalogEntry.Drafted)
    assert back.originator_id == event.originator_id and back.timestamp == event.timestamp
    assert [i.code for i in back.content.data_items] == [i.code for i in event.content.data_items]
    assert back.actor == event.actor
    return stored


def run(opts: Options) -> Outcome:
    n, repeats = (2000, 3) if opts.quick else (10000, 5)
    event = sample_event()
    mine, theirs = msgspec_mapper(), library_mapper()
    mine_stored = _check_round_trip(mine, event)
    theirs_stored = _check_round_trip(theirs, event)
    timings = {
        "encode": (_per_op(lambda: mine.to_stored_event(event), n, repeats),
                   _per_op(lambda: theirs.to_stored_event(event), n, repeats)),
        "decode": (_per_op(lambda: mine.to_domain_event(mine_stored), n, repeats),
                   _per_op(lambda: theirs.to_domain_event(theirs_stored), n, repeats)),
    }
    out = Outcome(NAME, TITLE)
    for what, (ours, lib) in timings.items():
        speedup = lib / ours
        out.rows.append(Row(
            metric=f"{what} (to_{'stored' if what == 'encode' else 'domain'}_event)", figure=ours,
            unit="µs/op", baseline_name="library Mapper + JSONTranscoder", baseline=lib, baseline_unit="µs/op",
            ratio=speedup, aim=f"speed-up > {AIM:g}", met=speedup > AIM,
        ))
    out.notes.append(
        f"One CatalogEntry.Drafted event with {len(event.content.data_items)} data items; stored state "
        f"{len(mine_stored.state)} B with msgspec, {len(theirs_stored.state)} B with the library's JSON. "
        f"Best of {repeats} runs of {n} calls each. Ratio = library time / msgspec time (the speed-up). "
        "The library's decode leaves enums and tuples as plain str and list, where the msgspec mapper "
        "restores the declared types, so the baseline does less work on decode than ours does."
    )
    return out
