"""The access-log view partitioned by month, against the one table of today, at a size the disk allows.

    python -m bench.partitions [--rows N] [--postgres-url URL]

Not part of `bench.run`: it backs the on-paper analysis in docs/access-log-at-scale.md. Two tables get the same N rows spread over 36 months (the shape of the window
benchmark in bench/access_log.py): `al_flat`, as the view is today (primary key request_id, five
indexes), and `al_part`, the same columns range-partitioned by month on `accessed_at` (fixed-width
UTC text, so text order is time order) with the same indexes on every partition. Measured on each:
the LOG-2 page of one provider for one month and for the whole 3-year window (newest first, 50
rows; on the partitioned table also asked month by month, newest first, until the page is full),
and the archive of the oldest month: exporting its rows (COPY out, the bytes the archive
file holds) and removing them (DELETE on the flat table; DETACH and DROP of the partition).
The database's public schema is NOT dropped: the two tables are created and dropped by name.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta

import psycopg

from bench.access_log import percentile
from bench.common import env_url
from projections.access_log import COLUMNS, instant

MONTHS, PROVIDERS, ENTRIES, HOLDERS = 36, 50, 500, 200
START = datetime(2024, 1, 1, tzinfo=UTC)

_COLS = ("request_id TEXT NOT NULL, accessed_at TEXT NOT NULL, holder TEXT NOT NULL, provider TEXT NOT NULL, "
         "entry_id TEXT NOT NULL, grant_id TEXT, fields TEXT NOT NULL, purpose TEXT NOT NULL, method TEXT NOT NULL, "
         "record_count BIGINT NOT NULL, outcome TEXT NOT NULL, reasons TEXT NOT NULL, consumed_grant TEXT, "
         "batch_id TEXT NOT NULL, recorded_at TEXT NOT NULL, position BIGINT NOT NULL")
_INDEXES = (("provider", "provider, accessed_at, request_id"), ("holder", "holder, accessed_at, request_id"),
            ("entry", "entry_id, accessed_at, request_id"), ("grant", "grant_id, accessed_at"),
            ("time", "accessed_at, request_id"))


def month(i: int) -> datetime:
    y, m = divmod(START.month - 1 + i, 12)
    return START.replace(year=START.year + y, month=m + 1)


def _fill_sql(table: str, span_s: int) -> str:
    return f"""
INSERT INTO {table} ({', '.join(COLUMNS)})
SELECT 'w-' || i, to_char((%(start)s::timestamptz + make_interval(secs => (i * 2654435761::bigint) %% {span_s}))
                          AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
       'org-' || ((i * 7) %% {HOLDERS}), 'prov-' || ((i %% {ENTRIES}) %% {PROVIDERS}),
       md5('entry' || (i %% {ENTRIES}))::uuid::text, NULL, '["A","B"]', '核对', 'interface', i %% 300,
       CASE WHEN i %% 10 = 0 THEN 'denied' ELSE 'allowed' END, '[]', NULL, 'bench', '', 0
FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS i
"""


def create(conn: psycopg.Connection) -> None:
    conn.execute("DROP TABLE IF EXISTS al_flat; DROP TABLE IF EXISTS al_part")
    conn.execute(f"CREATE TABLE al_flat ({_COLS}, PRIMARY KEY (request_id))")
    # a partitioned table's unique key must hold the partition key: request ids stay unique through the
    # ledger's own unique keys, the view's key becomes (accessed_at, request_id)
    conn.execute(f"CREATE TABLE al_part ({_COLS}, PRIMARY KEY (accessed_at, request_id)) "
                 "PARTITION BY RANGE (accessed_at)")
    for i in range(MONTHS):
        conn.execute(f"CREATE TABLE al_part_{i:02d} PARTITION OF al_part FOR VALUES FROM "
                     f"('{instant(month(i))}') TO ('{instant(month(i + 1))}')")


def index(conn: psycopg.Connection) -> None:
    for table in ("al_flat", "al_part"):
        for name, cols in _INDEXES:
            conn.execute(f"CREATE INDEX {table}_{name} ON {table} ({cols})")
        conn.execute(f"ANALYZE {table}")


def fill(conn: psycopg.Connection, rows: int) -> float:
    t0 = time.perf_counter()
    span = int((month(MONTHS) - START).total_seconds())
    for table in ("al_flat", "al_part"):
        sql = _fill_sql(table, span)
        for lo in range(1, rows + 1, 1_000_000):
            conn.execute(sql, {"start": START, "lo": lo, "hi": min(rows, lo + 999_999)})  # type: ignore[arg-type]
    return time.perf_counter() - t0


def pages(conn: psycopg.Connection, table: str, asks: list[tuple[str, datetime, datetime]]) -> tuple[float, float]:
    sql = (f"SELECT * FROM {table} WHERE accessed_at >= %s AND accessed_at < %s AND provider = %s "
           "ORDER BY accessed_at DESC, request_id DESC LIMIT 51")
    times = []
    for provider, start, end in asks:
        t0 = time.perf_counter()
        got = conn.execute(sql, (instant(start), instant(end), provider)).fetchall()
        times.append((time.perf_counter() - t0) * 1000)
        assert len(got) == 51
    return percentile(times, 50), percentile(times, 99)


def walk(conn: psycopg.Connection, asks: list[tuple[str, datetime, datetime]]) -> tuple[float, float]:
    """The whole-window page on partitions, asked newest month first, stopping at the 51st row."""
    times = []
    for provider, start, end in asks:
        t0 = time.perf_counter()
        got: list[tuple[object, ...]] = []
        for i in reversed(range(MONTHS)):
            if month(i + 1) <= start or month(i) >= end:
                continue
            got += conn.execute(
                f"SELECT * FROM al_part_{i:02d} WHERE accessed_at >= %s AND accessed_at < %s AND provider = %s "
                "ORDER BY accessed_at DESC, request_id DESC LIMIT %s",
                (instant(start), instant(end), provider, 51 - len(got))).fetchall()
            if len(got) >= 51:
                break
        times.append((time.perf_counter() - t0) * 1000)
        assert len(got) == 51
    return percentile(times, 50), percentile(times, 99)


def archive_flat(conn: psycopg.Connection, cutoff: str) -> tuple[int, float, float]:
    t0 = time.perf_counter()
    size = 0
    with conn.cursor().copy(f"COPY (SELECT * FROM al_flat WHERE accessed_at < '{cutoff}' "
                            "ORDER BY accessed_at, request_id) TO STDOUT") as copy:
        for block in copy:
            size += len(block)
    t1 = time.perf_counter()
    with conn.transaction():
        conn.execute("DELETE FROM al_flat WHERE accessed_at < %s", (cutoff,))
    return size, t1 - t0, time.perf_counter() - t1


def archive_part(conn: psycopg.Connection) -> tuple[int, float, float]:
    t0 = time.perf_counter()
    size = 0
    with conn.cursor().copy("COPY (SELECT * FROM al_part_00 ORDER BY accessed_at, request_id) TO STDOUT") as copy:
        for block in copy:
            size += len(block)
    t1 = time.perf_counter()
    with conn.transaction():
        conn.execute("ALTER TABLE al_part DETACH PARTITION al_part_00")
        conn.execute("DROP TABLE al_part_00")
    return size, t1 - t0, time.perf_counter() - t1


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=3_000_000)
    p.add_argument("--postgres-url", default=None)
    args = p.parse_args()
    url = args.postgres_url or env_url()
    assert url, "give --postgres-url or CIVIC_LEDGER_BENCH_POSTGRES_URL"
    rng = random.Random(11)
    monthly = [(f"prov-{rng.randrange(PROVIDERS)}", m, m + timedelta(days=30))
               for m in (month(rng.randrange(1, MONTHS)) for _ in range(500))]
    whole = [(f"prov-{rng.randrange(PROVIDERS)}", START, month(MONTHS)) for _ in range(200)]
    t_start = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        create(conn)
        fill_s = fill(conn, args.rows)
        t0 = time.perf_counter()
        index(conn)
        index_s = time.perf_counter() - t0
        sizes = {t: conn.execute(f"SELECT pg_total_relation_size('{t}')").fetchone()[0] for t in ("al_flat",)}  # type: ignore[index]
        part_size = conn.execute("SELECT SUM(pg_total_relation_size(inhrelid)) FROM pg_inherits "
                                 "WHERE inhparent = 'al_part'::regclass").fetchone()[0]  # type: ignore[index]
        print(f"rows {args.rows:,} per table over {MONTHS} months; filled both in {fill_s:.0f} s, indexed in "
              f"{index_s:.0f} s; flat {sizes['al_flat'] / 2**20:,.0f} MiB, partitioned {part_size / 2**20:,.0f} MiB "
              f"({part_size / args.rows:,.0f} bytes per row with its indexes)")
        for label, asks in (("one month", monthly), ("3-year window", whole)):
            for table in ("al_flat", "al_part"):
                pages(conn, table, asks[:20])  # warm
                p50, p99 = pages(conn, table, asks)
                print(f"{label} page of 50, {table}: p50 {p50:.2f} ms, p99 {p99:.2f} ms ({len(asks)} questions)")
        walk(conn, whole[:20])
        p50, p99 = walk(conn, whole)
        print(f"3-year window page of 50, al_part walked newest month first: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
        cutoff = instant(month(1))
        n = conn.execute("SELECT COUNT(*) FROM al_part_00").fetchone()[0]  # type: ignore[index]
        for table, run in (("al_flat", lambda: archive_flat(conn, cutoff)), ("al_part", lambda: archive_part(conn))):
            size, export_s, remove_s = run()
            print(f"archive of the oldest month ({n:,} rows, {size / 2**20:,.0f} MiB exported), {table}: export "
                  f"{export_s:.2f} s, remove {remove_s:.2f} s")
        conn.execute("DROP TABLE IF EXISTS al_flat; DROP TABLE IF EXISTS al_part")
        print(f"whole run {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
