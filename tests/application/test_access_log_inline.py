"""The access-log view takes a batch inside the batch's own transaction when it stands just before it
(decision 26), on both stores: exactly once, equal to a rebuild, left to the projector whenever it is
behind or its code fails, and still exactly once with a second process projecting and the ingesting
process killed with SIGKILL in the middle."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.utils import get_topic

from domain.access_log import AccessLogBatch
from domain.organizations import Level, OrgKind
from projections.access_log import COLUMNS, instant, row_of
from tests.application.access_log_world import World
from tests.processes import ROOT, wait_until
from tests.projections.test_rebuild_equals_live import dump
from tests.support import cmd

TABLES = ("access_log", "access_log_daily")


@pytest.fixture
def world(runtime, admin, clock) -> World:
    return World(runtime, admin, clock)


def position(rt: Any) -> int:
    return rt.projector.position("access_log")


def consistent(rt: Any) -> int:
    """Every stored request id is in the view once, and the daily counts count each row once per side."""
    db = rt.ledger.db
    rows = int(db.scalar("SELECT COUNT(*) FROM access_log"))
    keys = int(db.scalar("SELECT COUNT(*) FROM ledger_unique_keys WHERE scope = 'access-log'"))
    assert rows == keys
    for side in ("provider", "holder"):
        counted = db.scalar("SELECT SUM(allowed) + SUM(denied) FROM access_log_daily WHERE side = ?", (side,))
        assert int(counted or 0) == rows
    return rows


def test_a_batch_the_view_stands_just_before_is_applied_in_its_own_transaction(runtime, world):
    runtime.projector.catch_up_all()
    pages = runtime.projector.pages
    batch = [world.access("div-elder"), world.access("div-welfare", fields=("A", "C")), world.access("xa-nobody")]
    _, at = runtime.access_log.record(world.platform, cmd(), batch)
    # no projector ran: the rows and the tracking record came with the batch
    assert position(runtime) == at == runtime.ledger.max_position()
    assert runtime.projector.board.known("access_log") == at
    assert consistent(runtime) == 3
    runtime.projector.catch_up("access_log")
    assert runtime.projector.pages == pages  # nothing left for the projector to apply
    live = dump(runtime, TABLES)
    runtime.projector.rebuild(["access_log"])
    assert dump(runtime, TABLES) == live


def test_a_single_use_grant_consumed_in_the_batch_is_applied_with_it(runtime, world):
    """The save holds the batch and the grant's event: the view skips the grant's event and stands after both."""
    runtime.projector.catch_up_all()
    gid = world.grants[("div-elder", world.limited)]
    answer, at = runtime.access_log.record(world.platform, cmd(), [world.access(entry=world.limited)])
    assert answer.records[0].consumed_grant == str(gid)
    assert position(runtime) == at == runtime.ledger.max_position()
    assert consistent(runtime) == 1
    row = runtime.ledger.db.query_one("SELECT consumed_grant, position FROM access_log")
    assert row is not None and row["consumed_grant"] == str(gid) and int(row["position"]) < at
    live = dump(runtime, TABLES)
    runtime.projector.rebuild(["access_log"])
    assert dump(runtime, TABLES) == live


def test_the_catalog_and_sharing_views_take_the_batch_with_it_and_equal_a_rebuild(runtime, world):
    """Decision 31: the views the next batch's judging waits for stand after the save with no catch-up."""
    runtime.projector.catch_up_all()
    pages = runtime.projector.pages
    gid = world.grants[("div-elder", world.limited)]
    _, at = runtime.access_log.record(world.platform, cmd(), [world.access(entry=world.limited),
                                                              world.access("div-welfare")])
    for name in ("access_log", "catalog", "sharing"):
        assert runtime.projector.position(name) == at == runtime.ledger.max_position()
        assert runtime.projector.board.known(name) == at
    # the sharing view applied the consumed grant's event in the save
    status = runtime.ledger.db.scalar("SELECT status FROM grants WHERE id = ?", (str(gid),))
    assert status == "consumed"
    runtime.projector.catch_up("catalog")
    runtime.projector.catch_up("sharing")
    assert runtime.projector.pages == pages  # nothing left for the projector to apply
    tables = tuple(runtime.projector.views["sharing"].tables)
    live = dump(runtime, tables)
    runtime.projector.rebuild(["sharing"])
    assert dump(runtime, tables) == live


def test_a_view_behind_leaves_the_batch_to_the_projector(runtime, world, admin):
    runtime.projector.catch_up_all()
    first, _ = runtime.access_log.record(world.platform, cmd(), [world.access("div-elder")])
    before = position(runtime)
    # an event the view does not read, written without the view catching up: it now stands before it
    runtime.organizations.register(admin, cmd(), code="div-other", name="其他处", kind=OrgKind.DIVISION,
                                   level=Level.PROVINCE, parent="office")
    _, at = runtime.access_log.record(world.platform, cmd(), [world.access("div-welfare")])
    assert position(runtime) == before < at
    assert int(runtime.ledger.db.scalar("SELECT COUNT(*) FROM access_log")) == 1
    runtime.projector.catch_up("access_log")
    assert position(runtime) == runtime.ledger.max_position()
    assert consistent(runtime) == 2


def test_a_failure_of_the_view_rolls_back_to_its_savepoint_and_keeps_the_batch(runtime, world, monkeypatch):
    runtime.projector.catch_up_all()
    view = runtime.projector.views["access_log"]
    calls = []

    def failing(tx: Any) -> None:
        calls.append(1)
        raise RuntimeError("the view's code failed")

    monkeypatch.setattr(view, "end_page", failing)
    answer, at = runtime.access_log.record(world.platform, cmd(), [world.access("div-elder")])
    assert calls and at and answer.allowed == 1
    assert runtime.access_log.stored_request_ids([answer.records[0].request_id]) == {answer.records[0].request_id}
    assert position(runtime) < at  # nothing of the page stayed
    monkeypatch.undo()
    runtime.projector.catch_up("access_log")
    assert position(runtime) == at
    assert consistent(runtime) == 1


_INGEST = """
import sys, itertools
from datetime import datetime, timedelta, UTC
from uuid import UUID
from application.common import Command, Principal
from bootstrap import Runtime
from domain.access_log import Access
from infrastructure.config import Settings

url, entry, start = sys.argv[1], UUID(sys.argv[2]), datetime.fromisoformat(sys.argv[3])
rt = Runtime(Settings(database_url=url))
platform = Principal(person="交换平台", organization="office", roles=frozenset({"platform"}))
for i in itertools.count():
    batch = [Access(request_id=f"kill-{i}-{j}", holder=("div-elder", "div-welfare", "xa-nobody")[j % 3],
                    provider="div-relief", entry_id=entry, fields=("A",), purpose="高龄津贴资格核对",
                    method="interface", record_count=j, accessed_at=start + timedelta(seconds=i * 50 + j))
             for j in range(50)]
    rt.access_log.record(platform, Command(name="access_log.record"), batch)
    print(i, flush=True)
"""


def test_exactly_once_with_a_second_projector_and_the_ingesting_process_killed(runtime, world, clock, settings,
                                                                              tmp_path: Path):
    """Another process ingests (taking its batches into the view itself whenever it can) while this one
    projects the same view in a loop; the ingesting process is killed with SIGKILL mid-run."""
    runtime.projector.catch_up_all()
    out = tmp_path / "ingest.out"
    start = clock.now() - timedelta(days=1)
    with open(out, "wb") as sink:
        child = subprocess.Popen([sys.executable, "-c", _INGEST, settings.database_url, str(world.open),
                                  start.isoformat()], env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=tmp_path,
                                 stdout=sink, stderr=subprocess.STDOUT)
    stop = threading.Event()

    def project() -> None:
        while not stop.is_set():
            runtime.projector.catch_up("access_log")
            time.sleep(0.01)

    projector = threading.Thread(target=project)
    projector.start()
    try:
        wait_until(lambda: child.poll() is not None or sum(w.isdigit() for w in out.read_text().split()) >= 12,
                   timeout=120)
        assert child.poll() is None, out.read_text()[-3000:]
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        stop.set()
        projector.join()
        if child.poll() is None:
            child.kill()
    runtime.projector.catch_up("access_log")
    assert position(runtime) == runtime.ledger.max_position()
    rows = consistent(runtime)
    assert rows >= 12 * 50 and rows % 50 == 0  # whole batches only
    live = dump(runtime, TABLES)
    runtime.projector.rebuild(["access_log"])
    assert dump(runtime, TABLES) == live


def test_the_view_rows_are_the_rows_row_of_gives_whatever_the_text(runtime, world):
    """On PostgreSQL the page's records reach the server as JSON text: quotes, backslashes and control
    characters in the records' texts come out as `row_of` (the SQLite path) spells them."""
    runtime.projector.catch_up_all()
    batch = [world.access("div-elder"), world.access("div-welfare", fields=("A", "C")), world.access("xa-nobody"),
             world.access("div-elder", purpose='其他"用途\\\n\t'), world.access(entry=world.limited),
             world.access("div-elder", request_id='a"b\\c~')]
    runtime.access_log.record(world.platform, cmd(), batch)  # in the batch's transaction
    # and through the projector: a view behind, so the second batch is left to it
    runtime.organizations.register(world.admin, cmd(), code="div-other", name="其他处", kind=OrgKind.DIVISION,
                                   level=Level.PROVINCE, parent="office")
    runtime.access_log.record(world.platform, cmd(), [world.access("div-welfare", purpose="\\u00e9 é")])
    runtime.projector.catch_up_all()
    stored = {r["request_id"]: r for r in runtime.ledger.db.query("SELECT * FROM access_log")}
    expected = {}
    for n in runtime.ledger.recorder.select_notifications(start=0, limit=10_000, topics=(get_topic(
            AccessLogBatch.Recorded),)):
        event = runtime.ledger.mapper.to_domain_event(n)
        for r in event.records:
            expected[r.request_id] = row_of(r, str(event.originator_id), instant(event.timestamp), n.id)
    assert len(expected) == 7
    for rid, row in expected.items():
        got = stored[rid]
        assert tuple(int(got[c]) if c in ("record_count", "position") else got[c] for c in COLUMNS) == row
