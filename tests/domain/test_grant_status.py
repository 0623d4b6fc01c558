"""The grant lifecycle and USE-1: the grant-status decision over live grants and over history."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import msgspec
import pytest
from hypothesis import HealthCheck
from hypothesis import given as hgiven
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from domain.catalog_values import DeliveryMethod, ShareClass
from domain.grant_status import Decision, GrantState, evaluate, grant_states_from_events, refusals
from domain.grants import Grant
from domain.rules import DomainError
from domain.sharing_values import GrantKind, GrantStatus
from tests.domain.cast import OFFICE_ADMIN, OTHER_REVIEWER, T0, actor
from tests.domain.given import ctx, event, invalid, past, refused, then
from tests.domain.given_sharing import (
    HOLDER,
    IFACE,
    LIMITED,
    OPEN,
    PLATFORM,
    PROVIDER_REVIEWER,
    PURPOSE,
    QUERY,
    VALID_FROM,
    VALID_TO,
    grant,
    spec,
)

AFTER = VALID_TO + timedelta(microseconds=1)


def order(n: int) -> UUID:
    return uuid5(NAMESPACE_URL, f"test:implementation-order:other-{n}")


SINGLE = spec(LIMITED)


def suspended(reason: str = "核查中") -> Any:
    return past(Grant.Suspended, OFFICE_ADMIN, reason=reason)


def for_catalog(reason: str = "目录条目已撤销") -> Any:
    return past(Grant.SuspendedForCatalog, OFFICE_ADMIN, reason=reason)


def ask(*states: GrantState, at: datetime = T0, **over: Any) -> Decision:
    query: dict[str, Any] = dict(holder=HOLDER, entry_id=OPEN.entry_id, fields=("DB_ID", "DB_NAME"),
                                 purpose=PURPOSE, method=IFACE, at=at)
    query.update(over)
    return evaluate(states, **query)


def codes(d: Decision) -> list[str]:
    assert not d.allowed and d.grant_id is None
    assert {(r.rule, r.article) for r in d.reasons} == {("USE-1", "第二十六条")}
    return [r.code for r in d.reasons]


# -- the lifecycle ----------------------------------------------------------------------------

@pytest.mark.parametrize("who", [OFFICE_ADMIN, PROVIDER_REVIEWER], ids=["office", "provider"])
def test_a_grant_is_suspended_and_resumed_by_the_office_or_the_provider(who: Any) -> None:
    g = grant()
    g.suspend(ctx(who), "核查数据用途")
    assert g.status == GrantStatus.SUSPENDED and g.status_since == T0
    g.resume(ctx(who, T0 + timedelta(hours=1)))
    then(g, event(Grant.Suspended, by=who, reason="核查数据用途"), event(Grant.Resumed, by=who))
    assert g.status == GrantStatus.ACTIVE and g.status_since == T0 + timedelta(hours=1)


@pytest.mark.parametrize("who", [OTHER_REVIEWER, actor("div-compiler", OPEN.provider, "catalog_compiler")],
                         ids=["another-org", "provider-without-reviewer-role"])
def test_shr6_suspension_by_anyone_else_is_refused(who: Any) -> None:
    g = grant()
    with refused("SHR-6", g):
        g.suspend(ctx(who), "核查")


def test_shr6_resumption_by_anyone_else_is_refused() -> None:
    g = grant(spec(), suspended())
    with refused("SHR-6", g):
        g.resume(ctx(OTHER_REVIEWER))


def test_shr6_the_provider_may_not_revoke() -> None:
    g = grant()
    with refused("SHR-6", g):
        g.revoke(ctx(PROVIDER_REVIEWER), "越权使用")


def test_the_office_revokes_an_active_or_suspended_grant() -> None:
    for history in ((), (suspended(),)):
        g = grant(spec(), *history)
        g.revoke(ctx(OFFICE_ADMIN), "违规转供第三方")
        then(g, event(Grant.Revoked, reason="违规转供第三方"))
        assert g.status == GrantStatus.REVOKED


@pytest.mark.parametrize(("history", "command"), [
    pytest.param((), lambda g: g.resume(ctx(OFFICE_ADMIN)), id="resume-an-active-grant"),
    pytest.param((suspended(),), lambda g: g.suspend(ctx(OFFICE_ADMIN), "again"), id="suspend-twice"),
    pytest.param((past(Grant.Revoked, OFFICE_ADMIN, reason="x"),), lambda g: g.resume(ctx(OFFICE_ADMIN)),
                 id="resume-a-revoked-grant"),
    pytest.param((past(Grant.Revoked, OFFICE_ADMIN, reason="x"),), lambda g: g.revoke(ctx(OFFICE_ADMIN), "y"),
                 id="revoke-twice"),
    pytest.param((), lambda g: g.suspend(ctx(OFFICE_ADMIN, AFTER), "late"), id="suspend-after-valid-to"),
    pytest.param((), lambda g: g.suspend(ctx(OFFICE_ADMIN), " "), id="suspend-without-reason"),
    pytest.param((), lambda g: g.revoke(ctx(OFFICE_ADMIN), ""), id="revoke-without-reason"),
])
def test_transitions_that_do_not_apply_are_invalid(history: Any, command: Any) -> None:
    g = grant(spec(), *history)
    with invalid(g):
        command(g)


def test_expiry_is_recorded_only_once_valid_to_has_passed() -> None:
    g = grant()
    with invalid(g):
        g.expire(ctx(OFFICE_ADMIN, VALID_TO))
    g.expire(ctx(OFFICE_ADMIN, AFTER))
    then(g, event(Grant.Expired))
    assert g.status == GrantStatus.EXPIRED
    with invalid(g):
        g.expire(ctx(OFFICE_ADMIN, AFTER))


def test_a_single_use_grant_is_consumed_by_its_first_access() -> None:
    g = grant(SINGLE)
    access = T0 - timedelta(seconds=5)
    g.consume(ctx(PLATFORM), access)
    then(g, event(Grant.Consumed, by=PLATFORM, at=access))
    assert g.status == GrantStatus.CONSUMED and g.consumed_at == access
    with invalid(g):
        g.consume(ctx(PLATFORM), T0)


def test_a_reusable_grant_is_not_consumed() -> None:
    g = grant()
    with invalid(g):
        g.consume(ctx(PLATFORM), T0)


@pytest.mark.parametrize("at", [VALID_FROM - timedelta(seconds=1), T0 + timedelta(seconds=1)],
                         ids=["before-validity", "in-the-future"])
def test_consumption_outside_the_grant_or_ahead_of_the_record_is_invalid(at: datetime) -> None:
    g = grant(SINGLE)
    with invalid(g):
        g.consume(ctx(PLATFORM), at)


def test_use1_only_the_platform_records_consumption() -> None:
    g = grant(SINGLE)
    with refused("USE-1", g):
        g.consume(ctx(PROVIDER_REVIEWER), T0)


def test_a_retired_entry_suspends_its_grants_until_it_is_shareable_again() -> None:
    g = grant()
    g.suspend_for_catalog(ctx(PROVIDER_REVIEWER), "目录条目已撤销")
    g.suspend_for_catalog(ctx(PROVIDER_REVIEWER), "again")  # already suspended for the catalog: nothing more
    then(g, event(Grant.SuspendedForCatalog, reason="目录条目已撤销"))
    assert g.status == GrantStatus.SUSPENDED


@pytest.mark.parametrize("entry", [
    pytest.param(None, id="entry-not-given"),
    pytest.param(msgspec.structs.replace(OPEN, retired=True), id="still-retired"),
    pytest.param(msgspec.structs.replace(OPEN, share_class=ShareClass.NOT_SHAREABLE), id="still-not-shareable"),
])
def test_shr4_a_catalog_suspension_is_not_lifted_while_the_entry_is_not_shareable(entry: Any) -> None:
    g = grant(spec(), for_catalog())
    with refused("SHR-4", g):
        g.resume(ctx(OFFICE_ADMIN), entry=entry)


def test_a_catalog_suspension_is_lifted_once_the_entry_is_shareable() -> None:
    g = grant(spec(), for_catalog())
    g.resume(ctx(OFFICE_ADMIN), entry=OPEN)
    then(g, event(Grant.Resumed))


def test_shr6_a_catalog_suspension_by_another_org_is_refused() -> None:
    g = grant()
    with refused("SHR-6", g):
        g.suspend_for_catalog(ctx(OTHER_REVIEWER), "retired")


def test_a_catalog_suspension_of_an_ended_grant_records_nothing() -> None:
    g = grant(spec(), past(Grant.Revoked, OFFICE_ADMIN, reason="x"))
    g.suspend_for_catalog(ctx(OFFICE_ADMIN), "retired")
    then(g)


# -- USE-1: the grant-status decision ---------------------------------------------------------

def test_use1_an_active_grant_covering_everything_allows_the_access() -> None:
    d = ask(GrantState.from_grant(grant()))
    assert d == Decision(allowed=True, grant_id=spec().grant_id, kind=GrantKind.REUSABLE)


def test_use1_no_grant_for_the_holder_and_entry() -> None:
    state = GrantState.from_grant(grant())
    assert codes(ask(state, holder="xa-bureau")) == ["no_grant"]  # USE-2: never a proxy for another org
    assert codes(ask(state, entry_id=LIMITED.entry_id)) == ["no_grant"]
    assert codes(ask()) == ["no_grant"]


def test_use1_expired_by_date_without_a_sweep_event() -> None:
    state = GrantState.from_grant(grant())
    assert ask(state, at=VALID_TO).allowed
    assert codes(ask(state, at=AFTER)) == ["expired"]


def test_use1_expired_by_the_sweep() -> None:
    swept = GrantState.from_grant(grant(spec(), past(Grant.Expired, OFFICE_ADMIN), start=AFTER))
    assert codes(ask(swept, at=AFTER)) == ["expired"]
    assert codes(ask(swept, at=T0)) == ["expired"]  # the recorded status is taken as given


def test_use1_not_yet_valid() -> None:
    state = GrantState.from_grant(grant())
    assert ask(state, at=VALID_FROM).allowed
    assert codes(ask(state, at=VALID_FROM - timedelta(microseconds=1))) == ["not_yet_valid"]


def test_use1_suspended() -> None:
    assert codes(ask(GrantState.from_grant(grant(spec(), suspended())))) == ["suspended"]
    assert codes(ask(GrantState.from_grant(grant(spec(), for_catalog())))) == ["suspended"]


def test_use1_revoked() -> None:
    assert codes(ask(GrantState.from_grant(grant(spec(), past(Grant.Revoked, OFFICE_ADMIN, reason="x"))))) == ["revoked"]


def test_use1_consumed_single_use() -> None:
    g = grant(SINGLE)
    query = dict(entry_id=LIMITED.entry_id, fields=("R_ID",))
    assert ask(GrantState.from_grant(g), **query) == Decision(allowed=True, grant_id=SINGLE.grant_id, kind=GrantKind.SINGLE_USE)
    g.consume(ctx(PLATFORM), T0)
    assert codes(ask(GrantState.from_grant(g), **query)) == ["consumed"]


def test_use1_a_field_not_granted_is_named() -> None:
    narrow = GrantState.from_grant(grant(spec(fields=("DB_ID",))))
    d = ask(narrow, fields=("DB_ID", "DB_NAME", "DB_AREA"))
    assert codes(d) == ["field_not_granted"] and d.reasons[0].fields == ("DB_NAME", "DB_AREA")


def test_use1_another_purpose() -> None:
    assert codes(ask(GrantState.from_grant(grant()), purpose="商业营销")) == ["other_purpose"]


def test_use1_another_delivery_method() -> None:
    assert codes(ask(GrantState.from_grant(grant()), method=QUERY)) == ["other_method"]
    assert codes(ask(GrantState.from_grant(grant()), method="carrier_pigeon")) == ["other_method"]


def test_use1_every_reason_is_given() -> None:
    g = grant(spec(fields=("DB_ID",)), suspended())
    d = ask(GrantState.from_grant(g), at=AFTER, fields=("DB_ID", "DB_NAME"), purpose="其他", method=QUERY)
    assert codes(d) == ["expired", "suspended", "field_not_granted", "other_purpose", "other_method"]
    assert {r.grant_id for r in d.reasons} == {g.id}


def test_use1_reasons_of_every_grant_of_the_holder_for_the_entry() -> None:
    narrow = GrantState.from_grant(grant(spec(fields=("DB_ID",))))
    other = GrantState.from_grant(grant(spec(purpose="其他用途", order_id=order(7))))
    assert codes(ask(narrow, other)) == ["field_not_granted", "other_purpose"]


def test_use1_one_grant_that_covers_is_enough_and_reusable_is_preferred() -> None:
    single = GrantState.from_grant(grant(spec(kind=GrantKind.SINGLE_USE, order_id=order(1), valid_to=VALID_TO - timedelta(days=1))))
    reusable = GrantState.from_grant(grant())
    revoked = GrantState.from_grant(grant(spec(order_id=order(2)),
                                          past(Grant.Revoked, OFFICE_ADMIN, reason="x")))
    d = ask(single, revoked, reusable)
    assert d.allowed and d.grant_id == reusable.grant_id and d.reasons == ()
    assert ask(single, revoked).grant_id == single.grant_id


def test_status_at_reports_expiry_by_date() -> None:
    state = GrantState.from_grant(grant())
    assert state.status_at(VALID_TO) == GrantStatus.ACTIVE and state.status_at(AFTER) == GrantStatus.EXPIRED


# -- the state from history agrees with the live aggregate ------------------------------------

def test_grant_states_from_events_count_each_change_from_its_timestamp() -> None:
    g = Grant.create(ctx(OFFICE_ADMIN, T0), spec=SINGLE, id=SINGLE.grant_id)
    g.suspend(ctx(OFFICE_ADMIN, T0 + timedelta(hours=1)), "核查")
    g.resume(ctx(OFFICE_ADMIN, T0 + timedelta(hours=2)))
    g.consume(ctx(PLATFORM, T0 + timedelta(hours=4)), T0 + timedelta(hours=3))
    events = g.collect_events()
    at = {h: grant_states_from_events(events, T0 + timedelta(hours=h)) for h in (0, 1, 2, 3, 4)}
    assert grant_states_from_events(events, T0 - timedelta(seconds=1)) == {}
    assert [at[h][g.id].status for h in (0, 1, 2, 3, 4)] == ["active", "suspended", "active", "active", "consumed"]
    assert at[4][g.id] == GrantState.from_grant(g) and at[4][g.id].consumed_at == T0 + timedelta(hours=3)


# -- property: history agrees with live commands at every instant -----------------------------

BASE = T0 + timedelta(days=1)
ITEMS = OPEN.item_codes
# Weighted towards commands that apply, so that histories get long; refusals still occur.
OPS = ("suspend", "resume", "resume", "revoke", "expire", "consume", "consume", "suspend_for_catalog",
       "resume_shareable")
ACTORS = (OFFICE_ADMIN, OFFICE_ADMIN, PROVIDER_REVIEWER, PLATFORM, PLATFORM, OTHER_REVIEWER)

grant_specs = st.builds(
    lambda n, kind, fields, purpose, method, start, hours: spec(
        OPEN, fields=tuple(sorted(fields)), purpose=purpose, method=method, kind=kind, order_id=order(n),
        valid_from=BASE + timedelta(hours=start), valid_to=BASE + timedelta(hours=start + hours),
    ),
    st.integers(0, 1000), st.sampled_from(GrantKind), st.sets(st.sampled_from(ITEMS), min_size=1),
    st.sampled_from((PURPOSE, "其他用途")), st.sampled_from((IFACE, QUERY)), st.integers(-24, 48), st.integers(0, 72),
)
commands = st.lists(
    st.tuples(st.integers(0, 360), st.integers(0, 2), st.sampled_from(OPS), st.sampled_from(ACTORS),
              st.integers(0, 300)),
    max_size=20,
)


def run(specs: list[Any], cmds: list[Any], until: datetime | None = None) -> list[Grant]:
    """Creates the grants at BASE and applies the commands in time order up to `until`; refusals record nothing."""
    if until is not None and until < BASE:
        return []
    grants = [Grant.create(ctx(OFFICE_ADMIN, BASE), spec=s, id=s.grant_id) for s in specs]
    at = BASE
    for gap, index, op, who, back in cmds:
        at += timedelta(minutes=gap, microseconds=1)
        if until is not None and at > until:
            break
        g, c = grants[index % len(grants)], ctx(who, at)
        try:
            if op == "suspend":
                g.suspend(c, "核查")
            elif op == "resume":
                g.resume(c)
            elif op == "revoke":
                g.revoke(c, "违规")
            elif op == "expire":
                g.expire(c)
            elif op == "consume":
                g.consume(c, at - timedelta(minutes=back))
            elif op == "suspend_for_catalog":
                g.suspend_for_catalog(c, "目录变更")
            else:
                g.resume(c, entry=OPEN)
        except DomainError:
            pass
    return grants


@hsettings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@hgiven(
    specs=st.lists(grant_specs, min_size=1, max_size=3, unique_by=lambda s: s.grant_id),
    cmds=commands,
    offset=st.integers(-120, 60 * 24 * 6),
    nudge=st.sampled_from((-1, 0, 1)),
    exact=st.one_of(st.none(), st.integers(0, 20)),
    holder=st.sampled_from((HOLDER, "xa-bureau")),
    fields=st.sets(st.sampled_from((*ITEMS, "OTHER")), max_size=3),
    purpose=st.sampled_from((PURPOSE, "其他用途")),
    method=st.sampled_from((IFACE, QUERY)),
)
def test_use1_history_agrees_with_live_commands_at_any_instant(
    specs: list[Any], cmds: list[Any], offset: int, nudge: int, exact: int | None, holder: str,
    fields: set[str], purpose: str, method: Any,
) -> None:
    # Instants at, just before and just after recorded changes and validity bounds matter most.
    marks = [BASE]
    for gap, *_ in cmds:
        marks.append(marks[-1] + timedelta(minutes=gap, microseconds=1))
    marks += [s.valid_from for s in specs] + [s.valid_to for s in specs]
    base = marks[exact % len(marks)] if exact is not None else BASE + timedelta(minutes=offset)
    t = base + timedelta(microseconds=nudge)

    everything = run(specs, cmds)
    events = [e for g in everything for e in g.collect_events()]
    from_history = grant_states_from_events(events, t)
    live = {g.id: GrantState.from_grant(g) for g in run(specs, cmds, until=t)}
    assert from_history == live

    query = dict(holder=holder, entry_id=OPEN.entry_id, fields=tuple(sorted(fields)), purpose=purpose,
                 method=method, at=t)
    assert evaluate(from_history.values(), **query) == evaluate(live.values(), **query)


# -- the allowed path skips building reasons: it must agree with them exactly ---------------------

_G0 = datetime(2026, 3, 1, tzinfo=T0.tzinfo)
_FIELDS = ("A", "B", "C")


@st.composite
def _grant_states(draw: Any) -> GrantState:
    start = _G0 + timedelta(hours=draw(st.integers(-48, 48)))
    return GrantState(
        grant_id=uuid5(NAMESPACE_URL, f"g{draw(st.integers(0, 5))}"), holder="h", entry_id=UUID(int=1),
        fields=frozenset(draw(st.lists(st.sampled_from(_FIELDS), max_size=3))),
        purpose=draw(st.sampled_from(["p", "q"])), method=draw(st.sampled_from(list(DeliveryMethod))),
        valid_from=start, valid_to=start + timedelta(hours=draw(st.integers(0, 96))),
        kind=draw(st.sampled_from(list(GrantKind))), status=draw(st.sampled_from(list(GrantStatus))),
        status_since=_G0,
    )


@hsettings(max_examples=400, deadline=None)
@hgiven(grants=st.lists(_grant_states(), max_size=4), fields=st.lists(st.sampled_from(_FIELDS), min_size=1),
        purpose=st.sampled_from(["p", "q"]), method=st.sampled_from(list(DeliveryMethod)),
        hours=st.integers(-60, 150))
def test_a_grant_allows_exactly_when_it_has_no_reason_to_refuse(grants, fields, purpose, method, hours):
    at = _G0 + timedelta(hours=hours)
    wanted = tuple(dict.fromkeys(fields))
    d = evaluate(grants, holder="h", entry_id=UUID(int=1), fields=fields, purpose=purpose, method=method, at=at)
    free = [g for g in grants if not refusals(g, fields=wanted, purpose=purpose, method=method, at=at)]
    assert d.allowed == bool(free)
    if d.allowed:
        assert d.grant_id in {g.grant_id for g in free} and d.reasons == ()
    else:
        assert d.reasons == tuple(r for g in sorted(grants, key=lambda g: (g.valid_from, str(g.grant_id)))
                                  for r in refusals(g, fields=wanted, purpose=purpose, method=method, at=at)) \
            or not grants
