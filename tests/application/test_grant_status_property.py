"""USE-1 property: the answer served from the grants read model equals the answer from the full history."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.grant_status import evaluate, grant_states_from_events
from domain.rules import DomainError
from tests.support import GrantWorld

PURPOSES = ("低保核对", "养老补贴发放")
FIELDS = ("DB_ID", "DB_NAME", "DB_AREA")
HOLDERS = ("div-h1", "div-h2")

def on(entry: int, fields: list[str]) -> tuple[str, ...]:
    """The item codes of the chosen entry (each entry has its own codes: one datum, one source)."""
    return tuple(f"{f}_{entry}" for f in fields)


op = st.one_of(
    st.tuples(st.just("grant"), st.sampled_from(HOLDERS), st.integers(0, 1),
              st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True), st.sampled_from(PURPOSES),
              st.integers(1, 40)),
    st.tuples(st.sampled_from(["suspend", "resume", "revoke", "use"]), st.integers(0, 30)),
    st.tuples(st.just("wait"), st.integers(1, 20)),
    st.tuples(st.just("sweep")),
)


class World(GrantWorld):
    """One store per backend; each example adds its own facts and checks its own questions."""

    def __init__(self, runtime, admin, clock) -> None:
        super().__init__(runtime, admin, clock, code="SX-P", fields=FIELDS, holders=HOLDERS)

    def run(self, action) -> None:
        now = self.clock.now()
        kind = action[0]
        try:
            if kind == "grant":
                _, holder, e, fields, purpose, days = action
                self.order(holder, e, on(e, fields), purpose, now.date(), (now + timedelta(days=days)).date())
            elif kind == "wait":
                self.clock.advance(days=action[1])
            elif kind == "sweep":
                self.rt.sharing.expire_due()
            elif self.grants:
                self.change(kind, self.grants[action[1] % len(self.grants)])
        except DomainError:
            pass  # a refused command changes nothing; the property is about what was recorded

    def history_answer(self, holder, entry, fields, purpose, at: datetime):
        states = grant_states_from_events(self.events(), at)
        return evaluate(states.values(), holder=holder, entry_id=entry, fields=fields, purpose=purpose,
                        method="interface", at=at)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(data=st.data())
def test_projection_answer_equals_history_answer(runtime, admin, clock, data):
    world = World.once(runtime, admin, clock)
    start = clock.now()
    for action in data.draw(st.lists(op, min_size=1, max_size=12)):
        world.run(action)
    runtime.projector.catch_up_all()
    now = clock.now()
    instants = [now, start + (now - start) / 2]
    for _ in range(6):
        holder = data.draw(st.sampled_from(HOLDERS))
        which = data.draw(st.integers(0, 1))
        entry = world.entries[which]
        fields = on(which, data.draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True)))
        purpose = data.draw(st.sampled_from(PURPOSES))
        for at in instants:
            served = runtime.sharing.status(holder=holder, entry_id=entry, fields=fields, purpose=purpose,
                                            method="interface", at=None if at == now else at)
            truth = world.history_answer(holder, entry, fields, purpose, served.at)
            assert (served.allowed, served.grant_id, tuple(served.reasons)) == (
                truth.allowed, truth.grant_id, truth.reasons), (holder, fields, purpose, at)
