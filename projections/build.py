"""A view's build beside its live tables (blue-green, decision 0015): what a build is and the parts of its pages.

`Build` names a view's shadow tables (`<table>__next`, their indexes named by the generation's parity) and the
shadow's tracking record; `WithoutIndexes` is the view's `create` as a build starts it (secondary indexes are
made once the bulk is in); `ReadAhead` reads and decodes a build's next page in a thread of its own while the
page before it is written (decision 0025). The projector (`projections.runner`) drives the build: its pages,
the index pass and the swap.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from infrastructure.sql import Tx
from projections.base import View

# One row per view that was ever rebuilt: `generation` counts the swaps (its parity names the live
# tables' indexes, so a shadow's indexes never clash with the live ones); `building` is the schema
# version of the shadow being built, NULL when none is.
BUILDS_DDL = ("CREATE TABLE IF NOT EXISTS view_builds (name TEXT PRIMARY KEY, generation INTEGER NOT NULL, "
              "building INTEGER, started_at TEXT, swapped_at TEXT)")
SHADOW = "__next"

@contextlib.contextmanager
def freed_unzeroed(tx: Tx) -> Iterator[None]:
    """SQLite: the pages of the tables a swap drops are freed without being overwritten with zeros first. Many
    builds turn secure delete on, which writes every freed page once more (most of a large view's swap); the
    dropped tables hold only rows the tables swapped in hold too, as the log does. Restored afterwards."""
    if tx.dialect != "sqlite":
        yield
        return
    before = int(tx.scalar("PRAGMA secure_delete"))
    tx.execute("PRAGMA secure_delete = FAST")  # FAST: zeroes deleted cells only where that costs no extra write
    try:
        yield
    finally:
        tx.execute(f"PRAGMA secure_delete = {before}")

BUILD_CACHE_KIB = 131072
"""SQLite: the page cache of the connection that writes a build's page, in KiB (the default is 2 MiB). A page of
thousands of events inserts rows at random places in the shadow tables' keys; with the default cache the
transaction spills dirty pages to the write-ahead log and writes them there again and again."""

def index_suffix(generation: int) -> str:
    return "" if generation % 2 == 0 else "__g1"


@dataclass(frozen=True)
class Build:
    """A view's tables being built again beside the live ones."""

    view: str
    version: int
    generation: int  # the generation the shadow becomes when it is swapped in
    started_at: str

    @property
    def tracking_name(self) -> str:
        return f"view:{self.view}{SHADOW}"

    def tx(self, tx: Tx, view: View) -> Tx:
        """The transaction as the view's code sees it while building: its tables under their shadow names."""
        return tx.renamed({t: t + SHADOW for t in view.tables}, index_suffix(self.generation))


_SECONDARY_INDEX = re.compile(r"\s*CREATE\s+INDEX\b", re.IGNORECASE)


class WithoutIndexes:
    """A view's `create` as a build starts it: tables (and unique keys) only, no secondary index."""

    def __init__(self, tx: Tx) -> None:
        self._tx = tx
        self.dialect = tx.dialect

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        if _SECONDARY_INDEX.match(sql):
            return self
        return self._tx.execute(sql, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tx, name)


class Moved(Exception):
    """Another process applied a page to the build between the last read and the swap: read again."""


class BuildGone(Exception):
    """The build was swapped in or restarted by another process meanwhile."""


class ReadAhead:
    """One page read in a thread of its own while the caller applies the page before it.

    `ask(start, ...)` starts `read(start, ...)` (one at a time: a page asked for replaces the one pending);
    `take(start)` returns the page read from that same `start`, or None when none was asked for from there
    (the caller then reads it itself). A page read ahead is only ever a read: whoever applies it still checks,
    in its write transaction, that the view stands where the page starts. Both drivers release the GIL while
    they wait on the store, so the read overlaps the caller's folding and writing. Used as a context manager,
    the thread ends with the block (after the read in flight, if any)."""

    def __init__(self, read: Callable[..., Any]) -> None:
        self._read = read
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead")
        self._pending: tuple[int, Future[Any]] | None = None

    def ask(self, start: int, *args: Any) -> None:
        self._drop()
        self._pending = (start, self._pool.submit(self._read, start, *args))

    def take(self, start: int) -> Any:
        pending, self._pending = self._pending, None
        if pending is None:
            return None
        if pending[0] != start:
            pending[1].cancel()
            return None
        try:
            return pending[1].result()
        except Exception:  # the caller's own read will meet the same error, or not, and say so
            return None

    def _drop(self) -> None:
        if self._pending is not None:
            self._pending[1].cancel()
            self._pending = None

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self._drop()
        self._pool.shutdown(wait=True, cancel_futures=True)
