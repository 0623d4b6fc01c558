"""`GET /metrics`: the service's figures in the Prometheus text format, for the Office's operators.

The exposition is prometheus_client's: requests are counted by method, route template (never the
raw path, so ids do not multiply the series) and status, with a latency histogram per route, in the
app's own registry; the ledger's head, each read model's position, lag and whether it is stalled
(with its failed attempts) or being rebuilt (with its progress), webhook subscriptions by status and this process's counters are read at
scrape time by a collector. The format follows the scraper's `Accept` (prometheus_client's
negotiation: the text format by default, OpenMetrics when asked for).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder

from api.deps import runtime_of
from application.common import Forbidden, Principal

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
disable_created_metrics()  # no `_created` series beside each counter and histogram: nothing here reads them


class RequestMetrics:
    """The app's request counters, in a registry of its own (one per app, so test apps do not share series)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("civic_ledger_http_requests", "HTTP requests answered, by method, route and status.",
                                ("method", "route", "status"), registry=self.registry)
        self.duration = Histogram("civic_ledger_http_request_duration_seconds",
                                  "Time to the end of the response, by route.", ("route",), buckets=BUCKETS,
                                  registry=self.registry)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.duration.labels(route).observe(seconds)


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


class RuntimeCollector:
    """The figures read at scrape time from the runtime (the store, the projector, the election)."""

    def __init__(self, rt: Any) -> None:
        self.rt = rt

    def collect(self) -> Iterator[Metric]:
        rt = self.rt
        head = rt.ledger.max_position()
        yield _gauge("civic_ledger_ledger_position", "The last position in the ledger.", [((), head)])
        positions = {name: rt.projector.position(name) for name in rt.projector.views}
        stalled = {f.view: f for f in rt.projector.failures()}
        views = sorted(positions)
        yield _gauge("civic_ledger_projection_lag_events", "Events not yet applied, per read model.",
                     [((v,), head - positions[v]) for v in views], ("view",))
        yield _gauge("civic_ledger_projection_stalled",
                     "1 while a read model is stopped at an event it cannot apply.",
                     [((v,), int(v in stalled)) for v in views], ("view",))
        yield _gauge("civic_ledger_projection_failed_attempts",
                     "Failed attempts at the event a read model is stopped at.",
                     [((v,), stalled[v].attempts if v in stalled else 0) for v in views], ("view",))
        building = {b["view"]: b for b in rt.projector.rebuilds()}
        yield _gauge("civic_ledger_projection_rebuilding",
                     "1 while a read model is being rebuilt beside its live tables.",
                     [((v,), int(v in building)) for v in views], ("view",))
        yield _gauge("civic_ledger_projection_rebuild_progress",
                     "Position a rebuild has reached over the ledger head (0..1).",
                     [((v,), b["progress"]) for v, b in sorted(building.items())], ("view",))
        yield _gauge("civic_ledger_projection_rebuild_position", "Position a rebuild has reached.",
                     [((v,), b["position"]) for v, b in sorted(building.items())], ("view",))
        yield _gauge("civic_ledger_webhook_subscriptions", "Webhook subscriptions by status.",
                     [((r["status"],), r["n"]) for r in rt.ledger.db.query(
                         "SELECT status, COUNT(*) AS n FROM webhook_subscriptions GROUP BY status ORDER BY status")],
                     ("status",))
        yield from process_families(rt)


class _Scrape:
    """What one scrape exposes: the app's registry, then the runtime's figures."""

    def __init__(self, *sources: Any) -> None:
        self.sources = sources

    def collect(self) -> Iterator[Metric]:
        for source in self.sources:
            yield from source.collect()


@get("/metrics", sync_to_thread=True, tags=["operations"], media_type="text/plain; version=0.0.4")
def metrics(request: Request[Any, Any, Any], principal: NamedDependency[Principal]) -> Response[bytes]:
    """Figures for operators: the Office and auditors only (the route names say what others do)."""
    if not principal.sees_everything:
        raise Forbidden("The service's metrics are for the Office and auditors.")
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    scrape = _Scrape(request.app.state.metrics.registry, RuntimeCollector(runtime_of(request)))
    return Response(encode(scrape), media_type=content_type)  # type: ignore[arg-type]


def _gauge(name: str, doc: str, samples: Iterable[tuple[tuple[str, ...], float]],
           labels: tuple[str, ...] = ()) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=list(labels))
    for values, value in samples:
        family.add_metric(list(values), value)
    return family


def process_families(rt: Any) -> list[Metric]:
    """The election and this process's own counters (each API worker process answers for itself: the
    `pid` label tells them apart)."""
    election, proc = rt.election_state(), rt.process()
    labels = ["pid", "host", "role"]
    mine = [str(proc["pid"]), str(proc["host"]), str(proc["role"])]
    listener = rt.listener
    out: list[Metric] = [
        _gauge("civic_ledger_background_worker_active",
               "1 when some process holds the background worker's election.",
               [((), int(election["active_worker"] is not None))]),
        _gauge("civic_ledger_election_candidates", "Processes taking part in the election (active and standby).",
               [((), election["candidates"])]),
        _gauge("civic_ledger_process_elected", "1 when the answering process runs the background duties.",
               [(tuple(mine), int(election["this_process_active"]))], tuple(labels)),
    ]
    for name, doc, value in (
            ("civic_ledger_process_terms", "Terms this process won in the election.", election["terms"]),
            ("civic_ledger_process_pages_projected", "Pages of read models this process committed.",
             rt.projector.pages),
            ("civic_ledger_process_position_waits", "Reads that waited for another process's projection.",
             rt.projector.board.waits),
            ("civic_ledger_process_position_wait_timeouts", "Such waits that ended in a 503.",
             rt.projector.board.timeouts),
            ("civic_ledger_process_notifications", "Notifications this process's listener received.",
             0 if listener is None else listener.received),
            ("civic_ledger_process_grant_cache_hits", "Grant-status questions answered from this process's cache.",
             rt.grant_cache.hits),
            ("civic_ledger_process_grant_cache_misses", "Grant-status questions that read the grants view.",
             rt.grant_cache.misses),
            ("civic_ledger_process_grant_cache_refreshes", "Times the cache dropped what changed since its position.",
             rt.grant_cache.refreshes)):
        counter = CounterMetricFamily(name, doc, labels=labels)
        counter.add_metric(mine, value)
        out.append(counter)
    out.append(_gauge("civic_ledger_process_cached_callers", "Callers held in this process's cache.",
                      [(tuple(mine), len(rt.callers))], tuple(labels)))
    return out
