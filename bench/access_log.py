"""Access-log ingestion against a raw COPY, and the 3-year window query over many records (PostgreSQL).

Ingestion: `AccessLogService.record` takes batches of 1,000 records from the platform (each judged
against real grants at its time of access, stored as one event with its request ids), and the
access-log view is caught up after each batch; the baseline is a raw psycopg `COPY` of the same
rows into a plain table, in the same run. The RSS of this process is sampled after every batch.

Window: rows are put straight into the read model's table by one `INSERT … SELECT generate_series`
(it measures the query, not ingestion), then `records(provider=…, from=month start, to=month end)`
is asked for random providers and months; the baseline is the same SELECT on a held connection.

Sizes: CIVIC_LEDGER_BENCH_ACCESS_LOG_INGEST and CIVIC_LEDGER_BENCH_ACCESS_LOG_WINDOW override the
defaults (1,000,000 and 10,000,000; --quick: 20,000 and 200,000).
"""

from __future__ import annotations

import os
import random
import time
import tracemalloc
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from uuid import NAMESPACE_URL, UUID, uuid5

import psycopg

from application.common import Principal
from bench.common import (
    ADMIN,
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
from domain.access_log import Access, window_start
from domain.base import Actor, Cause, Context
from domain.catalog_values import DeliveryMethod, ReviewDecision
from domain.grants import Grant
from domain.organizations import OFFICE_CODE, Role
from domain.sharing_values import GrantKind, GrantSpec, grant_id
from projections.access_log import COLUMNS, row_of
from projections.access_log_queries import AccessLogFilter
from projections.scope import EVERYTHING

NAME = "access_log"
TITLE = "Access log (LOG-1, LOG-2)"
BATCH = 1_000
ENTRIES, HOLDERS = 10, 20
PURPOSE = "高龄津贴资格核对"
RATE_AIM, RATIO_AIM, P99_AIM_MS = 20_000.0, 0.5, 50.0  # issue 14: judged, stored and projected
PLATFORM = Principal(person="交换平台", organization=OFFICE_CODE, roles=frozenset({"platform"}))


def rss_mib(field: str = "VmRSS") -> float:
    """This process's resident set (VmRSS), or its peak since the last reset (VmHWM), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def reset_peak_rss() -> bool:
    """Starts VmHWM again from the current RSS (Linux: 5 into clear_refs); False where that is refused."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _size(name: str, full: int, quick: int, opts: Options) -> int:
    raw = os.environ.get(f"CIVIC_LEDGER_BENCH_ACCESS_LOG_{name}")
    return int(raw) if raw else (quick if opts.quick else full)


# -- ingestion ----------------------------------------------------------------------------------


def populate(rt: Runtime) -> list[UUID]:
    """A provider with published entries and a reusable grant per holder and entry (plus single-use ones)."""
    compiler, reviewer = division(rt)
    entries = []
    for e in range(ENTRIES):
        eid = rt.catalog.draft(compiler, command("d"), resource_code=f"SX-LOG-{e}", content=entry_content(e)).aggregate_id
        rt.catalog.submit(compiler, command("s"), eid)
        rt.catalog.review(reviewer, command("r"), eid, review=_pass(), decision=ReviewDecision.APPROVE)
        rt.catalog.publish(ADMIN, command("p"), eid)
        entries.append(eid)
    office = Actor(ADMIN.person, OFFICE_CODE, Role.OFFICE_ADMIN)
    ctx = Context(actor=office, at=rt.clock.now() - timedelta(days=400), cause=Cause("share_request.issue_order"))
    grants = []
    for e, eid in enumerate(entries):
        fields = tuple(f"R{e}_{k:02d}" for k in range(6))
        for h in range(HOLDERS):
            for kind in (GrantKind.REUSABLE, GrantKind.SINGLE_USE):
                order = uuid5(NAMESPACE_URL, f"bench:access-log:{e}:{h}:{kind}")
                spec = GrantSpec(grant_id=grant_id(order, eid), order_id=order, request_id=order, holder=f"div-h{h:02d}",
                                 provider="div-relief", entry_id=eid, resource_code=f"SX-LOG-{e}", fields=fields,
                                 approved_fields=fields, purpose=PURPOSE if kind == GrantKind.REUSABLE else "复核",
                                 method=DeliveryMethod.INTERFACE, valid_from=ctx.at, valid_to=ctx.at + timedelta(3000),
                                 kind=kind)
                grants.append(Grant.create(ctx, spec=spec, id=spec.grant_id))
    rt.ledger.save(*grants)
    rt.projector.catch_up_all()
    return entries


def _pass():  # type: ignore[no-untyped-def]
    from bench.common import PASS

    return PASS


def batches(entries: list[UUID], total: int, now: datetime, seed: int = 7) -> Iterator[list[Access]]:
    """Records as the platform ships them: in time order (a batch spans minutes), over the last 30 days;
    most allowed, some outside the grant's fields, purpose or holders."""
    rng, step = random.Random(seed), 30 * 86400 / total
    for start in range(0, total, BATCH):
        out = []
        for i in range(start, min(total, start + BATCH)):
            e, h, roll = rng.randrange(ENTRIES), rng.randrange(HOLDERS + 2), rng.randrange(100)
            fields = tuple(f"R{e}_{k:02d}" for k in rng.sample(range(8 if roll < 10 else 6), 2))
            out.append(Access(
                request_id=f"bench-{i:09d}", holder=f"div-h{h:02d}", provider="div-relief", entry_id=entries[e],
                fields=fields, purpose=PURPOSE if roll < 95 else "复核", method="interface",
                record_count=rng.randrange(1, 500),
                accessed_at=now - timedelta(seconds=(total - i) * step + rng.random() * 60),
            ))
        yield out


def ingest(rt: Runtime, total: int, out: Outcome) -> None:
    entries = populate(rt)
    now = rt.clock.now()
    traced = os.environ.get("CIVIC_LEDGER_BENCH_TRACEMALLOC") == "1"  # a separate run: it slows Python down
    if traced:
        tracemalloc.start()
    samples, heap, rss0, peak_reset = [], [], rss_mib(), reset_peak_rss()
    record_s = project_s = 0.0
    for batch in batches(entries, total, now):
        t0 = time.perf_counter()
        rt.access_log.record(PLATFORM, command("access_log.record"), batch)
        t1 = time.perf_counter()
        rt.projector.catch_up("access_log")
        record_s, project_s = record_s + t1 - t0, project_s + time.perf_counter() - t1
        samples.append(rss_mib())
        if traced:
            heap.append(tracemalloc.get_traced_memory())
    rss_loop, rss_peak = rss_mib(), rss_mib("VmHWM")
    if traced:
        tracemalloc.stop()
    t_others = time.perf_counter()
    rt.projector.catch_up_all()  # the other views page through the batch events too
    others_s, rss_others = time.perf_counter() - t_others, rss_mib()
    stored = int(rt.ledger.db.scalar("SELECT COUNT(*) FROM access_log"))
    assert stored == total, f"{stored} rows in the access-log view, {total} sent"
    copy_rate, copy_s = raw_copy(rt, entries, total, now)
    rate, both = total / record_s, total / (record_s + project_s)
    out.rows.append(Row(f"ingestion records/s, {total:,} in batches of {BATCH:,} (judged and stored)", rate, "rec/s",
                        "raw COPY", copy_rate, "rec/s", rate / copy_rate))
    out.rows.append(Row("… and projected into the access-log view, same process", both, "rec/s",
                        "raw COPY", copy_rate, "rec/s", both / copy_rate,
                        f">= {RATIO_AIM} and >= {RATE_AIM:,.0f} rec/s", both / copy_rate >= RATIO_AIM and both >= RATE_AIM))
    out.notes.append(
        f"Ingestion: {total:,} records in {record_s + project_s:.1f} s — {record_s:.1f} s judging and storing "
        f"({total / record_s:,.0f} rec/s), {project_s:.1f} s projecting ({total / project_s:,.0f} rec/s); "
        f"raw COPY of the same rows {copy_s:.1f} s. 20 holders × 10 entries, a reusable and a single-use grant per pair.")
    tenth = max(1, len(samples) // 10)
    first, last = max(samples[:tenth]), max(samples[-tenth:])
    out.rows.append(Row("… RSS growth while ingesting (largest in the last tenth of the batches minus the first)",
                        last - first, "MiB", "RSS after the first tenth", first, "MiB", (last - first) / first,
                        "flat: growth <= 5% of it", last - first <= 0.05 * first))
    if traced:
        out.notes.append(
            "Traced Python heap (tracemalloc, this run only: it slows the run): "
            f"peak {max(p for _, p in heap) / 2**20:.1f} MiB; current after every tenth: "
            f"{', '.join(f'{c / 2**20:.1f}' for c, _ in heap[tenth - 1::tenth])} MiB.")
    out.notes.append(
        f"RSS of the ingesting process: {rss0:.0f} MiB before, {rss_loop:.0f} MiB after, "
        f"peak {rss_peak:.0f} MiB ({'VmHWM reset before the first batch' if peak_reset else 'VmHWM of the whole process'}), "
        f"max {max(samples):.0f} MiB sampled after a batch; every tenth of the run: "
        f"{', '.join(f'{s:.0f}' for s in samples[tenth - 1::tenth])} MiB. "
        f"Catching the other views up afterwards (they page through the batch events, 500 per page) took "
        f"{others_s:.1f} s and left the RSS at {rss_others:.0f} MiB.")


def raw_copy(rt: Runtime, entries: list[UUID], total: int, now: datetime) -> tuple[float, float]:
    """The baseline: the same rows (as the view stores them) COPYed into a plain table on one connection."""
    cols = ", ".join(f"{c} TEXT" for c in COLUMNS)
    with psycopg.connect(rt.settings.database_url) as conn:
        conn.execute(f"DROP TABLE IF EXISTS bench_access_copy; CREATE TABLE bench_access_copy ({cols})")
        conn.commit()
        t0 = time.perf_counter()
        with conn.cursor() as cur, cur.copy(f"COPY bench_access_copy ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for batch in batches(entries, total, now):
                for a in batch:
                    copy.write_row(row_of(_judged(a), "batch", "recorded", 0))
        conn.commit()
        seconds = time.perf_counter() - t0
        conn.execute("DROP TABLE bench_access_copy")
        conn.commit()
    return total / seconds, seconds


def _judged(a: Access):  # type: ignore[no-untyped-def]
    from domain.access_log import AccessRecord, Outcome

    return AccessRecord(request_id=a.request_id, grant_id=None, holder=a.holder, provider=a.provider,
                        entry_id=a.entry_id, fields=a.fields, purpose=a.purpose, method=a.method,
                        record_count=a.record_count, accessed_at=a.accessed_at, outcome=Outcome.ALLOWED)


# -- the window query ---------------------------------------------------------------------------

PROVIDERS, W_ENTRIES, W_HOLDERS = 50, 500, 200
SPAN_S = 3 * 365 * 86400

_FILL = f"""
INSERT INTO access_log ({', '.join(COLUMNS)})
SELECT 'w-' || i, to_char((%(start)s::timestamptz + make_interval(secs => (i * 2654435761::bigint) %% {SPAN_S}))
                          AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
       'org-' || ((i * 7) %% {W_HOLDERS}), 'prov-' || ((i %% {W_ENTRIES}) %% {PROVIDERS}),
       md5('entry' || (i %% {W_ENTRIES}))::uuid::text, NULL, '["A","B"]', '核对', 'interface', i %% 300,
       CASE WHEN i %% 10 = 0 THEN 'denied' ELSE 'allowed' END, '[]', NULL, 'bench', '', 0
FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS i
"""


def fill_window(rt: Runtime, total: int, now: datetime) -> float:
    """Fills the view's table straight from SQL (indexes dropped, then rebuilt), in chunks of a million."""
    t0 = time.perf_counter()
    start = window_start(now)
    with psycopg.connect(rt.settings.database_url, autocommit=True) as conn:
        for name in ("provider", "holder", "entry", "grant", "time"):
            conn.execute(f"DROP INDEX IF EXISTS access_log_{name}")
        for lo in range(1, total + 1, 1_000_000):
            conn.execute(_FILL, {"start": start, "lo": lo, "hi": min(total, lo + 999_999)})
    with rt.ledger.db.write() as tx:
        rt.projector.views["access_log"].create(tx)  # the indexes again
    with psycopg.connect(rt.settings.database_url, autocommit=True) as conn:
        conn.execute("ANALYZE access_log")
    return time.perf_counter() - t0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def window(rt: Runtime, total: int, n: int, out: Outcome) -> None:
    rt.init(admin=ADMIN.person)
    now = rt.clock.now()
    fill_s = fill_window(rt, total, now)
    since, rng = window_start(now), random.Random(11)
    asks = []
    for _ in range(n):
        month = since + timedelta(days=30 * rng.randrange(36))
        asks.append((f"prov-{rng.randrange(PROVIDERS)}", month, month + timedelta(days=30)))
    sql = ("SELECT * FROM access_log WHERE accessed_at >= %s AND accessed_at < %s AND provider = %s "
           "ORDER BY accessed_at DESC, request_id DESC LIMIT 51")
    from projections.access_log import instant

    view, raw = [], []
    with psycopg.connect(rt.settings.database_url, autocommit=True) as conn:
        for provider, start, end in asks:
            t0 = time.perf_counter()
            rows, _ = rt.access_log_queries.records(scope=EVERYTHING, since=since, f=AccessLogFilter(
                provider=provider, start=start, end=end), limit=50)
            t1 = time.perf_counter()
            conn.execute(sql, (instant(start), instant(end), provider)).fetchall()
            t2 = time.perf_counter()
            assert len(rows) == 50
            view.append((t1 - t0) * 1000)
            raw.append((t2 - t1) * 1000)
    p50, p99, b50, b99 = percentile(view, 50), percentile(view, 99), percentile(raw, 50), percentile(raw, 99)
    out.rows.append(Row(f"window query p50, {total:,} records", p50, "ms", "raw SELECT p50", b50, "ms", p50 / b50))
    out.rows.append(Row(f"window query p99, {total:,} records", p99, "ms", "raw SELECT p99", b99, "ms", p99 / b99,
                        f"p99 <= {P99_AIM_MS:.0f} ms", p99 <= P99_AIM_MS))
    out.notes.append(
        f"Window: {total:,} rows ({PROVIDERS} providers, {W_ENTRIES} entries, {W_HOLDERS} holders, spread over three "
        f"years) written straight into the view's table by INSERT … SELECT generate_series in {fill_s:.0f} s "
        f"(it measures the query, not ingestion); {n:,} questions `records(provider=…, from=month start, to=+30 days, "
        f"limit=50)`, each the first page of about {total // (PROVIDERS * 36):,} matching rows, newest first.")


def run(opts: Options) -> Outcome:
    out = Outcome(NAME, TITLE)
    if not opts.postgres_url:
        out.notes.append("Not measured: the access-log benchmark runs on PostgreSQL only and no URL was given.")
        return out
    n_ingest = _size("INGEST", 1_000_000, 20_000, opts)
    n_window = _size("WINDOW", 10_000_000, 200_000, opts)
    with scratch_dir() as work:
        with fresh_runtime("postgres", opts, work) as rt:
            ingest(rt, n_ingest, out)
        with fresh_runtime("postgres", opts, work) as rt:
            window(rt, n_window, 500 if opts.quick else 2_000, out)
    out.notes.append("Ratio = figure / baseline: for the rate, the share of the raw COPY's rate; for latencies, how many "
                     "times the raw SELECT's latency the query's is.")
    return out
