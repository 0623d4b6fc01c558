"""Both time axes over random histories with back-dated corrections.

For random instants T (effective) and T′ (recorded), the service's answers — the grant-status
query, the grants list and the count of grants in force at T — equal a reference computed here,
independently of the service's fold, from the events recorded by T′ with effect at T.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from domain.grants import Grant
from domain.rules import DomainError
from projections.scope import EVERYTHING
from projections.sharing_queries import SharingQueries
from projections.state_queries import StateQueries
from tests.support import GrantWorld, cmd

PURPOSE = "低保核对"
FIELDS = ("DB_ID", "DB_NAME")
HOLDERS = ("div-h1", "div-h2")
ENDED = {"revoked", "expired", "consumed"}
STATUS = {Grant.Suspended: "suspended", Grant.SuspendedForCatalog: "suspended", Grant.Resumed: "active",
          Grant.Revoked: "revoked", Grant.Expired: "expired", Grant.Consumed: "consumed",
          Grant.SuspensionBackdated: "suspended", Grant.RevocationBackdated: "revoked"}

grant_op = st.tuples(st.just("grant"), st.sampled_from(HOLDERS), st.integers(0, 1), st.integers(5, 60))
status_op = st.tuples(st.sampled_from(["suspend", "resume", "resume", "revoke", "use"]), st.integers(0, 30))
back_op = st.tuples(st.sampled_from(["suspend_back", "revoke_back"]), st.integers(0, 30), st.floats(0, 1))
op = st.one_of(
    grant_op, grant_op, status_op, status_op, back_op, back_op,
    st.tuples(st.just("narrow"), st.integers(0, 30), st.floats(0, 1)),
    st.tuples(st.just("wait"), st.integers(1, 6)), st.tuples(st.just("wait"), st.integers(1, 6)),
    st.tuples(st.just("sweep")),
)


class World(GrantWorld):
    def __init__(self, runtime: Any, admin: Any, clock: Any) -> None:
        super().__init__(runtime, admin, clock, code="SX-T", fields=FIELDS, holders=HOLDERS)

    def run(self, action: tuple[Any, ...]) -> None:
        rt, now, kind = self.rt, self.clock.now(), action[0]
        try:
            if kind == "grant":
                _, holder, e, days = action
                self.order(holder, e, tuple(f"{f}_{e}" for f in FIELDS), PURPOSE,
                           (now - timedelta(days=3)).date(), (now + timedelta(days=days)).date())
            elif kind == "wait":
                self.clock.advance(days=action[1])
            elif kind == "sweep":
                rt.sharing.expire_due()
            elif self.grants:
                gid = self.grants[action[1] % len(self.grants)]
                if kind in ("suspend", "resume", "revoke", "use"):
                    self.change(kind, gid)
                    return
                g = rt.sharing.load_grant(gid)
                start = max(g.spec.valid_from, g.created_on)
                earlier = start + (now - start) * action[2]
                if kind == "suspend_back":
                    rt.sharing.suspend(self.admin, cmd(), gid, reason="应更早暂停", effective_at=earlier)
                elif kind == "revoke_back":
                    rt.sharing.revoke(self.admin, cmd(), gid, reason="应更早撤销", effective_at=earlier)
                elif kind == "narrow":
                    end = g.spec.valid_from + (min(now, g.spec.valid_to) - g.spec.valid_from) * action[2]
                    rt.sharing.correct_validity(self.admin, cmd(), gid, valid_from=g.spec.valid_from,
                                                valid_to=end, reason="有效期录入过长")
        except DomainError:
            pass  # a refused command records nothing; the property is about what was recorded


def reference(events: list[Any], at: datetime, known: datetime) -> dict[UUID, dict[str, Any]]:
    """Each grant as in force at `at` from the events recorded by `known`: the status of the latest change
    taking effect by `at`, unless a change ending the grant took effect before it; the latest known validity."""
    grants: dict[UUID, dict[str, Any]] = {}
    for e in events:
        if e.timestamp > known or not isinstance(e, Grant.Event):
            continue
        if isinstance(e, Grant.Granted):
            if e.timestamp <= at:
                grants[e.originator_id] = {"spec": e.spec, "changes": [], "valid": (e.spec.valid_from, e.spec.valid_to)}
        elif e.originator_id in grants:
            g = grants[e.originator_id]
            if isinstance(e, Grant.ValidityCorrected):
                g["valid"] = (e.valid_from, e.valid_to)
            elif type(e) in STATUS:
                effective = getattr(e, "effective_at", None) or e.timestamp
                if effective <= at:
                    g["changes"].append((effective, e.originator_version, STATUS[type(e)]))
    for g in grants.values():
        changes = sorted(g["changes"])
        first_end = next((c for c in changes if c[2] in ENDED), None)
        g["status"] = first_end[2] if first_end else (changes[-1][2] if changes else "active")
    return grants


def allowing(grants: dict[UUID, dict[str, Any]], holder: str, entry: UUID, at: datetime) -> set[UUID]:
    return {gid for gid, g in grants.items()
            if g["spec"].holder == holder and g["spec"].entry_id == entry and g["status"] == "active"
            and g["valid"][0] <= at <= g["valid"][1]}


@settings(max_examples=20, deadline=None, phases=(Phase.explicit, Phase.generate), suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(data=st.data())
def test_answers_as_at_t_as_known_at_t2_equal_the_reference(runtime, admin, clock, data):
    world = World.once(runtime, admin, clock)
    for action in data.draw(st.lists(op, min_size=1, max_size=10)):
        world.run(action)
    runtime.projector.catch_up_all()
    events = world.events()
    now = clock.now()
    marks = sorted({x for e in events for x in (e.timestamp, getattr(e, "effective_at", None)) if x is not None})
    # an instant at, or a microsecond either side of, a recorded or effective instant; or anywhere between
    instant = st.one_of(
        st.tuples(st.integers(0, 10**6), st.integers(-1, 1)).map(
            lambda ij: marks[ij[0] % len(marks)] + timedelta(microseconds=ij[1])),
        st.floats(0, 1).map(lambda f: marks[0] + (now - marks[0]) * f),
    )
    for _ in range(4):
        at, known = data.draw(instant), data.draw(instant)
        truth = reference(events, at, known)
        cut, replica = runtime.state_as_of(at, known)
        rows, _ = SharingQueries(replica).grants(scope=EVERYTHING, limit=500)
        assert {UUID(r.id): r.status for r in rows} == {gid: g["status"] for gid, g in truth.items()}, (at, known)
        assert {UUID(r.id): (datetime.fromisoformat(r.valid_from), datetime.fromisoformat(r.valid_to))
                for r in rows} == {gid: g["valid"] for gid, g in truth.items()}
        in_force = sum(1 for g in truth.values() if g["status"] == "active" and g["valid"][0] <= at <= g["valid"][1])
        assert StateQueries(replica).summary(at)["grants"]["in_force"] == in_force
        for holder in HOLDERS:
            for entry in world.entries:
                served = runtime.sharing.status(holder=holder, entry_id=entry, fields=(), purpose=PURPOSE,
                                                method="interface", at=at, as_known_at=known)
                expected = allowing(truth, holder, entry, at)
                assert served.allowed == bool(expected), (holder, at, known)
                assert served.grant_id is None or served.grant_id in expected



def test_the_random_histories_hold_every_kind_of_correction(runtime, admin, clock):
    """The generator reaches what the property is about: back-dated suspensions, revocations, validities."""
    world = World(runtime, admin, clock)
    for action in [("grant", "div-h1", 1, 30), ("wait", 3), ("suspend_back", 0, 0.5), ("resume", 0),
                   ("grant", "div-h2", 0, 30), ("wait", 2), ("revoke_back", 1, 0.3), ("narrow", 0, 0.9)]:
        world.run(action)
    kinds = {type(e) for e in world.events()}
    assert {Grant.SuspensionBackdated, Grant.RevocationBackdated, Grant.ValidityCorrected} <= kinds
