"""USE-1 across processes: two API processes answer grant-status questions while a third process
writes grants, on one PostgreSQL. Every answer names the ledger position it stands on; it must be
the answer the full history gives at that position or at a later one the ledger had reached when
the answer came back, and a position sent back to the other process as X-Min-Position must be
honoured. When the writer has stopped, both processes give exactly the history's answer. And a grant
revoked by another process is refused by both API processes, from their caches, within 1 s."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from datetime import datetime
from typing import Any
from uuid import UUID

import httpx
import msgspec
import pytest

from bootstrap import Runtime
from domain.grant_status import evaluate, grant_states_from_events
from infrastructure.config import Settings
from tests.api.test_processes import _env, _init
from tests.application.test_grant_status_property import FIELDS, PURPOSES, on
from tests.conftest import database_url
from tests.processes import ROOT, Proc, free_port

WRITE_SECONDS = 12


class History:
    """The whole log read once, with positions, to judge any answer as at any position."""

    def __init__(self, rt: Runtime) -> None:
        self.events: list[tuple[int, Any]] = []
        position = 0
        while True:
            page = rt.ledger.recorder.select_notifications(start=position, limit=500, inclusive_of_start=False)
            if not page:
                break
            self.events += [(n.id, rt.ledger.mapper.to_domain_event(n)) for n in page]
            position = page[-1].id

    def positions_between(self, low: int, high: int) -> list[int]:
        """`low` and each position after it up to `high` where an event is (the answers that may differ)."""
        return [low, *(p for p, _ in self.events if low < p <= high)]

    def answer(self, position: int, holder: str, entry: UUID, fields: tuple[str, ...], purpose: str,
               at: datetime) -> tuple[Any, ...]:
        states = grant_states_from_events([e for p, e in self.events if p <= position], at)
        d = evaluate(states.values(), holder=holder, entry_id=entry, fields=fields, purpose=purpose,
                     method="interface", at=at)
        return d.allowed, d.grant_id, tuple(d.reasons)


def served(body: dict[str, Any]) -> tuple[Any, ...]:
    reasons = tuple(r for r in body["reasons"])
    return body["allowed"], UUID(body["grant_id"]) if body["grant_id"] else None, reasons


def judged(truth: tuple[Any, ...]) -> tuple[Any, ...]:
    """The history's decision as the API spells it (reasons as JSON)."""
    allowed, grant_id, reasons = truth
    return allowed, grant_id, tuple(msgspec.json.decode(msgspec.json.encode(reasons)))


@pytest.mark.postgres
def test_two_api_processes_answer_as_the_history_does_while_a_third_process_writes(tmp_path):
    settings = Settings(database_url=database_url("postgres", tmp_path))
    _init(settings, tmp_path)
    rt = Runtime(settings)
    platform = rt.issue_token(org="office", person="交换平台", roles=("platform",))
    apis = [Proc(f"api{i}", ["serve"], _env(settings), tmp_path, port=free_port()).start() for i in range(2)]
    writer = None
    try:
        for a in apis:
            a.wait_healthy()
        writer = subprocess.Popen(
            [sys.executable, "-m", "tests.api.grant_writer", settings.database_url, str(WRITE_SECONDS), "15"],
            env={**_env(settings), "PYTHONPATH": str(ROOT)}, cwd=tmp_path, stdout=subprocess.PIPE, text=True)
        assert writer.stdout is not None
        world = json.loads(writer.stdout.readline())
        entries = [UUID(e) for e in world["entries"]]
        rng = random.Random(15)
        clients = [httpx.Client(base_url=a.url, headers={"Authorization": f"Bearer {platform}"}, timeout=30)
                   for a in apis]
        asked: list[tuple[tuple[Any, ...], dict[str, Any], int]] = []
        passed_on = 0

        def question() -> tuple[str, UUID, tuple[str, ...], str]:
            which = rng.randint(0, 1)
            return (rng.choice(world["holders"]), entries[which],
                    on(which, rng.sample(FIELDS, rng.randint(1, len(FIELDS)))), rng.choice(PURPOSES))

        def ask(c: httpx.Client, q: tuple[str, UUID, tuple[str, ...], str],
                min_position: int | None = None) -> dict[str, Any]:
            holder, entry, fields, purpose = q
            headers = {"X-Min-Position": str(min_position)} if min_position else {}
            r = c.get("/grant-status", params={"holder": holder, "entry_id": str(entry), "fields": ",".join(fields),
                                               "purpose": purpose, "method": "interface"}, headers=headers)
            assert r.status_code == 200, r.text
            body = r.json()
            assert int(r.headers["X-Ledger-Position"]) == body["position"]
            return body

        while writer.poll() is None:
            i = rng.randint(0, 1)
            q = question()
            body = ask(clients[i], q)
            asked.append((q, body, rt.ledger.max_position()))  # the head once the answer is in
            if rng.random() < 0.3:  # the token sent back to the other process: an answer at least that fresh
                again = ask(clients[1 - i], q, min_position=body["position"])
                assert again["position"] >= body["position"]
                asked.append((q, again, rt.ledger.max_position()))
                passed_on += 1
            time.sleep(0.01)
        assert writer.returncode == 0 and writer.stdout.read().startswith("done ")

        history = History(rt)
        assert len(asked) > 50 and passed_on > 5, (len(asked), passed_on)
        allowed_seen = False
        for (holder, entry, fields, purpose), body, head in asked:
            at = datetime.fromisoformat(body["at"])
            candidates = [judged(history.answer(p, holder, entry, fields, purpose, at))
                          for p in history.positions_between(body["position"], head)]
            assert served(body) in candidates, (served(body), body["position"], head, candidates)
            allowed_seen |= body["allowed"]
        assert allowed_seen  # the writes did grant something the questions found

        # Quiet now: with the head as X-Min-Position both processes give the history's answer exactly.
        head = rt.ledger.max_position()
        for _ in range(20):
            q = question()
            for c in clients:
                body = ask(c, q, min_position=head)
                assert body["position"] >= head or body["position"] == rt.projector.position("sharing")
                truth = judged(history.answer(head, *q, datetime.fromisoformat(body["at"])))
                assert served(body) == truth, (q, body)
    finally:
        if writer is not None and writer.poll() is None:
            writer.kill()
        for a in apis:
            a.stop()
        rt.close()


@pytest.mark.postgres
def test_a_grant_revoked_elsewhere_is_refused_by_both_api_processes_within_1_second(tmp_path):
    from application.common import Principal
    from tests.application.test_grant_status_property import World
    from tests.support import cmd

    settings = Settings(database_url=database_url("postgres", tmp_path))
    _init(settings, tmp_path)
    rt = Runtime(settings)  # the writer: a process of its own that tells the API processes nothing directly
    admin = Principal(person="office-admin", organization="office", roles=frozenset({"office_admin"}))
    platform = rt.issue_token(org="office", person="交换平台", roles=("platform",))
    world = World(rt, admin, rt.clock)
    world.run(("grant", "div-h1", 0, ["DB_ID", "DB_NAME"], PURPOSES[0], 10))
    granted = rt.ledger.max_position()
    apis = [Proc(f"api{i}", ["serve"], _env(settings), tmp_path, port=free_port()).start() for i in range(2)]
    try:
        for a in apis:
            a.wait_healthy()
        clients = [httpx.Client(base_url=a.url, headers={"Authorization": f"Bearer {platform}"}, timeout=30)
                   for a in apis]
        params = {"holder": "div-h1", "entry_id": str(world.entries[0]), "fields": on(0, ["DB_ID"])[0],
                  "purpose": PURPOSES[0], "method": "interface"}
        for c in clients:  # both now hold the holder's grants in their caches
            for _ in range(3):
                r = c.get("/grant-status", params=params, headers={"X-Min-Position": str(granted)})
                assert r.status_code == 200 and r.json()["allowed"] is True, r.text

        rt.sharing.revoke(admin, cmd(), world.grants[0], reason="违规使用")
        revoked = time.monotonic()
        refused_after: list[float] = []
        for c in clients:
            while True:
                body = c.get("/grant-status", params=params).json()  # no X-Min-Position: the plain hot path
                if body["allowed"] is False:
                    assert body["reasons"][0]["code"] == "revoked"
                    refused_after.append(time.monotonic() - revoked)
                    break
                assert time.monotonic() - revoked < 5, "still allowed 5 s after the revocation"
                time.sleep(0.01)
        assert max(refused_after) < 1.0, refused_after
    finally:
        for a in apis:
            a.stop()
        rt.close()
