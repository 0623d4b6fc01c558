"""HTTP servers and worker processes: which server, and what a second API worker process buys.

Two questions, each against its baseline in the same run:

1. uvicorn or Granian for `serve --workers N`? The bare Litestar app (one GET route answering a
   fixed grant-status-shaped body) runs under each server at 1 and 2 worker processes.
2. What does a second API worker give the real grant-status route? `civic-ledger serve --workers N`
   (PostgreSQL, 10,000 active grants; Granian) at 1 and 2 workers, set against the bare app's own gain
   from 1 to 2 workers under the same server (on a machine whose cores the load generator shares, the
   bare app's gain is the ceiling).

The load generator is `bench.loadgen`: keep-alive connections, a fixed request count, alternating
rounds so that load from elsewhere weighs on every configuration alike.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import msgspec
from litestar import Litestar, Response, get

from bench.common import Options, Outcome, Row, fresh_runtime, scratch_dir
from bench.loadgen import Server, load

NAME = "servers"
TITLE = "HTTP servers and API worker processes"
CONCURRENCY = 16
GAIN_AIM = 0.8
RATIO_AIM = 0.7
BODY = msgspec.json.encode({"allowed": True, "holder": "div-h001", "entry_id": "0" * 36, "fields": ["R1_00"],
                            "purpose": "高龄津贴资格核对", "method": "interface", "grant_id": "0" * 36,
                            "reasons": [], "at": "2026-12-01T00:00:00+00:00"})


def bare_app() -> Litestar:
    """The baseline: Litestar answering a fixed body, no authentication, no database, no thread hop."""

    @get("/grant-status", sync_to_thread=False)
    def status(holder: str, entry_id: str, fields: str, purpose: str, method: str) -> Response[bytes]:
        return Response(BODY, media_type="application/json")

    return Litestar([status])


app = bare_app()


def serve(server: str, workers: int, port: int) -> None:  # argv: serve SERVER WORKERS PORT
    if server == "uvicorn":
        import uvicorn

        uvicorn.run("bench.servers:app", host="127.0.0.1", port=port, workers=workers, log_level="warning",
                    access_log=False)
    else:
        from granian import Granian
        from granian.constants import Interfaces

        Granian("bench.servers:app", address="127.0.0.1", port=port, interface=Interfaces.ASGI,
                workers=workers, log_enabled=False).serve()


ENTRIES = 100


def _request(port: int, token: str | None, i: int) -> bytes:
    """A question about one of the populated grants (bench.grant_status's holders and entries)."""
    from bench.grant_status import entry, holder, item

    e = (i * 7) % ENTRIES
    query = urlencode({"holder": holder(i % 50), "entry_id": str(entry(e)), "fields": f"{item(e, 0)},{item(e, 1)}",
                       "purpose": "高龄津贴资格核对", "method": "interface"})
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return f"GET /grant-status?{query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}\r\n".encode()


def _measure(servers: dict[str, Server], token: dict[str, str | None], n: int, rounds: int = 5) -> dict[str, Any]:
    reqs = {k: [_request(s.port, token[k], i) for i in range(n)] for k, s in servers.items()}
    for k, s in servers.items():  # warm-up
        load(s.port, reqs[k][: n // 10], CONCURRENCY)
    secs = dict.fromkeys(servers, 0.0)
    lat: dict[str, list[float]] = {k: [] for k in servers}
    step = n // rounds
    for i in range(0, n, step):
        for k, s in servers.items():
            seconds, each, _ = load(s.port, reqs[k][i:i + step], CONCURRENCY)
            secs[k] += seconds
            lat[k] += each
    return {k: (n / secs[k], sorted(lat[k])) for k in servers}


def _pct(values: list[float], p: int) -> float:
    return values[min(len(values) - 1, int(len(values) * p / 100))] / 1000


def server_choice(work: Path, n: int, out: Outcome) -> None:
    names = ["uvicorn"] + (["granian"] if importlib.util.find_spec("granian") else [])
    servers = {f"{s}×{w}": Server("bench.servers", ("serve", s, str(w)), work, f"{s}{w}")
               for s in names for w in (1, 2)}
    try:
        got = _measure(servers, dict.fromkeys(servers), n)
    finally:
        for s in servers.values():
            s.stop()
    base_rate, base_lat = got["uvicorn×1"]
    for k, (rate, lat) in got.items():
        out.rows.append(Row(metric=f"bare app under {k} worker(s)", figure=rate, unit="requests/s",
                            baseline_name="bare app under uvicorn×1", baseline=base_rate, baseline_unit="requests/s",
                            ratio=rate / base_rate, aim="information"))
        out.rows.append(Row(metric=f"bare app under {k}: p50 / p99", figure=_pct(lat, 50), unit="ms",
                            baseline_name="its p99", baseline=_pct(lat, 99), baseline_unit="ms",
                            ratio=_pct(lat, 50) / _pct(lat, 99), aim="information"))
    if "granian" not in names:
        out.notes.append("Granian is not installed: only uvicorn was measured.")


def worker_gain(opts: Options, work: Path, n: int, out: Outcome) -> None:
    from bench.grant_status import populate
    from domain.organizations import OFFICE_CODE, Role

    if not opts.postgres_url:
        out.notes.append("The real app at 1 and 2 workers needs PostgreSQL: not measured (no URL).")
        return
    with fresh_runtime("postgres", opts, work) as rt:
        entries, _ = populate(rt, 10_000)
        assert entries == ENTRIES, entries
        token = rt.issue_token(org=OFFICE_CODE, person="platform", roles=(str(Role.PLATFORM),))
        url = rt.settings.database_url
    saved = os.environ.get("CIVIC_LEDGER_DATABASE_URL")
    os.environ["CIVIC_LEDGER_DATABASE_URL"] = url
    try:
        servers = {"real×1": Server("api.cli", ("serve", "--workers", "1", "--port"), work, "real1"),
                   "real×2": Server("api.cli", ("serve", "--workers", "2", "--port"), work, "real2"),
                   "bare×1": Server("bench.servers", ("serve", "granian", "1"), work, "bare1"),
                   "bare×2": Server("bench.servers", ("serve", "granian", "2"), work, "bare2")}
    finally:
        if saved is None:
            os.environ.pop("CIVIC_LEDGER_DATABASE_URL")
        else:
            os.environ["CIVIC_LEDGER_DATABASE_URL"] = saved
    try:
        got = _measure(servers, {k: token if k.startswith("real") else None for k in servers}, n)
    finally:
        for s in servers.values():
            s.stop()
    (r1, l1), (r2, l2), (b1, _), (b2, _) = (got[k] for k in ("real×1", "real×2", "bare×1", "bare×2"))
    out.rows.append(Row(metric="PostgreSQL: GET /grant-status, 1 API worker", figure=r1, unit="requests/s",
                        baseline_name="bare app, granian×1", baseline=b1, baseline_unit="requests/s", ratio=r1 / b1,
                        aim=f">= {RATIO_AIM}", met=r1 / b1 >= RATIO_AIM))
    out.rows.append(Row(metric="PostgreSQL: GET /grant-status, 2 API workers", figure=r2, unit="requests/s",
                        baseline_name="bare app, granian×2", baseline=b2, baseline_unit="requests/s", ratio=r2 / b2,
                        aim="information"))
    gain, bare_gain = r2 / r1, b2 / b1
    out.rows.append(Row(metric="gain from 1 to 2 API workers, real route", figure=gain, unit="×",
                        baseline_name="the bare app's gain, same run", baseline=bare_gain, baseline_unit="×",
                        ratio=gain / bare_gain, aim=f">= {GAIN_AIM}", met=gain / bare_gain >= GAIN_AIM))
    (_, bl1), (_, bl2) = got["bare×1"], got["bare×2"]
    for k, lat, bare in (("1 worker", l1, bl1), ("2 workers", l2, bl2)):
        for p in (50, 99):
            out.rows.append(Row(metric=f"PostgreSQL: GET /grant-status p{p}, {k}", figure=_pct(lat, p), unit="ms",
                                baseline_name=f"bare app p{p}, same workers", baseline=_pct(bare, p),
                                baseline_unit="ms", ratio=_pct(lat, p) / _pct(bare, p), aim="information"))


def run(opts: Options) -> Outcome:
    n = 4_000 if opts.quick else 20_000
    out = Outcome(NAME, TITLE)
    with scratch_dir() as work:
        server_choice(work, n, out)
        worker_gain(opts, work, n, out)
    out.notes.append(
        f"Concurrency {CONCURRENCY} keep-alive connections from one load-generator process on the same machine; "
        f"{n:,} requests per configuration in 5 alternating rounds after a warm-up. The real app runs as "
        "`civic-ledger serve --workers 1|2` (Granian) on PostgreSQL with 10,000 active grants (one of its processes is also "
        "the elected background worker, idle here).")
    return out


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
