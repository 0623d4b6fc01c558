"""The msgspec mapper gives back exactly the event it stored: same values, same types, same bytes."""

from __future__ import annotations

import dataclasses
import enum
import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import msgspec
import pytest
from eventsourcing.compressor import ZlibCompressor
from eventsourcing.cryptography import AESCipher
from eventsourcing.persistence import MapperDeserialisationError, StoredEvent
from eventsourcing.utils import Environment, get_topic
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.base import Actor, Cause
from domain.catalog import CatalogEntry, SourceIndex
from domain.catalog_values import DataItem, EntryContent, Review, ReviewDecision
from domain.organizations import Authorisation, Level, Organization, OrgKind, Role
from infrastructure.transcoding import MsgspecMapper, PassThroughTranscoder
from tests.sample_aggregate import Detail, Sample
from tests.strategies import strategy

MAPPER = MsgspecMapper(transcoder=PassThroughTranscoder())


# -- strategies --------------------------------------------------------------------------------

CHINESE = "陕西省民政厅数据资源目录最低生活保障社会救助养老服务婚姻登记区县编码身份证号"
texts = st.one_of(st.text(max_size=16), st.text(alphabet=CHINESE, min_size=1, max_size=12))
# within the declared code pattern (domain.limits.Code): events hold only what the edge accepts
codes = st.from_regex(r"[A-Z0-9][A-Z0-9_]{0,9}", fullmatch=True)
offsets = st.one_of(
    st.just(UTC),
    st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m))),
)
aware = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=offsets)
dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 1, 1))
decimals = st.decimals(allow_nan=False, allow_infinity=False, places=None)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


actors = st.builds(Actor, person=texts, organization=codes, role=st.sampled_from([str(r) for r in Role]),
                   on_behalf_of=maybe(codes))
causes = st.builds(Cause, command=texts, idempotency_key=maybe(texts), request_id=maybe(st.uuids().map(str)))
# the catalog's values as their declarations bound them (tests.strategies), the limits the edge decodes with
data_items = strategy(DataItem)
contents = strategy(EntryContent)
reviews = strategy(Review)
details = st.builds(Detail, label=texts, rates=st.dictionaries(codes, decimals, max_size=3), item=data_items,
                    note=maybe(texts))


def event_of(cls: type[Any], *, created: type[Any] | None = None, **fields: Any) -> st.SearchStrategy[Any]:
    """Any event of ``cls``: random id, version, aware timestamp, actor and cause, plus ``fields``."""
    if created is not None:
        fields["originator_topic"] = st.just(get_topic(created))
    return st.builds(cls, originator_id=st.uuids(), originator_version=st.integers(1, 2**31),
                     timestamp=aware, actor=actors, cause=causes, **fields)


catalog_events = st.one_of(
    event_of(CatalogEntry.Drafted, created=CatalogEntry, resource_code=codes, provider=codes,
             provider_level=st.sampled_from(Level), content=contents),
    event_of(CatalogEntry.DraftRevised, version=st.integers(1, 99), content=contents),
    event_of(CatalogEntry.Submitted, version=st.integers(1, 99)),
    event_of(CatalogEntry.Reviewed, version=st.integers(1, 99), review=reviews,
             decision=st.sampled_from(ReviewDecision)),
    event_of(CatalogEntry.DuplicateSourceAccepted, version=st.integers(1, 99), item_code=codes,
             existing_source=codes),
    event_of(CatalogEntry.Published, version=st.integers(1, 99), published_on=dates, content=contents),
    event_of(CatalogEntry.RevisionStarted, version=st.integers(2, 99), content=contents),
    event_of(CatalogEntry.DataRefreshed, as_of=aware),
    event_of(CatalogEntry.Retired, reason=texts),
    event_of(SourceIndex.SourcesClaimed, resource_code=codes, codes=st.lists(codes, max_size=5).map(tuple)),
)
organization_events = st.one_of(
    event_of(Organization.Registered, created=Organization, code=codes, name=texts,
             kind=st.sampled_from(OrgKind), level=st.sampled_from(Level), parent=maybe(codes)),
    event_of(Organization.RoleAssigned, person=texts, role=st.sampled_from(Role)),
    event_of(Organization.RoleRevoked, person=texts, role=st.sampled_from(Role)),
    event_of(Organization.ServiceAuthorised, authorisation=st.builds(
        Authorisation, serves=codes, valid_from=dates, valid_to=dates, scope=texts)),
    event_of(Organization.ServiceAuthorisationWithdrawn, serves=codes, effective=dates),
)
sample_events = st.one_of(
    event_of(Sample.Opened, created=Sample, label=texts),
    event_of(Sample.Amounted, amount=decimals, tags=st.frozensets(texts, max_size=5), detail=details,
             due=maybe(dates)),
    event_of(Sample.Renamed, name=texts, language=texts),
)
any_event = st.one_of(catalog_events, organization_events, sample_events)


# -- exact comparison --------------------------------------------------------------------------

def assert_same(got: Any, want: Any, path: str = "event") -> None:
    """Equal values of exactly the same types, all the way down (enum members, Structs, tuples)."""
    assert type(got) is type(want), f"{path}: {type(got).__name__} is not {type(want).__name__}"
    if isinstance(want, datetime):
        assert got.tzinfo is not None and got.utcoffset() == want.utcoffset(), path
        assert got.replace(tzinfo=None) == want.replace(tzinfo=None), path
    elif isinstance(want, Decimal):
        assert str(got) == str(want), path
    elif isinstance(want, tuple | list):
        assert len(got) == len(want), path
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_same(g, w, f"{path}[{i}]")
    elif isinstance(want, frozenset | set):
        assert got == want, path
        for g, w in zip(sorted(got), sorted(want), strict=True):
            assert_same(g, w, f"{path}{{}}")
    elif isinstance(want, dict):
        assert list(got) == list(want) or set(got) == set(want), path
        for key in want:
            assert_same(got[key], want[key], f"{path}[{key!r}]")
    elif isinstance(want, msgspec.Struct):
        for name in want.__struct_fields__:
            assert_same(getattr(got, name), getattr(want, name), f"{path}.{name}")
    elif dataclasses.is_dataclass(want):
        for f in dataclasses.fields(want):
            assert_same(getattr(got, f.name), getattr(want, f.name), f"{path}.{f.name}")
    else:
        assert got == want, path


def round_trip(event: Any, mapper: MsgspecMapper = MAPPER) -> Any:
    return mapper.to_domain_event(mapper.to_stored_event(event))


# -- properties --------------------------------------------------------------------------------

@settings(max_examples=300)
@given(event=st.one_of(catalog_events, organization_events))
def test_domain_events_round_trip_with_exact_types(event: Any) -> None:
    back = round_trip(event)
    assert back == event
    assert_same(back, event)


@settings(max_examples=200)
@given(event=sample_events)
def test_decimal_frozenset_and_nested_structs_round_trip(event: Any) -> None:
    back = round_trip(event)
    assert back == event
    assert_same(back, event)


@given(event=any_event)
def test_stored_event_keeps_id_version_and_topic(event: Any) -> None:
    stored = MAPPER.to_stored_event(event)
    assert (stored.originator_id, stored.originator_version) == (event.originator_id, event.originator_version)
    assert stored.topic == type(event).TOPIC
    state = json.loads(stored.state)
    assert "originator_id" not in state and "originator_version" not in state


@given(event=any_event)
def test_stored_bytes_are_deterministic(event: Any) -> None:
    first = MAPPER.to_stored_event(event).state
    assert MAPPER.to_stored_event(event).state == first
    assert MAPPER.to_stored_event(round_trip(event)).state == first
    assert list(json.loads(first)) == sorted(json.loads(first))


@given(tags=st.lists(texts, min_size=2, max_size=6, unique=True), event=sample_events)
def test_set_order_does_not_change_the_bytes(tags: list[str], event: Any) -> None:
    if not isinstance(event, Sample.Amounted):
        event = Sample.Amounted(
            originator_id=event.originator_id, originator_version=event.originator_version,
            timestamp=event.timestamp, actor=event.actor, cause=event.cause, amount=Decimal("12.50"),
            tags=frozenset(), due=None,
            detail=Detail(label="标签", rates={}, item=DataItem(code="ID", name="身份证号", type="string")),
        )
    forward = dataclasses.replace(event, tags=frozenset(tags))
    backward = dataclasses.replace(event, tags=frozenset(reversed(tags)))
    stored = MAPPER.to_stored_event(forward).state
    assert MAPPER.to_stored_event(backward).state == stored
    assert json.loads(stored)["tags"] == sorted(tags)


CIPHER_KEY = AESCipher.create_key(num_bytes=32)


@settings(max_examples=50)
@given(event=any_event)
def test_compressed_and_encrypted_events_round_trip(event: Any) -> None:
    cipher = AESCipher(Environment(env={"CIPHER_KEY": CIPHER_KEY}))
    mapper = MsgspecMapper(transcoder=PassThroughTranscoder(), compressor=ZlibCompressor(), cipher=cipher)
    stored = mapper.to_stored_event(event)
    assert MAPPER.to_stored_event(event).state not in stored.state
    assert_same(mapper.to_domain_event(stored), event)



# -- examples ----------------------------------------------------------------------------------

AT = datetime(2024, 5, 1, 10, 0, tzinfo=timezone(timedelta(hours=8)))
WHO = Actor(person="张三", organization="office", role="office_admin")
WHY = Cause(command="sample.rename", idempotency_key="k-1")


def test_upcast_upgrades_old_stored_bytes() -> None:
    old = (
        '{"actor":{"organization":"office","person":"张三","role":"office_admin"},'
        '"cause":{"command":"sample.rename","idempotency_key":"k-1"},'
        '"name":"民政厅","timestamp":"2024-05-01T10:00:00+08:00"}'
    ).encode()
    oid = uuid4()
    event = MAPPER.to_domain_event(StoredEvent(oid, 3, Sample.Renamed.TOPIC, old))
    expected = Sample.Renamed(originator_id=oid, originator_version=3, timestamp=AT, actor=WHO, cause=WHY,
                              name="民政厅", language="zh-CN")
    assert_same(event, expected)


def test_current_version_is_stored_with_its_class_version_and_not_upcast() -> None:
    event = Sample.Renamed(originator_id=uuid4(), originator_version=2, timestamp=AT, actor=WHO, cause=WHY,
                           name="民政厅", language="en")
    stored = MAPPER.to_stored_event(event)
    assert json.loads(stored.state)["class_version"] == 2
    assert_same(MAPPER.to_domain_event(stored), event)


def test_a_named_zone_comes_back_as_the_same_instant_with_its_offset() -> None:
    shanghai = datetime(2026, 3, 2, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    event = CatalogEntry.DataRefreshed(originator_id=uuid4(), originator_version=4, timestamp=shanghai,
                                       actor=WHO, cause=WHY, as_of=shanghai)
    back = round_trip(event)
    assert back == event
    assert back.timestamp.utcoffset() == timedelta(hours=8) and back.as_of.tzinfo is not None


def test_enums_and_ids_come_back_typed() -> None:
    event = Organization.RoleAssigned(originator_id=UUID(int=7), originator_version=2, timestamp=AT, actor=WHO,
                                      cause=WHY, person="李四", role=Role.CATALOG_REVIEWER)
    back = round_trip(event)
    assert back.role is Role.CATALOG_REVIEWER and isinstance(back.role, enum.Enum)
    assert type(back.originator_id) is UUID and type(back.actor) is Actor


@pytest.mark.parametrize("state", [
    b"not json",
    b'{"timestamp":"yesterday"}',
    b"[]",
])
def test_undecodable_bytes_raise_a_mapper_error(state: bytes) -> None:
    with pytest.raises(MapperDeserialisationError):
        MAPPER.to_domain_event(StoredEvent(uuid4(), 1, CatalogEntry.Retired.TOPIC, state))
