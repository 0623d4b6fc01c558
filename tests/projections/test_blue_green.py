"""Rebuild without downtime: a view is built beside its live tables and swapped in by one transaction.

Readers never see a view empty or partial while it is rebuilt, a changed schema version rebuilds the view
beside the old tables, and a rebuild killed by SIGKILL (in the middle of a page's transaction) leaves the
live view as it was and is resumed by the next start.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bootstrap import Runtime
from projections.catalog import CatalogView
from projections.catalog_queries import CatalogFilter
from projections.registry import all_views
from projections.runner import Projector
from projections.scope import EVERYTHING
from tests.projections.test_catalog_projection import random_history

ROOT = Path(__file__).resolve().parents[2]
CATALOG = CatalogView.tables


def counts(rt: Any, tables: tuple[str, ...]) -> dict[str, int]:
    return {t: int(rt.ledger.db.scalar(f"SELECT COUNT(*) FROM {t}")) for t in tables}


def rows(rt: Any, tables: tuple[str, ...]) -> dict[str, list[tuple[str, ...]]]:
    return {t: sorted(tuple(str(v) for v in r.values()) for r in rt.ledger.db.query(f"SELECT * FROM {t}"))
            for t in tables}


def generation(rt: Any, name: str) -> int:
    return int(rt.ledger.db.scalar("SELECT generation FROM view_builds WHERE name = ?", (name,)) or 0)


def test_readers_never_see_a_view_empty_or_partial_during_a_rebuild(runtime, admin):
    random_history(runtime, admin, seed=11, n=30)
    runtime.projector.catch_up_all()
    tables = tuple(t for v in all_views() for t in v.tables)
    expected = counts(runtime, tables)
    assert expected["catalog_entries"] == 30 and expected["organizations"] > 0
    now = datetime.now(UTC)
    seen: list[dict[str, int]] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            try:
                seen.append(counts(runtime, tables))
                listed, _ = runtime.catalog_queries.list(CatalogFilter(), scope=EVERYTHING, now=now, limit=100)
                seen.append({"catalog_entries": len(listed)})
            except BaseException as e:  # noqa: BLE001 - any error is a reader left without its view
                errors.append(e)
                return

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        runtime.projector.build_page_size = 3  # many pages, so the reader runs through the whole build
        runtime.projector.rebuild()
    finally:
        done.set()
        thread.join()
    assert errors == []
    assert len(seen) > 20, "the reader did not read during the rebuild"
    partial = [s for s in seen if any(s[t] != expected[t] for t in s)]
    assert partial == []
    assert all(generation(runtime, v.name) == 1 for v in all_views()), "every view was swapped"
    assert runtime.projector.rebuilds() == []
    assert counts(runtime, tables) == expected


def test_a_changed_schema_version_is_rebuilt_beside_the_old_tables(runtime, admin):
    random_history(runtime, admin, seed=5, n=12)
    runtime.projector.catch_up_all()
    expected = rows(runtime, CATALOG)

    class CatalogV99(CatalogView):
        version = 99

    projector = Projector(runtime.ledger, [CatalogV99()], page_size=4)
    # until the new tables are swapped in, the old ones answer, whole
    assert projector.build_position("catalog") == 0
    assert rows(runtime, CATALOG) == expected
    assert runtime.ledger.db.scalar("SELECT version FROM view_schemas WHERE name = 'catalog'") == CatalogView.version
    projector.catch_up("catalog")
    assert projector.build_position("catalog") is None
    assert runtime.ledger.db.scalar("SELECT version FROM view_schemas WHERE name = 'catalog'") == 99
    assert projector.position("catalog") == runtime.ledger.max_position()
    assert rows(runtime, CATALOG) == expected
    # a second build swaps the other set of index names in: the live indexes are never duplicated
    projector.rebuild(["catalog"])
    assert generation(runtime, "catalog") == 2 and rows(runtime, CATALOG) == expected
    assert index_count(runtime, "catalog_entries") == index_count_after_fresh_create(runtime)


def index_count(rt: Any, table: str) -> int:
    if rt.ledger.backend == "postgres":
        return int(rt.ledger.db.scalar("SELECT COUNT(*) FROM pg_indexes WHERE tablename = ?", (table,)))
    return int(rt.ledger.db.scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = ?",
                                   (table,)))


def index_count_after_fresh_create(rt: Any) -> int:
    with rt.ledger.db.write() as tx:
        tx.execute("CREATE TABLE probe_catalog (x INTEGER)")
    try:
        # the DDL of a fresh view on a scratch name counts the indexes one set holds
        with rt.ledger.db.write() as tx:
            CatalogView().create(tx.renamed({t: f"probe_{t}" for t in CATALOG}, "__probe"))
        return index_count(rt, "probe_catalog_entries")
    finally:
        with rt.ledger.db.write() as tx:
            for t in ("probe_catalog", *(f"probe_{t}" for t in CATALOG)):
                tx.execute(f"DROP TABLE IF EXISTS {t}")


VICTIM = """
import sys, time
from bootstrap import Runtime
from infrastructure.config import Settings
from projections.catalog import CatalogView
from projections.catalog_queries import CatalogFilter

class Stuck(CatalogView):
    seen = 0

    def apply(self, tx, event, position):
        super().apply(tx, event, position)
        Stuck.seen += 1
        if Stuck.seen == 20:  # the fifth page of four events is open in its transaction: stop here
            print("in-page", flush=True)
            time.sleep(600)

rt = Runtime(Settings(database_url=sys.argv[1]))
rt.projector.views["catalog"] = Stuck()
rt.projector.build_page_size = 4
rt.projector.rebuild(["catalog"])
print("finished", flush=True)
"""


def test_a_rebuild_killed_in_a_page_leaves_the_live_view_and_resumes_on_restart(runtime, admin, settings, clock):
    random_history(runtime, admin, seed=7, n=20)
    runtime.projector.catch_up_all()
    expected = rows(runtime, CATALOG)
    head = runtime.ledger.max_position()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    victim = subprocess.Popen([sys.executable, "-c", VICTIM, settings.database_url], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert victim.stdout is not None
        assert victim.stdout.readline().strip() == "in-page"
        # the live view answers, whole, while the rebuild holds a page open
        assert rows(runtime, CATALOG) == expected
        os.kill(victim.pid, signal.SIGKILL)
        assert victim.wait(timeout=30) == -signal.SIGKILL
    finally:
        if victim.poll() is None:
            victim.kill()
    stopped = runtime.projector.build_position("catalog")
    assert stopped is not None and 0 < stopped < head, "the build's committed pages stay, the open one is gone"
    assert rows(runtime, CATALOG) == expected and runtime.projector.position("catalog") == head
    # what /health and /metrics show of it meanwhile
    [shown] = runtime.projector.rebuilds()
    assert (shown["view"], shown["position"], shown["head"]) == ("catalog", stopped, head)
    assert shown["progress"] == round(stopped / head, 4)

    restarted = Runtime(settings, clock=clock)  # a restart finds the build and finishes it
    try:
        resumed: list[int] = []
        restarted.projector.rebuild(["catalog"], progress=resumed.append)
        assert resumed[0] == stopped, "the build resumed where its last page committed"
        assert sum(resumed) == head
        assert restarted.projector.build_position("catalog") is None
        assert rows(restarted, CATALOG) == expected
        assert restarted.projector.position("catalog") == head
    finally:
        restarted.close()


def test_a_build_left_by_a_killed_run_is_finished_by_the_next_catch_up(runtime, admin, settings, clock):
    random_history(runtime, admin, seed=8, n=8)
    runtime.projector.catch_up_all()
    expected = rows(runtime, CATALOG)
    view = CatalogView()
    projector = Projector(runtime.ledger, [view], page_size=4)
    with runtime.ledger.db.write() as tx:  # what a run killed right after starting its build leaves behind
        projector._builds["catalog"] = projector._begin_build(tx, view)
    restarted = Runtime(settings, clock=clock)
    try:
        assert restarted.projector.build_position("catalog") == 0
        restarted.projector.catch_up_all()
        assert restarted.projector.build_position("catalog") is None
        assert generation(restarted, "catalog") == 1
        assert rows(restarted, CATALOG) == expected
    finally:
        restarted.close()


def test_a_swap_never_moves_the_live_view_back_past_pages_it_applied_meanwhile(runtime, admin):
    """The live view (another process's projector) commits pages after the build read its last events and
    before the swap's transaction: the swap must not put the live position, or the rows, back to the head
    it read; it reads again and swaps in a shadow that holds those events too."""
    random_history(runtime, admin, seed=12, n=6)
    runtime.projector.catch_up_all()
    raced: list[int] = []

    class Racing(Projector):
        swapping = False

        def _index(self, view: Any, build: Any) -> None:
            super()._index(view, build)
            if not raced:  # events the swap reads itself, before its transaction
                random_history(runtime, admin, seed=14, n=1, prefix="Q")

        def _swap(self, view: Any, build: Any, progress: Any) -> None:
            self.swapping = True
            try:
                super()._swap(view, build, progress)
            finally:
                self.swapping = False

        def _page(self, view: Any, start: int, head: int, build: Any = None) -> Any:
            out = super()._page(view, start, head, build)
            if self.swapping and not raced:  # between the swap's read of the head and its transaction
                random_history(runtime, admin, seed=13, n=3, prefix="R")
                raced.append(runtime.projector.catch_up("catalog"))
            return out

    projector = Racing(runtime.ledger, [CatalogView()], page_size=4)
    projector.rebuild(["catalog"])
    assert raced and raced[0] == runtime.ledger.max_position()
    assert projector.position("catalog") == runtime.ledger.max_position()
    live = rows(runtime, CATALOG)
    assert len(live["catalog_entries"]) == 10, "the entries written during the swap are in the swapped-in view"
    runtime.projector.rebuild(["catalog"])  # a quiet rebuild of the same log gives the same rows
    assert rows(runtime, CATALOG) == live
