"""USE-1 property: the answer served from the grants read model equals the answer from the full history."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.catalog_values import ReviewDecision, ShareClass
from domain.grant_status import evaluate, grant_states_from_events
from domain.organizations import Role
from domain.rules import DomainError
from domain.sharing_values import RequestedEntry
from tests.support import PASS, Division, cmd, content, items, member, register

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


class World:
    """One store per backend; each example adds its own facts and checks its own questions."""

    def __init__(self, runtime, admin, clock) -> None:
        self.rt, self.admin, self.clock = runtime, admin, clock
        provider = Division(runtime, admin, "div-provider")
        self.entries = []
        for i, share in enumerate((ShareClass.RESTRICTED, ShareClass.UNCONDITIONAL)):
            extra = {"share_conditions": "仅限核对"} if share == ShareClass.RESTRICTED else {}
            c = content(name=f"资源{i}", share_class=share, data_items=items(*(f"{f}_{i}" for f in FIELDS)), **extra)
            eid = runtime.catalog.draft(provider.compiler, cmd(), resource_code=f"SX-P-{i}", content=c).aggregate_id
            runtime.catalog.submit(provider.compiler, cmd(), eid)
            runtime.catalog.review(provider.reviewer, cmd(), eid, review=PASS, decision=ReviewDecision.APPROVE)
            runtime.catalog.publish(admin, cmd(), eid)
            self.entries.append(eid)
        self.requesters = {}
        for h in HOLDERS:
            register(runtime, admin, h)
            self.requesters[h] = member(runtime, admin, h, f"{h}-申请人", Role.REQUESTER)
        self.platform = member(runtime, admin, "office", "平台账号", Role.PLATFORM)
        self.grants: list = []

    def run(self, action) -> None:
        rt, now = self.rt, self.clock.now()
        kind = action[0]
        try:
            if kind == "grant":
                _, holder, e, fields, purpose, days = action
                entry = self.entries[e]
                r = rt.sharing.submit(
                    self.requesters[holder], cmd(), scenario="internal_sharing", reason="核对", purpose=purpose,
                    entries=(RequestedEntry(entry_id=entry, resource_code="", fields=on(e, fields)),),
                    valid_from=now.date(), valid_to=(now + timedelta(days=days)).date(), delivery_method="interface",
                )
                rt.sharing.review(self.admin, cmd(), r.aggregate_id, decision="approve")
                order = rt.sharing.issue_order(self.admin, cmd(), r.aggregate_id)
                self.grants += [g for g in msgspec.json.decode(order.body)["new_grants"]]
            elif kind == "wait":
                self.clock.advance(days=action[1])
            elif kind == "sweep":
                rt.sharing.expire_due()
            elif self.grants:
                gid = UUID(self.grants[action[1] % len(self.grants)])
                g = rt.sharing.load_grant(gid)
                if kind == "suspend":
                    rt.sharing.suspend(self.admin, cmd(), gid, reason="暂停核查")
                elif kind == "resume":
                    rt.sharing.resume(self.admin, cmd(), gid)
                elif kind == "revoke":
                    rt.sharing.revoke(self.admin, cmd(), gid, reason="违规使用")
                elif kind == "use":
                    s = g.spec
                    rt.sharing.use(self.platform, cmd(), holder=s.holder, entry_id=s.entry_id,
                                   fields=tuple(s.fields)[:1], purpose=s.purpose, method=str(s.method))
        except DomainError:
            pass  # a refused command changes nothing; the property is about what was recorded

    def history_answer(self, holder, entry, fields, purpose, at: datetime):
        events = []
        position = 0
        while True:
            page = self.rt.ledger.recorder.select_notifications(start=position, limit=500, inclusive_of_start=False)
            if not page:
                break
            events += [self.rt.ledger.mapper.to_domain_event(n) for n in page]
            position = page[-1].id
        states = grant_states_from_events(events, at)
        return evaluate(states.values(), holder=holder, entry_id=entry, fields=fields, purpose=purpose,
                        method="interface", at=at)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(data=st.data())
def test_projection_answer_equals_history_answer(runtime, admin, clock, data):
    world = getattr(runtime, "_world", None)
    if world is None:
        world = runtime._world = World(runtime, admin, clock)
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
