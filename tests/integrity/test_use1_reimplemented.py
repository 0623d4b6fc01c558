"""The offline verifier's USE-1 (folding grant events and deciding, re-written in infrastructure/verifier.py)
gives the same decision as the ledger's (domain.grants and domain.grant_status) over random histories and
questions: the stored bytes of real grant events go in, the service's decision comes out."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from uuid import NAMESPACE_URL, uuid5

from eventsourcing.utils import get_topic
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.base import Actor, Cause, Context
from domain.catalog_values import DeliveryMethod
from domain.grant_status import evaluate, grant_states_from_events
from domain.grants import Grant
from domain.organizations import Role
from domain.sharing_values import GrantKind, GrantSpec
from infrastructure.transcoding import encode_state
from infrastructure.verifier import grant_states, use1

T0 = datetime(2026, 1, 1, tzinfo=UTC)
OFFICE = Actor("office-admin", "office", Role.OFFICE_ADMIN)
PLATFORM = Actor("exchange", "exchange-platform", Role.PLATFORM)
ENTRY = uuid5(NAMESPACE_URL, "test:entry")
OTHER_ENTRY = uuid5(NAMESPACE_URL, "test:other-entry")
FIELDS = ("A", "B", "C")
PURPOSES = ("核对", "统计")
METHODS = (DeliveryMethod.INTERFACE, DeliveryMethod.BATCH_DOWNLOAD)


def ctx(day: float, who: Actor = OFFICE) -> Context:
    return Context(actor=who, at=T0 + timedelta(days=day), cause=Cause("test"))


grant_plan = st.fixed_dictionaries({
    "holder": st.sampled_from(["div-a", "div-b"]),
    "entry": st.sampled_from([ENTRY, ENTRY, OTHER_ENTRY]),
    "fields": st.sets(st.sampled_from(FIELDS), min_size=1).map(sorted),
    "purpose": st.sampled_from(PURPOSES),
    "method": st.sampled_from(METHODS),
    "start": st.integers(0, 20), "length": st.integers(0, 30),
    "kind": st.sampled_from(list(GrantKind)),
    "later": st.lists(st.tuples(st.sampled_from(["suspend", "resume", "revoke", "consume"]), st.integers(0, 50)),
                      max_size=4),
})
question = st.fixed_dictionaries({
    "holder": st.sampled_from(["div-a", "div-b"]),
    "fields": st.lists(st.sampled_from([*FIELDS, "Z"]), min_size=1, max_size=3),
    "purpose": st.sampled_from(PURPOSES), "method": st.sampled_from([*METHODS, "email"]),
    "day": st.floats(0, 60, allow_nan=False),
})


def history(plans: list[dict]) -> list:
    events = []
    for i, plan in enumerate(plans):
        start = T0 + timedelta(days=plan["start"])
        spec = GrantSpec(grant_id=uuid5(NAMESPACE_URL, f"test:grant:{i}"), order_id=uuid5(NAMESPACE_URL, f"o{i}"),
                         request_id=uuid5(NAMESPACE_URL, f"r{i}"), holder=plan["holder"], provider="div-p",
                         entry_id=plan["entry"], resource_code="SX-1", fields=tuple(plan["fields"]),
                         approved_fields=tuple(plan["fields"]), purpose=plan["purpose"], method=plan["method"],
                         valid_from=start, valid_to=start + timedelta(days=plan["length"], hours=23), kind=plan["kind"])
        g = Grant.create(ctx(0), spec=spec, id=spec.grant_id)
        for action, day in sorted(plan["later"], key=lambda a: a[1]):
            try:
                if action == "suspend":
                    g.suspend(ctx(day), "暂停")
                elif action == "resume":
                    g.resume(ctx(day))
                elif action == "revoke":
                    g.revoke(ctx(day), "撤销")
                else:
                    g.consume(ctx(day, PLATFORM), T0 + timedelta(days=day))
            except Exception:  # noqa: BLE001 - a step the lifecycle refuses is simply not taken
                continue
        events += g.collect_events()
    return events


def stored(events: list) -> list[tuple[dict, dict]]:
    import json

    out = []
    for position, e in enumerate(events, start=1):
        state = encode_state(e)
        out.append(({"position": position, "originator_id": str(e.originator_id),
                     "originator_version": e.originator_version, "topic": get_topic(type(e)),
                     "state": base64.b64encode(state).decode()}, json.loads(state)))
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(grant_plan, max_size=4), st.lists(question, min_size=1, max_size=6))
def test_the_verifiers_decision_is_the_services(plans: list[dict], questions: list[dict]):
    events = history(plans)
    pairs = stored(events)
    for q in questions:
        at = T0 + timedelta(days=q["day"])
        service = evaluate(grant_states_from_events(events, at).values(), holder=q["holder"], entry_id=ENTRY,
                           fields=q["fields"], purpose=q["purpose"], method=q["method"], at=at)
        mine = use1(list(grant_states(pairs, at).values()), holder=q["holder"], entry_id=str(ENTRY),
                    fields=q["fields"], purpose=q["purpose"], method=str(q["method"]), at=at)
        expected = {"allowed": service.allowed, "grant_id": None if service.grant_id is None else str(service.grant_id),
                    "kind": None if service.kind is None else str(service.kind),
                    "reasons": [[r.code, None if r.grant_id is None else str(r.grant_id), list(r.fields)]
                                for r in service.reasons]}
        assert mine == expected
