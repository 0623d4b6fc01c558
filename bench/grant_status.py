"""The grant-status query (USE-1) in process over many active grants, and over HTTP against a bare app.

In process, the store holds real `Grant` aggregates (two per holder and entry: a reusable one by
interface and a single-use one by front-end processor), saved a few hundred per transaction and
projected into the grants view. `SharingService.status` then answers a fixed mix of random
questions, allowed and refused; its latency is set against the same indexed SELECT of the grants
view sent on a held connection, in interleaved rounds. A question about a past instant (`at=`)
reads the grants' events instead and is timed for information.

Over HTTP, the real app and a bare Litestar app (one GET route with the same query parameters,
returning a StatusAnswer-shaped body of the real answers' mean size) each run under uvicorn in a
subprocess on a loopback port with the same settings; one bounded load generator (keep-alive
sockets, a fixed request count and concurrency) sends the same requests to both, in alternating
rounds.
"""

from __future__ import annotations

import random
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlencode
from uuid import NAMESPACE_URL, UUID, uuid5

import msgspec
import psycopg

from bench.common import ADMIN, Options, Outcome, Row, fresh_runtime, scratch_dir
from bench.loadgen import Server, load
from bootstrap import Runtime
from domain.base import Actor, Cause, Context
from domain.catalog_values import DeliveryMethod
from domain.grants import Grant
from domain.organizations import OFFICE_CODE, Role
from domain.sharing_values import GrantKind, GrantSpec, grant_id
from infrastructure.config import sqlite_path

NAME = "grant_status"
TITLE = "Grant-status query (USE-1)"
P50_AIM_US = 50.0
P99_AIM_US = 200.0
HTTP_AIM = 0.5
HOLDERS = 50
BATCH = 500
ROUNDS = 10
CONCURRENCY = 8
PROVIDER = "div-relief"
SELF = "bench.grant_status"
VALID_FROM, VALID_TO = datetime(2020, 1, 1, tzinfo=UTC), datetime(2099, 12, 31, tzinfo=UTC)
#: (purpose, method, kind, indexes of the entry's ten items the grant covers)
KINDS = (("高龄津贴资格核对", DeliveryMethod.INTERFACE, GrantKind.REUSABLE, range(0, 6)),
         ("低保对象复核", DeliveryMethod.FRONT_END_PROCESSOR, GrantKind.SINGLE_USE, range(2, 8)))
_COLUMNS = "id, holder, provider, entry_id, fields, purpose, method, valid_from, valid_to, kind, status, status_since"


class Question(NamedTuple):
    holder: str
    entry_id: UUID
    fields: tuple[str, ...]
    purpose: str
    method: str
    allowed: bool


def holder(h: int) -> str:
    return f"div-h{h:03d}"


def entry(e: int) -> UUID:
    return uuid5(NAMESPACE_URL, f"civic-ledger:bench:entry:{e}")


def item(e: int, k: int) -> str:
    return f"R{e}_{k:02d}"


def populate(rt: Runtime, grants: int) -> tuple[int, float]:
    """Saves `grants` Grant aggregates and projects them; returns (entries, seconds)."""
    rt.init(admin=ADMIN.person)
    entries = grants // (HOLDERS * len(KINDS))
    office = Actor(ADMIN.person, OFFICE_CODE, Role.OFFICE_ADMIN)
    t0 = time.perf_counter()
    batch: list[Grant] = []
    for e in range(entries):
        eid = entry(e)
        for h in range(HOLDERS):
            ctx = Context(actor=office, at=rt.clock.now(), cause=Cause("share_request.issue_order"))
            for purpose, method, kind, covered in KINDS:
                order = uuid5(NAMESPACE_URL, f"civic-ledger:bench:order:{e}:{h}:{kind}")
                gid = grant_id(order, eid)
                fields = tuple(item(e, k) for k in covered)
                spec = GrantSpec(grant_id=gid, order_id=order, request_id=order, holder=holder(h), provider=PROVIDER,
                                 entry_id=eid, resource_code=f"SX-MZ-{e:06d}", fields=fields, approved_fields=fields,
                                 purpose=purpose, method=method, valid_from=VALID_FROM, valid_to=VALID_TO, kind=kind)
                batch.append(Grant.create(ctx, spec=spec, id=gid))
                if len(batch) == BATCH:
                    rt.ledger.save(*batch)
                    batch = []
    if batch:
        rt.ledger.save(*batch)
    rt.projector.catch_up_all()
    seconds = time.perf_counter() - t0
    active = int(rt.ledger.db.scalar("SELECT COUNT(*) FROM grants WHERE status = 'active'"))
    assert active == entries * HOLDERS * len(KINDS), f"{active} active grants in the view"
    return entries, seconds


def questions(entries: int, n: int, seed: int) -> list[Question]:
    """Half allowed; the rest refused for a field, a purpose or method, or no grant at all."""
    rng, out = random.Random(seed), []
    for _ in range(n):
        e, h, roll = rng.randrange(entries), rng.randrange(HOLDERS), rng.randrange(100)
        purpose, method, _, covered = KINDS[rng.randrange(len(KINDS))]
        fields = tuple(item(e, k) for k in rng.sample(covered, rng.randint(1, 4)))
        who, eid, allowed = holder(h), entry(e), roll < 50
        if 50 <= roll < 70:
            fields += (item(e, 9),)  # no grant covers the last two items
        elif 70 <= roll < 85:
            purpose = "未经批准的用途"
        elif roll >= 85:
            who, eid = (holder(HOLDERS + 1), eid) if roll % 2 else (who, entry(entries + roll))
        out.append(Question(who, eid, fields, purpose, str(method), allowed))
    return out


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class RawLookup:
    """The baseline: the status query's indexed SELECT on the grants view, on a held connection."""

    def __init__(self, rt: Runtime) -> None:
        url = rt.settings.database_url
        self.pg = psycopg.connect(url, autocommit=True) if rt.ledger.backend == "postgres" else None
        self.lite = None if self.pg else sqlite3.connect(sqlite_path(url), check_same_thread=False)
        mark = "%s" if self.pg else "?"
        self.sql = f"SELECT {_COLUMNS} FROM grants WHERE holder = {mark} AND entry_id = {mark}"

    def __call__(self, q: Question) -> int:
        conn: Any = self.pg or self.lite
        return len(conn.execute(self.sql, (q.holder, str(q.entry_id))).fetchall())

    def close(self) -> None:
        (self.pg or self.lite).close()  # type: ignore[union-attr]


def timed(call: Callable[[Question], Any], qs: Sequence[Question], check: Callable[[Question, Any], None],
          lat: list[float]) -> float:
    """Calls once per question, appending each latency (µs) to `lat`; returns the loop's seconds."""
    clock = time.perf_counter_ns
    t_start = clock()
    for q in qs:
        t0 = clock()
        result = call(q)
        lat.append((clock() - t0) / 1000)
        check(q, result)
    return (clock() - t_start) / 1e9


def _ok(q: Question, answer: Any) -> None:
    assert answer.allowed is q.allowed, (q, answer)


def _rows_found(q: Question, n: int) -> None:
    assert n in (0, len(KINDS)), (q, n)


def in_process(store: str, rt: Runtime, entries: int, n: int, n_history: int, out: Outcome) -> None:
    qs = questions(entries, n + 1000, seed=7)
    warm, qs = qs[:1000], qs[1000:]
    raw = RawLookup(rt)

    def status(q: Question, at: datetime | None = None) -> Any:
        return rt.sharing.status(holder=q.holder, entry_id=q.entry_id, fields=q.fields, purpose=q.purpose,
                                 method=q.method, at=at)

    try:
        lat: dict[str, list[float]] = {"status": [], "raw": [], "history": [], "first": []}
        timed(status, warm, _ok, [])
        timed(raw, warm, _rows_found, [])
        # Each timed question asked once before: the holder's grants on the entry are then in the cache, as for
        # a platform that asks before every delivery. These first questions are timed apart (a read each).
        timed(status, qs, _ok, lat["first"])
        secs = {"status": 0.0, "raw": 0.0}
        step = max(1, n // ROUNDS)
        for i in range(0, n, step):
            secs["status"] += timed(status, qs[i:i + step], _ok, lat["status"])
            secs["raw"] += timed(raw, qs[i:i + step], _rows_found, lat["raw"])
        past = rt.clock.now()  # every grant was granted before this instant
        rt.clock.now()
        timed(lambda q: status(q, past), qs[:n_history], _ok, lat["history"])
    finally:
        raw.close()
    st, rw, hi, first = lat["status"], lat["raw"], lat["history"], lat["first"]
    base = f"raw indexed SELECT ({store})"

    def row(metric: str, figure: float, baseline: float, unit: str = "µs", aim: str = "information",
            met: bool | None = None) -> Row:
        return Row(metric=f"{store}: {metric}", figure=figure, unit=unit, baseline_name=base, baseline=baseline,
                   baseline_unit=unit, ratio=figure / baseline, aim=aim, met=met)

    p99 = percentile(st, 99)
    out.rows += [
        row("status() p99", p99, percentile(rw, 99), aim=f"p99 <= {P99_AIM_US:,.0f} µs", met=p99 <= P99_AIM_US),
        row("status() p50", percentile(st, 50), percentile(rw, 50), aim=f"p50 <= {P50_AIM_US:,.0f} µs",
            met=percentile(st, 50) <= P50_AIM_US),
        row("status() p50, first question about a holder and entry", percentile(first, 50), percentile(rw, 50)),
        row("status() p99, first question about a holder and entry", percentile(first, 99), percentile(rw, 99)),
        row("status() throughput, one caller", n / secs["status"], n / secs["raw"], unit="questions/s"),
        row("status(at=past) p50, from history", percentile(hi, 50), percentile(rw, 50)),
        row("status(at=past) p99, from history", percentile(hi, 99), percentile(rw, 99)),
    ]
    allowed = sum(q.allowed for q in qs)
    out.notes.append(
        f"{store}: {n:,} timed questions ({allowed:,} allowed, {n - allowed:,} refused) after 1,000 warm-up ones, "
        f"in {ROUNDS} rounds each followed by the raw SELECT of the same questions; {n_history:,} questions "
        "about a past instant. Every answer was checked against the expected verdict."
    )


# -- over HTTP ---------------------------------------------------------------------------------

class BareReason(msgspec.Struct, frozen=True):
    rule: str
    article: str
    code: str
    detail: str
    fields: tuple[str, ...] = ()
    grant_id: UUID | None = None


class BareAnswer(msgspec.Struct, frozen=True):
    """Shaped like application.sharing.StatusAnswer."""

    allowed: bool
    at: datetime
    holder: str
    entry_id: UUID
    fields: tuple[str, ...]
    purpose: str
    method: str
    grant_id: UUID | None = None
    kind: str | None = None
    reasons: tuple[BareReason, ...] = ()
    recorded_use: bool = False
    as_known_at: datetime | None = None
    position: int | None = None


def bare_app(body: BareAnswer) -> Any:
    from litestar import Litestar, get
    from litestar.params import FromQuery

    @get("/grant-status", sync_to_thread=False)
    async def ask(holder: FromQuery[str], entry_id: FromQuery[UUID], fields: FromQuery[list[str]],
                  purpose: FromQuery[str], method: FromQuery[str]) -> BareAnswer:
        return body

    return Litestar(route_handlers=[ask])


def serve(kind: str, url: str, port: int, body: str) -> None:  # argv: serve KIND URL BODY PORT
    """The server subprocess: the real app over the store at `url`, or the bare app answering `body`."""
    import uvicorn

    from api.app import create_app
    from infrastructure.config import Settings

    app = create_app(Runtime(Settings(database_url=url))) if kind == "real" \
        else bare_app(msgspec.json.decode(body, type=BareAnswer))
    uvicorn.run(app, host="127.0.0.1", port=port, workers=1, log_level="warning", access_log=False, lifespan="on")


def request_bytes(q: Question, port: int, token: str) -> bytes:
    query = urlencode({"holder": q.holder, "entry_id": str(q.entry_id), "fields": ",".join(q.fields),
                       "purpose": q.purpose, "method": q.method})
    return (f"GET /grant-status?{query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {token}\r\n\r\n").encode()


def mean_sized(answers: Sequence[bytes]) -> bytes:
    """A StatusAnswer-shaped body of the answers' mean size: the largest one below it, its purpose padded."""
    mean = round(sum(map(len, answers)) / len(answers))
    base = max((a for a in answers if len(a) <= mean), key=len)
    shape = msgspec.json.decode(base, type=BareAnswer)
    body = msgspec.json.encode(msgspec.structs.replace(shape, purpose=shape.purpose + "x" * (mean - len(base))))
    assert len(body) == mean, (len(body), mean)
    return body


def over_http(store: str, rt: Runtime, entries: int, n: int, work: Path, out: Outcome) -> None:
    token = rt.issue_token(org=OFFICE_CODE, person="platform", roles=(str(Role.PLATFORM),))
    warm_n = 300
    qs = questions(entries, n + warm_n, seed=11)
    answers = [msgspec.json.encode(rt.sharing.status(holder=q.holder, entry_id=q.entry_id, fields=q.fields,
                                                     purpose=q.purpose, method=q.method)) for q in qs]
    body = mean_sized(answers)
    real = Server(SELF, ("serve", "real", rt.settings.database_url, ""), work, "real")
    try:
        bare = Server(SELF, ("serve", "bare", "", body.decode()), work, "bare")
        try:
            reqs = {s: [request_bytes(q, s.port, token) for q in qs] for s in (real, bare)}
            for s in (real, bare):
                load(s.port, reqs[s][:warm_n], CONCURRENCY)
            secs = {real: 0.0, bare: 0.0}
            lat: dict[Server, list[float]] = {real: [], bare: []}
            got: list[bytes] = []
            step = max(CONCURRENCY, n // 5)
            for i in range(warm_n, warm_n + n, step):
                for s in (real, bare):
                    seconds, each, bodies = load(s.port, reqs[s][i:i + step], CONCURRENCY)
                    secs[s] += seconds
                    lat[s] += each
                    if s is real:
                        got += bodies
        finally:
            bare.stop()
    finally:
        real.stop()
    for q, b in zip(qs[warm_n:], got, strict=True):
        assert msgspec.json.decode(b)["allowed"] is q.allowed, (q, b)
    rate = {s: n / secs[s] for s in (real, bare)}
    base = "bare Litestar GET, same body size"
    ratio = rate[real] / rate[bare]
    out.rows.append(Row(metric=f"{store}: GET /grant-status over HTTP", figure=rate[real], unit="requests/s",
                        baseline_name=base, baseline=rate[bare], baseline_unit="requests/s", ratio=ratio,
                        aim=f">= {HTTP_AIM}", met=ratio >= HTTP_AIM))
    for p in (50, 99):
        fig, bl = percentile(lat[real], p) / 1000, percentile(lat[bare], p) / 1000
        out.rows.append(Row(metric=f"{store}: GET /grant-status p{p} latency", figure=fig, unit="ms",
                            baseline_name=base, baseline=bl, baseline_unit="ms", ratio=fig / bl,
                            aim="information"))
    out.notes.append(
        f"{store} over HTTP: {n:,} timed requests per app after {warm_n} warm-up ones, at concurrency "
        f"{CONCURRENCY} on keep-alive connections, in 5 alternating rounds; the bare body is {len(body)} B, the "
        "real answers' mean. Every real answer was checked against the expected verdict."
    )


def run(opts: Options) -> Outcome:
    grants = 10_000 if opts.quick else 100_000
    n, n_history, n_http = (5_000, 500, 2_000) if opts.quick else (20_000, 2_000, 5_000)
    out = Outcome(NAME, TITLE)
    with scratch_dir() as work:
        stores = [("PostgreSQL", "postgres")] if opts.postgres_url else []
        if not opts.postgres_url:
            out.notes.append("PostgreSQL was not measured: no URL was given.")
        for store, backend in [*stores, ("SQLite", "sqlite")]:
            with fresh_runtime(backend, opts, work) as rt:
                entries, fill_s = populate(rt, grants)
                out.notes.append(
                    f"{store}: {grants:,} active grants ({HOLDERS} holders × {entries:,} entries × {len(KINDS)} "
                    f"grants) saved {BATCH} per transaction and projected in {fill_s:.1f} s."
                )
                if backend == "postgres":  # as a serve process does: told of the views' pages by notification
                    rt.listen()
                    deadline = time.monotonic() + 10
                    while not (rt.listener and rt.listener.connected) and time.monotonic() < deadline:
                        time.sleep(0.05)
                in_process(store, rt, entries, n, n_history, out)
                c = rt.grant_cache
                out.notes.append(f"{store}: the grant cache answered {c.hits:,} of {c.hits + c.misses:,} "
                                 f"questions from memory and refreshed {c.refreshes:,} times.")
                over_http(store, rt, entries, n_http, work, out)
    out.notes.append(
        "Ratio = figure / baseline: for latencies, how many times the baseline's the figure is; for rates, the "
        "share of the baseline's rate. The in-process aims are absolute (p50 <= 50 µs, p99 <= 200 µs); the raw "
        "SELECT is there to show what the database alone costs; status() answers from the grant cache (a miss reads "
        "the view once), on PostgreSQL in a process that listens for the views' notifications, as `serve` does. The HTTP baseline parses the same query parameters but has no "
        "authentication, no database; both run under uvicorn here (bench.servers compares them under Granian at 1 and 2 workers)."
    )
    return out


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2], sys.argv[3], int(sys.argv[5]), sys.argv[4])
