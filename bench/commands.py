"""Catalog commands per second through the application layer, against a raw insert-and-commit loop.

Each command is a full `CatalogService` call: the caller's role, loading the provider and the
entry, the domain's checks, encoding, and one committed save. The baseline writes rows of the
same byte size as the stored events, one transaction each, to a plain table on the same server.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.utils import get_topic

from application.common import Principal
from bench.common import (
    Options,
    Outcome,
    Row,
    command,
    division,
    entry_content,
    fresh_runtime,
    scratch_dir,
)
from bootstrap import Runtime
from domain.base import Actor, Cause, Context
from domain.catalog import CatalogEntry
from domain.organizations import Level, Role

NAME = "commands"
TITLE = "Catalog commands per second"
AIM = 0.5
WARMUP = 20
ROUNDS = 10


def _drafts(rt: Runtime, compiler: Principal, start: int, n: int, keyed: bool = False) -> list[UUID]:
    ids: list[UUID] = []
    for i in range(start, start + n):
        key = f"draft-{i}" if keyed else None
        r = rt.catalog.draft(compiler, command("catalog.draft", key),
                             resource_code=f"SX-MZ-{i:06d}", content=entry_content(i))
        assert r.aggregate_id is not None
        ids.append(r.aggregate_id)
    return ids


def _revisions(rt: Runtime, compiler: Principal, ids: list[UUID], start: int) -> None:
    for n, eid in enumerate(ids):
        rt.catalog.revise_draft(compiler, command("catalog.revise_draft"), eid,
                                content=entry_content(start + n, revision=1))


def _prebuilt(rt: Runtime, start: int, n: int) -> list[CatalogEntry]:
    """Draft aggregates built in memory, to save straight to the ledger: the library's write path alone."""
    ctx = Context(actor=Actor("div-relief-compiler", "div-relief", Role.CATALOG_COMPILER),
                  at=rt.clock.now(), cause=Cause("catalog.draft"))
    return [CatalogEntry.draft(ctx, resource_code=f"SX-LIB-{i:06d}", provider="div-relief",
                               provider_level=Level.PROVINCE, content=entry_content(i))
            for i in range(start, start + n)]


def _state_size(rt: Runtime) -> int:
    topics = (get_topic(CatalogEntry.Drafted), get_topic(CatalogEntry.DraftRevised))
    value = rt.ledger.db.scalar(
        f"SELECT AVG(LENGTH(state)) FROM {rt.ledger.events_table} WHERE topic IN (?, ?)", topics
    )
    return round(float(value))


class RawLoop:
    """The baseline: one row of `size` bytes per transaction into a plain table, on one held connection."""

    def __init__(self, rt: Runtime, work: Path, size: int) -> None:
        self.payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
        self.count, self.seconds = 0, 0.0
        self.pg: psycopg.Connection[Any] | None = None
        self.lite: sqlite3.Connection | None = None
        if rt.ledger.backend == "postgres":
            self.pg = psycopg.connect(rt.settings.database_url)
            self.pg.execute("DROP TABLE IF EXISTS bench_raw_inserts")
            self.pg.execute("CREATE TABLE bench_raw_inserts (id BIGSERIAL PRIMARY KEY, payload BYTEA NOT NULL)")
            self.pg.commit()
        else:
            self.lite = sqlite3.connect(work / f"raw-{time.monotonic_ns()}.sqlite3", isolation_level=None)
            self.lite.execute("PRAGMA journal_mode=WAL")
            self.lite.execute("CREATE TABLE bench_raw_inserts (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)")
        self.insert(WARMUP)

    def insert(self, n: int) -> float:
        t0 = time.perf_counter()
        if self.pg is not None:
            for _ in range(n):
                self.pg.execute("INSERT INTO bench_raw_inserts (payload) VALUES (%s)", (self.payload,))
                self.pg.commit()
        else:
            assert self.lite is not None
            for _ in range(n):
                self.lite.execute("BEGIN")
                self.lite.execute("INSERT INTO bench_raw_inserts (payload) VALUES (?)", (self.payload,))
                self.lite.execute("COMMIT")
        return time.perf_counter() - t0

    def timed(self, n: int) -> None:
        self.seconds += self.insert(n)
        self.count += n

    def rate(self) -> float:
        return self.count / self.seconds

    def close(self) -> None:
        if self.pg is not None:
            self.pg.execute("DROP TABLE bench_raw_inserts")
            self.pg.commit()
            self.pg.close()
        if self.lite is not None:
            self.lite.close()


def _chunks(total: int) -> list[int]:
    size = max(1, total // ROUNDS)
    return [min(size, total - i) for i in range(0, total, size)]


def _measure(rt: Runtime, work: Path, n: int) -> dict[str, float]:
    """Times n/2 drafts, n/2 revisions of them, n/4 keyed drafts and n/2 bare ledger saves.

    Each kind runs in rounds, and after every round the raw loop inserts as many rows, so a change
    of load on the machine during the run weighs on the figure and its baseline alike.
    """
    compiler, _ = division(rt)
    _revisions(rt, compiler, _drafts(rt, compiler, 0, WARMUP), 0)
    size = _state_size(rt)
    raw = RawLoop(rt, work, size)
    seconds: dict[str, float] = {"draft": 0.0, "revise": 0.0, "keyed": 0.0, "saves": 0.0}
    half, keyed = n // 2, n // 4
    serial = WARMUP

    def timed(kind: str, count: int, act: Callable[..., object], *args: Any, **kw: Any) -> Any:
        t0 = time.perf_counter()
        result = act(*args, **kw)
        seconds[kind] += time.perf_counter() - t0
        raw.timed(count)
        return result

    def save_each(entries: list[CatalogEntry]) -> None:
        for e in entries:
            rt.ledger.save(e)

    try:
        ids: list[UUID] = []
        for c in _chunks(half):
            ids += timed("draft", c, _drafts, rt, compiler, serial, c)
            serial += c
        for d, c in zip(range(0, half, _chunks(half)[0]), _chunks(half), strict=True):
            timed("revise", c, _revisions, rt, compiler, ids[d:d + c], WARMUP + d)
        for c in _chunks(keyed):
            timed("keyed", c, _drafts, rt, compiler, serial, c, keyed=True)
            serial += c
        for c in _chunks(half):
            entries = _prebuilt(rt, serial, c)
            serial += c
            timed("saves", c, save_each, entries)
        baseline = raw.rate()
    finally:
        raw.close()
    return {
        "all": 2 * half / (seconds["draft"] + seconds["revise"]), "draft": half / seconds["draft"],
        "revise": half / seconds["revise"], "keyed": keyed / seconds["keyed"], "saves": half / seconds["saves"],
        "size": size, "raw": baseline,
    }


def _rows(store: str, m: dict[str, float], aim: bool) -> list[Row]:
    raw = m["raw"]
    base = f"raw insert+commit ({store}, {int(m['size'])} B rows)"

    def row(metric: str, value: float, main: bool = False, unit: str = "commands/s") -> Row:
        ratio = value / raw
        return Row(metric=metric, figure=value, unit=unit, baseline_name=base, baseline=raw,
                   baseline_unit="inserts/s", ratio=ratio,
                   aim=f">= {AIM}" if aim and main else "information",
                   met=(ratio >= AIM) if aim and main else None)

    return [
        row(f"{store}: draft + revise_draft", m["all"], main=True),
        row(f"{store}: draft only", m["draft"]),
        row(f"{store}: revise_draft only", m["revise"]),
        row(f"{store}: draft with Idempotency-Key", m["keyed"]),
        row(f"{store}: ledger.save of a pre-built one-event aggregate (no application layer)", m["saves"],
            unit="saves/s"),
    ]


def run(opts: Options) -> Outcome:
    n = 400 if opts.quick else 2000
    out = Outcome(NAME, TITLE)
    with scratch_dir() as work:
        if opts.postgres_url:
            with fresh_runtime("postgres", opts, work) as rt:
                out.rows += _rows("PostgreSQL", _measure(rt, work, n), aim=True)
        else:
            out.notes.append("PostgreSQL was not measured: no URL was given.")
        with fresh_runtime("sqlite", opts, work) as rt:
            out.rows += _rows("SQLite", _measure(rt, work, n), aim=False)
    out.notes.append(
        f"{n} timed commands per store: {n // 2} drafts of distinct entries, then {n // 2} revisions of "
        f"those drafts, by one caller after {WARMUP} warm-up drafts and revisions; then {n // 4} drafts "
        f"sent with an Idempotency-Key, then {n // 2} saves of draft aggregates built in memory, straight "
        f"to the ledger. Each kind runs in {ROUNDS} rounds and after each round the raw loop inserts as "
        "many rows of the stored events' mean state size, one transaction each, on a connection it holds, "
        "on the same server (SQLite: a separate WAL-mode file in the same directory); the baseline is the "
        "raw loop's rate over all its rounds."
    )
    return out
