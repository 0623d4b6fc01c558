"""Access records judged at their time of access (USE-1), single use within a batch, LOG-1's window."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from uuid import UUID

import msgspec
import pytest

from domain.access_log import Access, AccessLogBatch, Outcome, archive_cutoff, judge
from domain.grants import Grant
from domain.rules import InvalidTransition, RuleViolation
from domain.sharing_values import GrantKind
from tests.domain.cast import OFFICE_ADMIN, T0
from tests.domain.given import ctx
from tests.domain.given_sharing import HOLDER, LIMITED, OPEN, PLATFORM, PURPOSE, spec

NOW = T0 + timedelta(days=1)


def live(s) -> tuple[Grant, list]:
    """A grant granted at T0 - 1 day, with its stored events."""
    g = Grant.create(ctx(OFFICE_ADMIN, T0 - timedelta(days=1)), spec=s, id=s.grant_id)
    return g, list(g.collect_events())


def access(entry=OPEN, at: datetime = T0, n: int = 1, **over) -> Access:
    fields = over.pop("fields", entry.item_codes[:1])
    return Access(request_id=f"r{n}", holder=HOLDER, provider=entry.provider, entry_id=entry.entry_id, fields=fields,
                  purpose=PURPOSE, method="interface", record_count=1, accessed_at=at, **over)


def judged(accesses, *grants):
    history = {}
    for g, events in grants:
        history.setdefault((g.spec.holder, g.spec.entry_id), []).extend(events)
    by_id = {g.id: g for g, _ in grants}
    return judge(ctx(PLATFORM, NOW), accesses, history, by_id.get)


def test_the_first_allowed_record_consumes_a_single_use_grant_and_later_ones_see_it_spent():
    g, events = live(spec(LIMITED))
    assert g.spec.kind == GrantKind.SINGLE_USE
    later, first = access(LIMITED, T0 + timedelta(hours=1), 1), access(LIMITED, T0, 2)
    out = judged([later, first], (g, events))
    assert [r.outcome for r in out] == [Outcome.DENIED, Outcome.ALLOWED]
    assert [x.code for x in out[0].reasons] == ["consumed"]
    assert out[1].consumed_grant == g.id
    [used] = g.collect_events()
    assert isinstance(used, Grant.Consumed) and used.at == T0


def test_a_reusable_grant_allows_every_record_and_is_not_consumed():
    g, events = live(spec(OPEN))
    out = judged([access(n=1), access(n=2)], (g, events))
    assert [r.outcome for r in out] == [Outcome.ALLOWED, Outcome.ALLOWED]
    assert out[0].grant_id == g.id and not g.pending_events


def test_each_record_is_judged_at_its_own_time_of_access():
    g, events = live(spec(OPEN))
    g.suspend(ctx(OFFICE_ADMIN, T0), reason="核查")
    events += g.collect_events()
    out = judged([access(at=T0 - timedelta(minutes=1), n=1), access(at=T0 + timedelta(minutes=1), n=2),
                  access(at=T0 - timedelta(days=2), n=3)], (g, events))
    assert [r.outcome for r in out] == [Outcome.ALLOWED, Outcome.DENIED, Outcome.DENIED]
    assert [x.code for x in out[1].reasons] == ["suspended"]
    assert [x.code for x in out[2].reasons] == ["no_grant"]  # not granted yet then


def test_a_record_naming_a_grant_is_judged_against_that_grant_only():
    g, events = live(spec(OPEN))
    other = access(grant_id=LIMITED.entry_id)
    assert judged([other], (g, events))[0].outcome == Outcome.DENIED


def test_only_the_platform_records_access_logs():
    g, events = live(spec(OPEN))
    records = judged([access()], (g, events))
    with pytest.raises(RuleViolation) as refused:
        AccessLogBatch.record(ctx(OFFICE_ADMIN, NOW), id=g.id, records=records)
    assert refused.value.rule == "LOG-1"
    batch = AccessLogBatch.record(ctx(PLATFORM, NOW), id=g.id, records=records)
    assert batch.records == records


def test_a_record_from_the_future_is_refused():
    with pytest.raises(InvalidTransition):
        AccessLogBatch.record(ctx(PLATFORM, NOW), id=OPEN.entry_id, records=[access(at=NOW + timedelta(seconds=1))])


def test_nothing_younger_than_three_years_is_archived():
    now = datetime(2026, 3, 2, 9, 0, tzinfo=T0.tzinfo)
    with pytest.raises(RuleViolation) as refused:
        archive_cutoff(date(2023, 3, 3), now)
    assert (refused.value.rule, refused.value.article) == ("LOG-1", "第二十二条")
    assert archive_cutoff(date(2023, 3, 2), now) <= now.replace(year=2023)


def test_a_history_kept_from_batch_to_batch_judges_as_the_grants_stood_at_each_time_of_access():
    """The judge folds each prefix of a pair's history once and prepares each decision once per key; kept
    across batches, it must still decide every record as USE-1 over the grants at its time of access does."""
    from domain.access_log import GrantHistory
    from domain.grant_status import evaluate, grant_states_from_events

    wide, wide_events = live(spec(OPEN))
    narrow, narrow_events = live(spec(OPEN, fields=OPEN.item_codes[:1], order_id=UUID(int=7),
                                      valid_from=T0 - timedelta(hours=6), valid_to=T0 + timedelta(hours=6)))
    wide.suspend(ctx(OFFICE_ADMIN, T0 - timedelta(hours=2)), reason="核查")
    wide.resume(ctx(OFFICE_ADMIN, T0 + timedelta(hours=1)))
    history = wide_events + list(wide.collect_events()) + narrow_events
    kept = {(HOLDER, OPEN.entry_id): GrantHistory(history)}
    instants = sorted({T0 + timedelta(hours=h, microseconds=u) for h in range(-8, 9) for u in (-1, 0, 1)}
                      | {T0 - timedelta(hours=6), T0 + timedelta(hours=6)})
    asks = [(at, fields, purpose) for at in instants
            for fields in (OPEN.item_codes[:1], OPEN.item_codes[:2], OPEN.item_codes[::-1])
            for purpose in (PURPOSE, "另一目的")]
    for batch in range(2):  # the second batch finds every fold and decision made by the first
        accesses = [msgspec.structs.replace(access(at=at, n=batch * 10_000 + i, fields=fields), purpose=purpose)
                    for i, (at, fields, purpose) in enumerate(asks)]
        out = judge(ctx(PLATFORM, NOW), accesses, kept, {}.get)
        for a, r in zip(accesses, out, strict=True):
            d = evaluate(grant_states_from_events(history, until=a.accessed_at).values(), holder=a.holder,
                         entry_id=a.entry_id, fields=a.fields, purpose=a.purpose, method=a.method, at=a.accessed_at)
            assert (r.outcome == Outcome.ALLOWED, r.grant_id if d.allowed else None, r.reasons) == (
                d.allowed, d.grant_id, d.reasons), a
    assert {r.outcome for r in out} == {Outcome.ALLOWED, Outcome.DENIED}


def test_a_kept_history_with_a_spent_single_use_grant_judges_each_record_as_use_1_does():
    """A single-use grant used in an earlier batch is spent for every record judged after, whatever its time of
    access; the judge prepares each decision once per key (its states with the use recorded since built only
    then) and must answer every record, batch after batch, as USE-1 over the grants at its time of access, the
    used one marked spent, does."""
    from domain.access_log import GrantHistory
    from domain.grant_status import GrantStatus, evaluate, grant_states_from_events

    used = T0 + timedelta(hours=2)
    single, single_events = live(spec(LIMITED))
    single.consume(ctx(PLATFORM, used), at=used)
    reusable, reusable_events = live(spec(LIMITED, kind=GrantKind.REUSABLE, order_id=UUID(int=9),
                                          fields=LIMITED.item_codes[:1], purpose="另一目的"))
    history = single_events + list(single.collect_events()) + reusable_events
    kept = {(HOLDER, LIMITED.entry_id): GrantHistory(history)}
    # not the use's own instant: a record naming the grant there is the use itself, allowed once per batch
    instants = [T0 + timedelta(hours=h, microseconds=u) for h in range(-2, 5) for u in (-1, 0, 1) if (h, u) != (2, 0)]
    asks = [(at, fields, purpose, named) for at in instants
            for fields in (LIMITED.item_codes[:1], LIMITED.item_codes[:2])
            for purpose in (PURPOSE, "另一目的") for named in (None, single.id)]
    for batch in range(2):
        accesses = [msgspec.structs.replace(access(LIMITED, at=at, n=batch * 10_000 + i, fields=fields),
                                            purpose=purpose, grant_id=named)
                    for i, (at, fields, purpose, named) in enumerate(asks)]
        out = judge(ctx(PLATFORM, NOW), accesses, kept, {}.get)
        for a, r in zip(accesses, out, strict=True):
            states = grant_states_from_events(history, until=a.accessed_at)
            if single.id in states and states[single.id].status == GrantStatus.ACTIVE:
                states[single.id] = msgspec.structs.replace(states[single.id], status=GrantStatus.CONSUMED,
                                                            status_since=used, consumed_at=used)
            if a.grant_id is not None:
                states = {a.grant_id: states[a.grant_id]} if a.grant_id in states else {}
            d = evaluate(states.values(), holder=a.holder, entry_id=a.entry_id, fields=a.fields, purpose=a.purpose,
                         method=a.method, at=a.accessed_at)
            assert (r.outcome == Outcome.ALLOWED, r.grant_id if d.allowed else None, r.reasons) == (
                d.allowed, d.grant_id, d.reasons), a
    assert {r.outcome for r in out} == {Outcome.ALLOWED, Outcome.DENIED}
    assert any(x.code == "consumed" for r in out for x in r.reasons)
