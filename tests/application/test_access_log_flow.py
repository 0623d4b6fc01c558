"""Access-log ingestion on both stores: atomic batches, request ids stored once, single-use grants consumed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from eventsourcing.persistence import IntegrityError

from application.common import ApplicationError, Forbidden
from domain.access_log import AccessLogBatch, judge
from domain.base import BEIJING, Cause, Context
from domain.limits import MAX_RECORD_COUNT
from domain.rules import RuleViolation
from projections.access_log_archive import archives
from projections.access_log_queries import AccessLogFilter
from projections.scope import EVERYTHING, Scope
from tests.application.access_log_world import World
from tests.support import cmd


@pytest.fixture
def world(runtime, admin, clock) -> World:
    return World(runtime, admin, clock)


def stored(rt) -> int:
    rt.projector.catch_up_all()
    return int(rt.ledger.db.scalar("SELECT COUNT(*) FROM access_log"))


def test_a_batch_is_judged_record_by_record_and_stored(runtime, world):
    batch = [world.access("div-elder"), world.access("div-welfare", fields=("A", "C")),
             world.access("xa-nobody"), world.access("div-elder", purpose="其他用途")]
    answer, position = runtime.access_log.record(world.platform, cmd(), batch)
    assert position and (answer.allowed, answer.denied, answer.duplicates) == (1, 3, 0)
    outcomes = [(r.outcome, [x.code for x in r.reasons]) for r in answer.records]
    assert outcomes == [("allowed", []), ("denied", ["field_not_granted"]), ("denied", ["no_grant"]),
                        ("denied", ["other_purpose"])]
    assert answer.records[0].grant_id == str(world.grants[("div-elder", world.open)])
    assert stored(runtime) == 4


def test_one_invalid_record_stores_nothing(runtime, world, clock):
    good = world.access()
    for bad in (world.access(entry=uuid4()),                           # no such catalog entry
                world.access(at=clock.now() + timedelta(hours=1)),      # in the future
                world.access(record_count=-1),
                world.access(request_id=good.request_id),               # twice in one batch
                world.access(provider="div-elder"),                     # not the entry's provider
                world.access(at=datetime(2026, 3, 1, 9, 0))):           # no time zone
        with pytest.raises(ApplicationError):
            runtime.access_log.record(world.platform, cmd(), [good, bad])
    assert stored(runtime) == 0
    assert runtime.access_log.stored_request_ids([good.request_id]) == set()


def test_the_same_batch_twice_stores_nothing_twice(runtime, world):
    batch = [world.access(), world.access("div-welfare")]
    first, _ = runtime.access_log.record(world.platform, cmd(), batch)
    again, position = runtime.access_log.record(world.platform, cmd(), batch)
    assert position is None and again.batch_id is None
    assert (again.allowed, again.denied, again.duplicates) == (0, 0, 2)
    assert [r.outcome for r in again.records] == [r.outcome for r in first.records]
    assert all(r.duplicate for r in again.records)
    assert stored(runtime) == 2


def test_overlapping_batches_store_only_the_new_records(runtime, world):
    a, b, c = world.access(), world.access(), world.access()
    runtime.access_log.record(world.platform, cmd(), [a, b])
    answer, _ = runtime.access_log.record(world.platform, cmd(), [b, c])
    assert [(r.request_id, r.duplicate) for r in answer.records] == [(b.request_id, True), (c.request_id, False)]
    assert answer.duplicates == 1 and answer.allowed == 1
    assert stored(runtime) == 3


def test_a_single_use_grant_is_consumed_by_its_first_allowed_record(runtime, world, clock):
    gid = world.grants[("div-elder", world.limited)]
    t = clock.now() - timedelta(minutes=30)
    later, first = world.access(entry=world.limited, at=t + timedelta(minutes=1)), world.access(entry=world.limited, at=t)
    answer, _ = runtime.access_log.record(world.platform, cmd(), [later, first])
    assert [r.outcome for r in answer.records] == ["denied", "allowed"]
    assert answer.records[1].consumed_grant == str(gid)
    assert [x.code for x in answer.records[0].reasons] == ["consumed"]
    g = runtime.sharing.load_grant(gid)
    assert g.status == "consumed" and g.consumed_at == t
    # a later batch, even with an earlier time of access, finds the one use spent
    late, _ = runtime.access_log.record(world.platform, cmd(), [world.access(entry=world.limited, at=t - timedelta(1))])
    assert late.denied == 1


def test_a_use_already_recorded_by_the_status_query_is_logged_as_allowed(runtime, world):
    gid = world.grants[("div-elder", world.limited)]
    status, _ = runtime.sharing.use(world.platform, cmd(), holder="div-elder", entry_id=world.limited, fields=("LA",),
                                    purpose=world.access().purpose, method="interface")
    assert status.recorded_use
    named = world.access(entry=world.limited, at=status.at, grant_id=gid)
    answer, _ = runtime.access_log.record(world.platform, cmd(), [named, world.access(entry=world.limited,
                                                                                      at=status.at, grant_id=gid)])
    assert [r.outcome for r in answer.records] == ["allowed", "denied"]
    assert answer.records[0].consumed_grant is None


def test_records_are_judged_at_their_time_of_access(runtime, world, admin, clock):
    gid = world.grants[("div-elder", world.open)]
    before = clock.now() - timedelta(minutes=10)
    runtime.sharing.suspend(admin, cmd(), gid, reason="核查")
    after = clock.now() + timedelta(seconds=1)
    clock.advance(minutes=1)
    answer, _ = runtime.access_log.record(world.platform, cmd(), [world.access(at=before), world.access(at=after)])
    assert [r.outcome for r in answer.records] == ["allowed", "denied"]
    assert [x.code for x in answer.records[1].reasons] == ["suspended"]


def test_only_the_platform_records(runtime, world, admin):
    with pytest.raises(Forbidden):
        runtime.access_log.record(admin, cmd(), [world.access()])


def test_scoping_and_the_window(runtime, world, clock):
    runtime.access_log.record(world.platform, cmd(), [world.access("div-elder"), world.access("div-welfare")])
    runtime.projector.catch_up_all()
    q, since = runtime.access_log_queries, clock.now() - timedelta(days=3 * 365)
    elder, _ = q.records(scope=Scope("div-elder"), since=since, f=AccessLogFilter())
    assert {r.holder for r in elder} == {"div-elder"}
    provider, _ = q.records(scope=Scope("div-relief"), since=since, f=AccessLogFilter())
    assert len(provider) == 2
    assert q.records(scope=EVERYTHING, since=clock.now(), f=AccessLogFilter())[0] == []


def test_archive_refuses_young_records_and_moves_old_ones(runtime, world, clock, tmp_path: Path):
    old = datetime(2022, 6, 1, tzinfo=UTC)
    runtime.access_log.record(world.platform, cmd(), [world.access(at=old), world.access()])
    with pytest.raises(RuleViolation) as refused:
        runtime.access_log.archive(before=date(2024, 1, 1), out=tmp_path / "young.jsonl")
    assert refused.value.rule == "LOG-1" and refused.value.article == "第二十二条"
    assert stored(runtime) == 2
    done = runtime.access_log.archive(before=date(2023, 1, 1), out=tmp_path / "old.jsonl")
    assert done.rows == 1 and len((tmp_path / "old.jsonl").read_bytes().splitlines()) == 1
    assert stored(runtime) == 1 and archives(runtime.ledger.db)[0]["rows_moved"] == 1
    runtime.projector.rebuild(["access_log"])
    assert stored(runtime) == 1  # a rebuild does not bring archived rows back into the hot view


def test_a_request_id_already_stored_rolls_the_whole_save_back(runtime, world):
    """The uniqueness rows are written with the events: a concurrent duplicate leaves nothing behind."""
    first = world.access()
    runtime.access_log.record(world.platform, cmd(), [first])
    head = runtime.ledger.max_position()
    c = Context(actor=runtime.access_log.actor(world.platform, ("platform",)), at=runtime.clock.now(), cause=Cause("test"))
    batch = AccessLogBatch.record(c, id=uuid4(), records=judge(c, [world.access(), first], {}, lambda _: None))
    with pytest.raises(IntegrityError):
        runtime.ledger.save(batch, unique_keys=("access-log", [r.request_id for r in batch.records]))
    assert runtime.ledger.max_position() == head


def test_daily_counts_add_up_across_pages_past_32_bits(runtime, world):
    """The per-day counts are summed in each page and added to the stored ones (PostgreSQL: one statement per
    page): two records of the largest count the edge and the domain take (decision 9) in one page, then a third
    in a later page, on both stores; the sums are exact past any integer column (decision 10)."""
    big = MAX_RECORD_COUNT
    at = world.clock.now() - timedelta(minutes=5)
    first = [world.access("div-elder", at=at, record_count=big), world.access("div-elder", at=at, record_count=big),
             world.access("xa-nobody", at=at, record_count=3)]
    runtime.access_log.record(world.platform, cmd(), first)
    runtime.projector.catch_up_all()
    runtime.access_log.record(world.platform, cmd(), [world.access("div-elder", at=at, record_count=big)])
    runtime.projector.catch_up_all()
    rows = {(r["org"], r["side"]): (int(r["allowed"]), int(r["denied"]), int(r["records"])) for r in
            runtime.ledger.db.query("SELECT org, side, allowed, denied, records FROM access_log_daily")}
    assert rows == {("div-elder", "holder"): (3, 0, 3 * big), ("xa-nobody", "holder"): (0, 1, 3),
                    ("div-relief", "provider"): (3, 1, 3 * big + 3)}


def test_daily_counts_fall_on_the_beijing_day_of_each_time_of_access(runtime, world):
    """Each record counts on the Beijing day of its instant, whatever the offset it was sent with: either side of
    16:00 UTC, in UTC, at other fixed offsets and in named zones, on both stores (PostgreSQL counts in the client)."""
    edge = (world.clock.now() - timedelta(days=2)).astimezone(UTC).replace(hour=16, minute=0, second=0, microsecond=0)
    just = timedelta(microseconds=1)
    zones = (UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-10)),
             ZoneInfo("Asia/Shanghai"), ZoneInfo("America/New_York"))
    times = [(edge + d).astimezone(z) for z in zones for d in (-just, timedelta(0), timedelta(hours=7, minutes=59))]
    runtime.access_log.record(world.platform, cmd(), [world.access("div-elder", at=t) for t in times])
    runtime.projector.catch_up_all()
    counted = {str(r["day"]): int(r["allowed"]) + int(r["denied"]) for r in runtime.ledger.db.query(
        "SELECT day, allowed, denied FROM access_log_daily WHERE side = 'holder'")}
    expected: dict[str, int] = {}
    for t in times:
        day = t.astimezone(BEIJING).date().isoformat()
        expected[day] = expected.get(day, 0) + 1
    assert counted == expected
    assert len(expected) == 2 and set(expected.values()) == {len(zones), 2 * len(zones)}
