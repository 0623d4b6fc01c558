"""`GET /metrics`: the service's figures in the Prometheus text format, for the Office's operators.

Requests are counted by method, route template (never the raw path, so ids do not multiply the
series) and status, with a latency histogram per route; the ledger's head, each read model's
position, lag and whether it is stalled (with its failed attempts), and webhook subscriptions by
status are read at scrape time.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections import defaultdict
from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency, Provide
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import provide_principal, runtime_of
from application.common import Forbidden, Principal

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class RequestMetrics:
    """Counters kept in process; one lock, taken once per finished request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[tuple[str, str, int], int] = defaultdict(int)
        self.buckets: dict[str, list[int]] = defaultdict(lambda: [0] * (len(BUCKETS) + 1))
        self.sums: dict[str, float] = defaultdict(float)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.counts[(method, route, status)] += 1
            self.buckets[route][bisect_left(BUCKETS, seconds)] += 1
            self.sums[route] += seconds

    def lines(self) -> list[str]:
        with self._lock:
            counts, buckets, sums = dict(self.counts), {k: list(v) for k, v in self.buckets.items()}, dict(self.sums)
        out = ["# HELP civic_ledger_http_requests_total HTTP requests answered, by method, route and status.",
               "# TYPE civic_ledger_http_requests_total counter"]
        out += [f'civic_ledger_http_requests_total{{method="{m}",route="{_esc(r)}",status="{s}"}} {n}'
                for (m, r, s), n in sorted(counts.items())]
        out += ["# HELP civic_ledger_http_request_duration_seconds Time to the end of the response, by route.",
                "# TYPE civic_ledger_http_request_duration_seconds histogram"]
        for route, counted in sorted(buckets.items()):
            running = 0
            for bound, n in zip((*BUCKETS, "+Inf"), counted, strict=True):
                running += n
                out.append(f'civic_ledger_http_request_duration_seconds_bucket{{route="{_esc(route)}",le="{bound}"}} '
                           f"{running}")
            out.append(f'civic_ledger_http_request_duration_seconds_sum{{route="{_esc(route)}"}} {sums[route]:.6f}')
            out.append(f'civic_ledger_http_request_duration_seconds_count{{route="{_esc(route)}"}} {running}')
        return out


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def metrics_middleware(app: ASGIApp) -> ASGIApp:
    """Times each HTTP request to its last body chunk and counts it under its route template."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        start, status = time.perf_counter(), 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await app(scope, receive, sending)
        finally:
            route = scope.get("path_template") or "unmatched"
            scope["app"].state.metrics.observe(scope["method"], route, status, time.perf_counter() - start)

    return middleware


@get("/metrics", sync_to_thread=True, tags=["operations"], media_type="text/plain; version=0.0.4",
     dependencies={"principal": Provide(provide_principal, sync_to_thread=False)})
def metrics(request: Request[Any, Any, Any], principal: NamedDependency[Principal]) -> Response[str]:
    """Figures for operators: the Office and auditors only (the route names say what others do)."""
    if not principal.sees_everything:
        raise Forbidden("The service's metrics are for the Office and auditors.")
    rt = runtime_of(request)
    head = rt.ledger.max_position()
    out = ["# HELP civic_ledger_ledger_position The last position in the ledger.",
           "# TYPE civic_ledger_ledger_position gauge", f"civic_ledger_ledger_position {head}",
           "# HELP civic_ledger_projection_lag_events Events not yet applied, per read model.",
           "# TYPE civic_ledger_projection_lag_events gauge"]
    positions = {name: rt.projector.position(name) for name in rt.projector.views}
    out += [f'civic_ledger_projection_lag_events{{view="{v}"}} {head - p}' for v, p in sorted(positions.items())]
    stalled = {f.view: f for f in rt.projector.failures()}
    out += ["# HELP civic_ledger_projection_stalled 1 while a read model is stopped at an event it cannot apply.",
            "# TYPE civic_ledger_projection_stalled gauge"]
    out += [f'civic_ledger_projection_stalled{{view="{v}"}} {int(v in stalled)}' for v in sorted(positions)]
    out += ["# HELP civic_ledger_projection_failed_attempts Failed attempts at the event a read model is stopped at.",
            "# TYPE civic_ledger_projection_failed_attempts gauge"]
    out += [f'civic_ledger_projection_failed_attempts{{view="{v}"}} {stalled[v].attempts if v in stalled else 0}'
            for v in sorted(positions)]
    out += ["# HELP civic_ledger_webhook_subscriptions Webhook subscriptions by status.",
            "# TYPE civic_ledger_webhook_subscriptions gauge"]
    out += [f'civic_ledger_webhook_subscriptions{{status="{r["status"]}"}} {r["n"]}' for r in rt.ledger.db.query(
        "SELECT status, COUNT(*) AS n FROM webhook_subscriptions GROUP BY status ORDER BY status")]
    out += process_lines(rt)
    out += request.app.state.metrics.lines()
    return Response("\n".join(out) + "\n", media_type="text/plain; version=0.0.4")


def process_lines(rt: Any) -> list[str]:
    """The election and this process's own counters (each API worker process answers for itself: the
    `pid` label tells them apart)."""
    election, proc = rt.election_state(), rt.process()
    label = f'pid="{proc["pid"]}",host="{_esc(proc["host"])}",role="{_esc(proc["role"])}"'
    active = election["active_worker"]
    listener = rt.listener
    out = ["# HELP civic_ledger_background_worker_active 1 when some process holds the background worker's election.",
           "# TYPE civic_ledger_background_worker_active gauge",
           f"civic_ledger_background_worker_active {int(active is not None)}",
           "# HELP civic_ledger_election_candidates Processes taking part in the election (active and standby).",
           "# TYPE civic_ledger_election_candidates gauge",
           f"civic_ledger_election_candidates {election['candidates']}",
           "# HELP civic_ledger_process_elected 1 when the answering process runs the background duties.",
           "# TYPE civic_ledger_process_elected gauge",
           f"civic_ledger_process_elected{{{label}}} {int(election['this_process_active'])}",
           "# HELP civic_ledger_process_terms_total Terms this process won in the election.",
           "# TYPE civic_ledger_process_terms_total counter",
           f"civic_ledger_process_terms_total{{{label}}} {election['terms']}",
           "# HELP civic_ledger_process_pages_projected_total Pages of read models this process committed.",
           "# TYPE civic_ledger_process_pages_projected_total counter",
           f"civic_ledger_process_pages_projected_total{{{label}}} {rt.projector.pages}",
           "# HELP civic_ledger_process_position_waits_total Reads that waited for another process's projection.",
           "# TYPE civic_ledger_process_position_waits_total counter",
           f"civic_ledger_process_position_waits_total{{{label}}} {rt.projector.board.waits}",
           "# HELP civic_ledger_process_position_wait_timeouts_total Such waits that ended in a 503.",
           "# TYPE civic_ledger_process_position_wait_timeouts_total counter",
           f"civic_ledger_process_position_wait_timeouts_total{{{label}}} {rt.projector.board.timeouts}",
           "# HELP civic_ledger_process_notifications_total Notifications this process's listener received.",
           "# TYPE civic_ledger_process_notifications_total counter",
           f"civic_ledger_process_notifications_total{{{label}}} {0 if listener is None else listener.received}",
           "# HELP civic_ledger_process_cached_callers Callers held in this process's cache.",
           "# TYPE civic_ledger_process_cached_callers gauge",
           f"civic_ledger_process_cached_callers{{{label}}} {len(rt.callers)}",
           "# HELP civic_ledger_process_grant_cache_hits_total Grant-status questions answered from this process's cache.",
           "# TYPE civic_ledger_process_grant_cache_hits_total counter",
           f"civic_ledger_process_grant_cache_hits_total{{{label}}} {rt.grant_cache.hits}",
           "# HELP civic_ledger_process_grant_cache_misses_total Grant-status questions that read the grants view.",
           "# TYPE civic_ledger_process_grant_cache_misses_total counter",
           f"civic_ledger_process_grant_cache_misses_total{{{label}}} {rt.grant_cache.misses}",
           "# HELP civic_ledger_process_grant_cache_refreshes_total Times the cache dropped what changed since its position.",
           "# TYPE civic_ledger_process_grant_cache_refreshes_total counter",
           f"civic_ledger_process_grant_cache_refreshes_total{{{label}}} {rt.grant_cache.refreshes}"]
    return out
