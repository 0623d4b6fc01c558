"""Runs the benchmarks and rewrites bench/RESULTS.md.

    python -m bench.run [--quick] [--only NAME] [--postgres-url URL] [--output PATH]

PostgreSQL is reached at --postgres-url, else CIVIC_LEDGER_BENCH_POSTGRES_URL, else
CIVIC_LEDGER_TEST_POSTGRES_URL. The benchmarks drop and recreate that database's public schema:
point them at a scratch database only.
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from types import ModuleType

import psycopg

from bench import commands, mapper, rebuild
from bench.common import Options, Outcome, Row, env_url

BENCHMARKS: dict[str, ModuleType] = {m.NAME: m for m in (commands, mapper, rebuild)}
DEFAULT_OUTPUT = Path(__file__).with_name("RESULTS.md")

WHY_COMMANDS = """\
Why the command rate is far below the raw loop on PostgreSQL (found with cProfile on this machine;
the rows above give the split):

- The library's write path alone, `ledger.save` of a pre-built one-event aggregate, reaches only
  the ratio in the row "ledger.save … (no application layer)": each save checks a pooled
  connection out with a pre-ping (`POSTGRES_PRE_PING`, one extra round trip), takes
  `LOCK TABLE … IN EXCLUSIVE MODE` (so that commit order is notification order), sends `NOTIFY`,
  inserts with `RETURNING`, and commits. The raw loop sends one INSERT and one COMMIT on a
  connection it holds. That caps the ratio far below 0.5 before any application code runs.
- On top of the save, a command makes one or two more reads, each on its own pooled connection
  with its own pre-ping: `draft` loads the provider organization (a cache hit still fast-forwards
  with a SELECT) and checks that the resource code is free (`select_events`); `revise_draft` loads
  the entry. The aggregate cache deep-copies each aggregate it hands out. An Idempotency-Key adds
  a lookup of the key before the command and a row written with the events.
- When the server runs with fsync off (see Machine), a one-row commit costs almost nothing, so the
  fixed round trips of a command weigh all the more in the ratio.
"""

WHY_REBUILD = """\
Why the rebuild is much slower than reading and decoding the log: the catalog view sends its SQL one
statement at a time, about three round trips per event (SELECT of the entry's row, UPDATE, and for
drafts, revisions and publications a DELETE plus an executemany of the data items). Decoding is a
small share of the time. On PostgreSQL each statement is a network round trip; on SQLite the same
statements are in-process calls, hence the smaller gap there.
"""


def machine(postgres_url: str | None) -> list[tuple[str, str]]:
    mem = "unknown"
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    facts = [
        ("Platform", platform.platform()),
        ("CPU", f"{cpu}, {os.cpu_count()} logical CPUs ({platform.machine()})"),
        ("Memory", mem),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("SQLite", sqlite3.sqlite_version),
    ]
    if postgres_url:
        try:
            with psycopg.connect(postgres_url, connect_timeout=5) as conn:
                settings = {name: conn.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
                            for name in ("server_version", "fsync", "synchronous_commit", "shared_buffers")}
            facts.append(("PostgreSQL", f"{settings.pop('server_version')} on the same machine (loopback); "
                          + ", ".join(f"{k}={v}" for k, v in settings.items())))
        except psycopg.Error as e:
            facts.append(("PostgreSQL", f"unreachable: {e}"))
    else:
        facts.append(("PostgreSQL", "not measured (no URL)"))
    return facts


def _fmt(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _verdict(row: Row) -> str:
    if row.met is None:
        return "—"
    return "met" if row.met else "**missed**"


def table(rows: Sequence[Row]) -> list[str]:
    lines = [
        "| measure | figure | baseline (same run) | ratio | aim | verdict |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r.metric} | {_fmt(r.figure)} {r.unit} | {r.baseline_name}: {_fmt(r.baseline)} {r.baseline_unit} "
            f"| {r.ratio:.3f} | {r.aim} | {_verdict(r)} |"
        )
    return lines


def load_average() -> str:
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def render(outcomes: Sequence[Outcome], failures: dict[str, str], facts: list[tuple[str, str]],
           opts: Options, argv: Sequence[str]) -> str:
    mode = "quick" if opts.quick else "full"
    out = [
        "# Benchmark results",
        "",
        f"Run on {date.today().isoformat()} ({mode} run, `python -m bench.run{' ' if argv else ''}{' '.join(argv)}`). "
        "Every figure is measured in the same run and on the same machine as its baseline; the ratio is "
        "what to compare across machines, not the absolute figures. This file is rewritten by each run.",
        "",
        "## Machine",
        "",
        *[f"- **{k}**: {v}" for k, v in facts],
        "",
    ]
    out += [
        "Aims: the issue sets one for the command rate (ratio >= 0.5). For the mapper the aim taken here "
        "is only that msgspec beat the library's own transcoder; the rebuild has no aim yet and is tracked. "
        "The machine is shared and has two cores: each baseline runs interleaved with, or right next to, "
        "its figure so that load from elsewhere weighs on both, but absolute figures still vary from run "
        "to run.",
        "",
    ]
    missed = [(o, r) for o in outcomes for r in o.rows if r.met is False]
    out += ["## Summary", ""]
    if missed:
        out += [f"- **Missed**: {o.title} — {r.metric}: ratio {r.ratio:.3f}, aim {r.aim}." for o, r in missed]
    met = [(o, r) for o in outcomes for r in o.rows if r.met]
    out += [f"- Met: {o.title} — {r.metric}: ratio {r.ratio:.3f}, aim {r.aim}." for o, r in met]
    out += [f"- **Failed to run**: {name}." for name in failures]
    out.append("")
    for o in outcomes:
        out += [f"## {o.title} (`{o.name}`, {o.seconds:.0f} s)", "", *table(o.rows), ""]
        out += [f"- {n}" for n in o.notes]
        if o.name == commands.NAME and any(r.met is False for r in o.rows):
            out += ["", WHY_COMMANDS.rstrip()]
        if o.name == rebuild.NAME and o.rows:
            out += ["", WHY_REBUILD.rstrip()]
        out.append("")
    for name, error in failures.items():
        out += [f"## `{name}` failed", "", "```", error.strip(), "```", ""]
    return "\n".join(out).rstrip() + "\n"


def main(argv: Sequence[str] | None = None, log: Callable[[str], None] = print) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts (10k events for the rebuild)")
    parser.add_argument("--only", choices=sorted(BENCHMARKS), help="run one benchmark")
    parser.add_argument("--postgres-url", default=None, help="a scratch PostgreSQL database (its schema is dropped)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write the results")
    args = parser.parse_args(args_list)
    opts = Options(quick=args.quick, postgres_url=args.postgres_url or env_url())
    if not opts.postgres_url:
        log("no PostgreSQL URL: PostgreSQL figures are skipped")
    chosen = [args.only] if args.only else list(BENCHMARKS)
    load_before = load_average()
    outcomes: list[Outcome] = []
    failures: dict[str, str] = {}
    for name in chosen:
        log(f"running {name} …")
        t0 = time.perf_counter()
        try:
            outcome = BENCHMARKS[name].run(opts)
        except Exception:
            failures[name] = traceback.format_exc()
            log(failures[name])
            continue
        outcome.seconds = time.perf_counter() - t0
        outcomes.append(outcome)
        for line in table(outcome.rows):
            log(line)
    facts = machine(opts.postgres_url)
    facts.append(("Load average (1, 5, 15 min)", f"{load_before} before the run, {load_average()} after it"))
    args.output.write_text(render(outcomes, failures, facts, opts, args_list), encoding="utf-8")
    log(f"wrote {args.output}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
