"""The SSE frames written from stored JSON are byte for byte those of the typed round trip, for every event type."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any, get_type_hints
from uuid import UUID

import msgspec
import pytest
from eventsourcing.persistence import StoredEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infrastructure.cloudevents import catalogue, envelope
from infrastructure.sse_frames import FrameWriter, hyphenated
from infrastructure.transcoding import MsgspecMapper, PassThroughTranscoder
from tests.strategies import strategy

MAPPER = MsgspecMapper(transcoder=PassThroughTranscoder())
TYPES = sorted(catalogue().by_name.values(), key=lambda t: t.name)
SOURCES = ("https://ledger.example.org/mz", 'http://localhost:8000/"quoted"/\u9ad8\u9f84')


def events_of(cls: type) -> st.SearchStrategy[Any]:
    hints = get_type_hints(cls, include_extras=True)
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for f in dataclasses.fields(cls):
        if f.name == "originator_id":
            fields[f.name] = st.uuids()
        elif f.name == "originator_version":
            fields[f.name] = st.integers(1, 2**31)
        elif f.name == "timestamp":  # microseconds or none: isoformat writes them only when there are some
            fields[f.name] = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1),
                                          timezones=st.just(UTC))
        elif f.name == "originator_topic":
            fields[f.name] = st.just(t_topic(cls))
        else:
            fields[f.name] = strategy(hints[f.name])
    return st.builds(cls, **fields)


def t_topic(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def typed_frame(stored: Any, pos: int, chain: bytes | None, source: str) -> bytes:
    event = MAPPER.to_domain_event(stored)
    ce = envelope(event, pos, None if chain is None else chain.hex(), source=source)
    return b"id: %d\r\ndata: %b\r\n\r\n" % (pos, msgspec.json.encode(ce))


def written(writer: FrameWriter, rows: list[tuple[int, str, int, str, bytes, bytes | None]], source: str,
            typed: list[int]) -> bytes:
    buf = bytearray()
    writer.write(buf, rows, source, lambda i: (typed.append(i), b"TYPED")[1], lambda shape: False)
    return bytes(buf)


@pytest.mark.parametrize("t", TYPES, ids=lambda t: t.name)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), pos=st.integers(1, 2**63 - 1), chain=st.none() | st.binary(min_size=32, max_size=32),
       source=st.sampled_from(SOURCES))
def test_a_frame_from_the_stored_json_equals_the_typed_round_trip(t, data, pos, chain, source):
    event = data.draw(events_of(t.cls))
    stored = MAPPER.to_stored_event(event)
    typed: list[int] = []
    got = written(FrameWriter(MAPPER.plain_bytes), [(pos, str(stored.originator_id), stored.originator_version,
                                                     stored.topic, stored.state, chain)], source, typed)
    assert typed == []  # the stored JSON is what the current class stores: no typed round trip
    assert got == typed_frame(stored, pos, chain, source)


def stored_of(t: Any, change: Any) -> tuple[int, str, int, str, bytes, bytes | None]:
    event = next(iter(_examples(t.cls)))
    stored = MAPPER.to_stored_event(event)
    state = msgspec.json.decode(stored.state)
    change(state)
    return (7, str(stored.originator_id), stored.originator_version, stored.topic, msgspec.json.encode(state), None)


def _examples(cls: type) -> list[Any]:
    found: list[Any] = []

    @settings(max_examples=1, database=None)
    @given(events_of(cls))
    def take(e: Any) -> None:
        found.append(e)

    take()
    return found


def test_a_state_the_current_class_would_not_store_takes_the_typed_round_trip():
    t = catalogue().by_name["cn.gov.shaanxi.mz.organization.registered"]
    writer = FrameWriter(MAPPER.plain_bytes)
    rows = [
        stored_of(t, lambda s: s.pop("name")),  # a field missing (the class gained it with a default)
        stored_of(t, lambda s: s.update(retired_field=1)),  # a field the class no longer declares
        stored_of(t, lambda s: s.update(class_version=0)),  # another schema version
    ]
    typed: list[int] = []
    assert written(writer, rows, SOURCES[0], typed) == b"id: 7\r\ndata: TYPED\r\n\r\n" * 3
    assert typed == [0, 1, 2]


def test_an_unregistered_topic_is_left_out_and_the_source_can_change():
    t = catalogue().by_name["cn.gov.shaanxi.mz.organization.registered"]
    row = stored_of(t, lambda s: None)
    writer = FrameWriter(MAPPER.plain_bytes)
    buf = bytearray()
    assert writer.write(buf, [(1, row[1], 1, "nowhere:Unknown", b"{}", None), row], SOURCES[0],
                        lambda i: b"", lambda shape: False) == [7]
    stored = StoredEvent(originator_id=UUID(row[1]), originator_version=row[2], topic=row[3], state=row[4])
    for source in SOURCES:
        assert written(writer, [row], source, []) == typed_frame(stored, 7, None, source)


@given(st.uuids())
def test_hex_digits_are_hyphenated_as_a_uuid_writes_them(u):
    assert hyphenated(u.hex) == hyphenated(u.hex.upper()) == str(u)
