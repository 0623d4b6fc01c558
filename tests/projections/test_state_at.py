"""State at a date equals an independent replay of exactly the events recorded up to that instant.

The history mixes every context the replicas hold: catalog entries, share requests, orders and grants
(suspended, resumed, revoked, expired), information systems and compliance cases, with time passing
between commands and checkpoints at random intervals. Instants are drawn uniformly and exactly at, and
one microsecond either side of, real event timestamps. The reference is built here, event by event, by
the view code on a fresh in-memory database, from the events whose position is at most the position the
ledger's own timestamps say is the last one recorded by the instant.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
import pytest

from domain.base import BEIJING
from domain.catalog_values import OpenClass, ReviewDecision
from domain.compliance import Evidence, EvidenceKind, ViolationKind
from domain.organizations import Role
from domain.rules import DomainError
from domain.sharing_values import RequestedEntry
from domain.systems_values import ChangeKind, ConstructionPlan, Justification, ProjectEntry
from infrastructure.sql import MemoryDb
from projections.registry import all_views
from projections.scope import EVERYTHING
from tests.projections.test_catalog_projection import random_history
from tests.support import PASS, Division, cmd, content, items, member, register

ONE_US = timedelta(microseconds=1)
MUST_HOLD = ("catalog_entries", "catalog_items", "open_catalog", "organizations", "share_requests",
             "implementation_orders", "grants", "systems", "system_filings", "violations")
PLAN = ConstructionPlan(title="社会救助信息系统建设方案", summary="救助对象认定", document="陕民办〔2026〕1号")
WHY = Justification(necessity="救助审核需要", feasibility="依托现有平台", relation_to_existing="复用低保目录",
                    sharing_fit="经交换平台共享", mechanism="乡镇经办录入", catalog="见项目数据资源目录",
                    funding="省级财政专项")
EVIDENCE = tuple(Evidence(kind=k, ref=f"{k}:1") for k in EvidenceKind)


def time_travel_views() -> list[Any]:
    return [v for v in all_views() if getattr(v, "time_travel", True)]


def rows(db: Any, table: str) -> list[tuple[str, ...]]:
    return sorted(tuple(str(v) for v in r.values()) for r in db.query(f"SELECT * FROM {table}"))


class MixedHistory:
    """Random commands over every context a replica holds; refusals are part of the game (they record nothing)."""

    def __init__(self, rt: Any, admin: Any, clock: Any, rng: random.Random) -> None:
        self.rt, self.admin, self.clock, self.rng = rt, admin, clock, rng
        self.provider = Division(rt, admin, "div-prov")
        register(rt, admin, "div-req")
        self.requester = member(rt, admin, "div-req", "申请人", Role.REQUESTER)
        register(rt, admin, "div-sys")
        self.manager = member(rt, admin, "div-sys", "系统管理员", Role.SYSTEM_MANAGER)
        self.grants: list[UUID] = []
        self.systems: list[UUID] = []
        self.violations: list[UUID] = []
        self.done = 0
        self.n = 0

    def tick(self) -> None:
        """Time passes between commands, so uniform instants fall inside batches, not only between them."""
        self.clock.advance(minutes=self.rng.randint(0, 240), microseconds=self.rng.randint(0, 999_999))

    def attempt(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        self.tick()
        try:
            result = fn(*args, **kwargs)
        except DomainError:
            return None
        self.done += 1
        return result

    def batch(self, prefix: str) -> None:
        rng = self.rng
        random_history(self.rt, self.admin, seed=rng.randint(0, 10_000), n=5, prefix=prefix)
        self.publish(prefix)
        for _ in range(rng.randint(2, 4)):
            self.share()
        for _ in range(rng.randint(2, 5)):
            self.on_grant()
        for _ in range(rng.randint(2, 3)):
            self.system()
        for _ in range(rng.randint(1, 2)):
            self.change()
        for _ in range(rng.randint(1, 3)):
            self.violation()
        self.attempt(self.rt.sharing.expire_due)
        self.attempt(self.rt.monitors.run, self.clock.now())

    # -- sharing ---------------------------------------------------------------------------------------

    def publish(self, prefix: str) -> None:
        """One shareable, open entry per batch, so there is always something to request."""
        rt, d = self.rt, self.provider
        c = content(name=f"共享资源{prefix}", data_items=items(f"{prefix}-A", f"{prefix}-B"), open_class=OpenClass.OPEN)
        eid = rt.catalog.draft(d.compiler, cmd(), resource_code=f"SX-P-{prefix}", content=c).aggregate_id
        rt.catalog.submit(d.compiler, cmd(), eid)
        self.tick()
        rt.catalog.review(d.reviewer, cmd(), eid, review=PASS, decision=ReviewDecision.APPROVE)
        rt.catalog.publish(self.admin, cmd(), eid)

    def share(self) -> None:
        rt, rng = self.rt, self.rng
        rt.projector.catch_up_all()
        entries = rt.ledger.db.query("SELECT id FROM catalog_entries WHERE status = 'published' AND "
                                     "share_class <> 'not_shareable' ORDER BY id")
        if not entries:
            return
        eid = UUID(rng.choice(entries)["id"])
        codes = sorted(code for r in rt.ledger.db.query(
            "SELECT codes FROM catalog_items WHERE entry_id = ? AND published = 1", (str(eid),))
            for code in r["codes"].split())
        today = self.clock.now().date()
        asked = self.attempt(
            rt.sharing.submit, self.requester, cmd(), scenario="internal_sharing", reason="核对", purpose="核对",
            entries=(RequestedEntry(entry_id=eid, resource_code="", fields=tuple(codes[:rng.randint(1, 2)])),),
            valid_from=today, valid_to=today + timedelta(days=rng.randint(0, 20)), delivery_method="interface")
        if asked is None:
            return
        rid = asked.aggregate_id
        if rng.random() < 0.2:
            self.attempt(rt.sharing.review, self.admin, cmd(), rid, decision="reject", reason="用途不明")
            return
        self.attempt(rt.sharing.review, self.admin, cmd(), rid, decision="approve")
        order = self.attempt(rt.sharing.issue_order, self.admin, cmd(), rid)
        if order is not None:
            self.grants += [UUID(g) for g in msgspec.json.decode(order.body)["new_grants"]]

    def on_grant(self) -> None:
        if not self.grants:
            return
        gid, s = self.rng.choice(self.grants), self.rt.sharing
        act = self.rng.choice(("suspend", "resume", "revoke"))
        if act == "suspend":
            self.attempt(s.suspend, self.admin, cmd(), gid, reason="核查中")
        elif act == "resume":
            self.attempt(s.resume, self.admin, cmd(), gid)
        else:
            self.attempt(s.revoke, self.admin, cmd(), gid, reason="超范围使用")

    # -- systems -----------------------------------------------------------------------------------------

    def system(self) -> None:
        rt, rng, m, office = self.rt, self.rng, self.manager, self.admin
        self.n += 1
        catalog = () if rng.random() < 0.25 else (
            ProjectEntry(resource_code=f"SX-SYS-{self.n}", name="项目目录", item_codes=(f"SYS{self.n}-A",)),)
        if not self.systems or rng.random() < 0.25:  # a system already in operation is live at once
            made = self.attempt(rt.systems.register_existing, office, cmd(), owner="div-sys", name=f"存量{self.n}",
                                plan=PLAN, catalog=catalog, in_operation_since=self.clock.now().date())
        else:
            made = self.attempt(rt.systems.propose, m, cmd(), name=f"系统{self.n}", plan=PLAN, catalog=catalog)
        if made is None:
            return
        sid = made.aggregate_id
        self.systems.append(sid)
        steps = [
            lambda: rt.systems.justify(m, cmd(), sid, justification=WHY),
            lambda: rt.systems.review(office, cmd(), sid, decision=rng.choice(("approve", "approve", "reject")),
                                           comment="审核意见"),
            lambda: rt.systems.connect(m, cmd(), sid, platform="exchange", reference=f"JH-{self.n}"),
            lambda: rt.systems.connect(m, cmd(), sid, platform="integration", reference=f"YT-{self.n}"),
            lambda: rt.systems.record_test(office, cmd(), sid, passed=(ok := rng.random() < 0.8),
                                           findings=() if ok else ("字段缺失",)),
            lambda: rt.systems.go_live(m, cmd(), sid),
        ]
        for step in steps[:rng.randint(0, len(steps))]:
            self.attempt(step)

    def change(self) -> None:
        """A filed change on some system, implemented at once where it needs no confirmation."""
        self.rt.projector.catch_up_all()
        live = self.rt.ledger.db.query("SELECT id FROM systems WHERE state = 'live' ORDER BY id")
        if not live:
            return
        sid, m = UUID(self.rng.choice(live)["id"]), self.manager
        filed = self.attempt(self.rt.systems.file_change, m, cmd(), sid, kind=ChangeKind.CONTENT_CHANGE,
                             description="新增字段", affects_sharing=self.rng.random() < 0.5)
        if filed is not None and self.rng.random() < 0.7:
            self.attempt(self.rt.systems.implement_change, m, cmd(), sid, msgspec.json.decode(filed.body)["filing"])

    # -- compliance ----------------------------------------------------------------------------------------

    def violation(self) -> None:
        rt, rng, office = self.rt, self.rng, self.admin
        c = rt.compliance
        rt.projector.catch_up_all()
        for row in rt.compliance_queries.violations(scope=EVERYTHING, status="candidate", limit=3)[0]:
            vid = UUID(row.id)
            if rng.random() < 0.5:
                self.attempt(c.dismiss, office, cmd(), vid, reason="误报")
            else:
                self.attempt(c.confirm, office, cmd(), vid, comment="核实")
        raised = self.attempt(c.raise_violation, office, cmd(), kind=rng.choice(list(ViolationKind)),
                              subject=rng.choice(("div-sys", "div-sys", "div-req")), evidence=EVIDENCE,
                              summary="违规情形")
        if raised is not None:
            self.violations.append(raised.aggregate_id)
        if not self.violations:
            return
        vid = rng.choice(self.violations)
        steps = [
            lambda: c.issue_notice(office, cmd(), vid, deadline=self.clock.now() + timedelta(days=rng.randint(1, 9)),
                                   requirements="限期整改"),
            lambda: c.report(self.manager, cmd(), vid, report="已整改"),
            lambda: (c.accept(office, cmd(), vid, comment="整改到位") if rng.random() < 0.6
                     else c.escalate(office, cmd(), vid, reason="整改不到位")),
        ]
        for step in steps[:rng.randint(0, len(steps))]:
            self.attempt(step)


def recorded(rt: Any) -> list[tuple[int, str, Any]]:
    """Every stored event with its position and topic, read straight from the ledger."""
    out: list[tuple[int, str, Any]] = []
    start = 0
    while True:
        page = rt.ledger.recorder.select_notifications(start=start, limit=500, inclusive_of_start=False)
        if not page:
            return out
        out += [(n.id, n.topic, rt.ledger.mapper.to_domain_event(n)) for n in page]
        start = page[-1].id


def reference(events: list[tuple[int, str, Any]], position: int) -> MemoryDb:
    """The read models of exactly the events up to `position`, applied one event per page by fresh views."""
    db = MemoryDb()
    views = time_travel_views()
    with db.write() as tx:
        for v in views:
            v.create(tx)
    for pos, topic, event in events:
        if pos > position:
            break
        with db.write() as tx:
            for v in views:
                if v.wants(topic):
                    v.begin_page(tx)
                    v.apply(tx, event, pos)
                    v.end_page(tx)
    return db


def instants(rng: random.Random, events: list[tuple[int, str, Any]], start: datetime, end: datetime, k: int,
             checkpoints: list[int]) -> list[datetime]:
    """Uniform ones, exactly at and one microsecond either side of recorded events and of the events the
    checkpoints stand on (where a replica switches from one checkpoint to the next); some in UTC+8."""
    stamps = [e.timestamp for _, _, e in events]
    at_checkpoints = [e.timestamp for p, _, e in events if p in checkpoints]
    uniform = [start + (end - start) * rng.random() for _ in range(k)]
    exact = rng.sample(stamps, k) + at_checkpoints
    near = [t + d for t in rng.sample(stamps, k) + at_checkpoints for d in (-ONE_US, ONE_US)]
    return [t.astimezone(BEIJING) if rng.random() < 0.5 else t for t in uniform + exact + near]


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_state_at_random_instants_equals_an_independent_replay_to_that_instant(runtime, admin, clock, seed):
    rt, rng = runtime, random.Random(seed)
    history = MixedHistory(rt, admin, clock, rng)
    start = clock.now() - timedelta(hours=1)
    batch_ends = []
    for b in range(4):
        history.batch(prefix=f"S{seed}{b}")
        batch_ends.append(rt.ledger.max_position())
        clock.advance(days=rng.randint(1, 20))
        rt.timetravel.checkpoint_every = rng.randint(20, 120)
        rt.projector.catch_up_all()
        rt.timetravel.checkpoint()
    end = clock.now()
    assert rt.timetravel.latest_checkpoint() > 0, "the history crossed at least one checkpoint"

    # the history reaches every table a replica holds, grants in more than one state among them
    views = time_travel_views()
    held = {t for v in views for t in v.tables}
    assert set(MUST_HOLD) <= held
    for table in MUST_HOLD:
        assert rows(rt.ledger.db, table), f"the history left {table} empty"
    assert len({r["status"] for r in rt.ledger.db.query("SELECT status FROM grants")}) >= 2
    assert len({r["state"] for r in rt.ledger.db.query("SELECT state FROM systems")}) >= 2
    assert len({r["status"] for r in rt.ledger.db.query("SELECT status FROM violations")}) >= 2

    events = recorded(rt)
    assert [p for p, _, _ in events] == sorted(p for p, _, _ in events)
    inside = 0
    checkpoints = [int(r["position"]) for r in rt.ledger.db.query("SELECT position FROM state_checkpoints")]
    for at in instants(rng, events, start, end, k=6, checkpoints=checkpoints):
        position, replica = rt.state_at(at)
        expected = max((p for p, _, e in events if e.timestamp <= at), default=0)
        assert position == expected, ("position_at is the last event recorded at or before the instant", at)
        inside += position not in batch_ends
        truth = reference(events, position)
        for table in sorted(held):
            assert rows(replica, table) == rows(truth, table), (table, at, position)
    assert inside >= 4, "most instants fall inside a batch, not on its last event"

    # at the head, the replica equals the live read models
    position, replica = rt.state_at(end)
    assert position == rt.ledger.max_position()
    for table in sorted(held):
        assert rows(replica, table) == rows(rt.ledger.db, table), table


def test_before_the_first_event_the_state_is_empty(runtime, admin, clock):
    position, replica = runtime.state_at(clock.now() - timedelta(days=3650))
    assert position == 0 and rows(replica, "catalog_entries") == []


def test_checkpoints_stored_with_zlib_before_decision_0019_still_give_the_replayed_state(runtime, admin, clock):
    import zlib

    from projections.state_images import ZSTD_MAGIC, unpack_checkpoint

    rt, rng = runtime, random.Random(19)
    history = MixedHistory(rt, admin, clock, rng)
    history.batch(prefix="Z0")
    rt.projector.catch_up_all()
    assert rt.timetravel.checkpoint(force=True) is not None
    [row] = rt.ledger.db.query("SELECT position, payload FROM state_checkpoints")
    assert bytes(row["payload"])[:4] == ZSTD_MAGIC, "new checkpoints are Zstandard frames"
    # the checkpoint as an older version stored it: the same replica, zlib-compressed
    raw = MemoryDb(unpack_checkpoint(bytes(row["payload"])))
    with rt.ledger.db.write() as tx:
        tx.execute("UPDATE state_checkpoints SET payload = ? WHERE position = ?",
                   (zlib.compress(raw.serialize(), 6), row["position"]))
    clock.advance(days=2)
    history.batch(prefix="Z1")
    rt.projector.catch_up_all()
    end = clock.now()
    with rt.timetravel._lock:
        rt.timetravel._cache.clear()
    position, replica = rt.state_at(end)
    assert position == rt.ledger.max_position() > int(row["position"])
    truth = rt.timetravel.full_replay(position)
    for table in sorted({t for v in time_travel_views() for t in v.tables}):
        assert rows(replica, table) == rows(truth, table), table
