"""The console's reading pages: overview, catalog, timeline, state at a date, grant status, access log.

Each page asks the API in process (api.console.inproc) as the signed-in caller and renders what
it answers; nothing here decides who may see what.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from datetime import timedelta
from typing import Any
from uuid import UUID

from litestar import Request, get
from litestar.params import FromPath
from litestar.response import Stream, Template

from api.console import inproc
from api.console.inproc import Refused
from api.console.web import Page, local_input, now_utc, page, parse_local
from domain.timeline import KINDS as HISTORY_KINDS

_FIRST = ("catalog-entry", "grant", "share-request", "implementation-order", "organization", "system",
          "maintenance-ticket", "batch-modification", "objection", "violation")
KINDS = (*[k for k in _FIRST if k in HISTORY_KINDS], *sorted(k for k in HISTORY_KINDS if k not in _FIRST))
"""Every kind `/history` knows, the most asked first."""
PAGE = 25


def _q(request: Request[Any, Any, Any], *names: str) -> dict[str, str | None]:
    return {n: (request.query_params.get(n) or "").strip() or None for n in names}


async def _try(p: Page, path: str, **params: Any) -> Any:
    """A GET whose refusal (a queue the caller has no role for) is simply nothing to show."""
    try:
        return await inproc.get(p.request, p.token, path, **params)
    except Refused:
        return None


# -- overview ------------------------------------------------------------------------------

@get("/")
async def overview(request: Request[Any, Any, Any]) -> Template:
    p = await page(request)
    health = await inproc.get(request, p.token, "/health")
    summary = await inproc.get(request, p.token, "/compliance/summary")
    by_kind: dict[str, int] = defaultdict(int)
    for line in summary["items"]:
        for kind, n in (line.get("by_kind") or {}).items():
            by_kind[kind] += n
    lines = [line for line in summary["items"] if any(
        line.get(k) for k in ("open_violations", "candidates", "overdue_entries", "overdue_objections",
                              "non_compliant_systems"))]
    start = max(0, int(request.query_params.get("org_page", "0") or 0))
    overdue_entries = await inproc.get(request, p.token, "/catalog/entries", overdue=True, limit=10)
    overdue_objections = await _try(p, "/objections/overdue", limit=10)
    systems = await inproc.get(request, p.token, "/systems/compliance", limit=10)
    queues = await _queues(p)
    return p.render("overview.html", health=health, by_kind=dict(sorted(by_kind.items())), lines=lines[start:start + PAGE],
                    org_page=start, more_orgs=start + PAGE < len(lines), total_orgs=len(lines),
                    overdue_entries=overdue_entries, overdue_objections=overdue_objections, systems=systems,
                    queues=queues, position=summary["position"])


async def _queues(p: Page) -> list[dict[str, Any]]:
    """The work awaiting the signed-in caller's roles: (label, count, link)."""
    roles = p.principal.roles if p.principal else frozenset()
    asks: list[tuple[str, str, dict[str, Any], str]] = []
    if p.office:
        asks += [("ov.queue.requests", "/share-requests", {"status": "submitted"}, ""),
                 ("ov.queue.entries", "/catalog/entries", {"status": "approved"}, p.url("/catalog", status="approved")),
                 ("ov.queue.systems", "/systems/queue", {}, ""),
                 ("ov.queue.batches", "/maintenance/batches/queue", {}, ""),
                 ("ov.queue.candidates", "/violations", {"status": "candidate"},
                  p.url("/compliance", status="candidate"))]
    if "catalog_reviewer" in roles:
        asks.append(("ov.queue.entries", "/catalog/entries", {"status": "submitted"}, p.url("/catalog", status="submitted")))
    if roles & {"approver", "verifier", "maintainer"}:
        asks.append(("ov.queue.tickets", "/maintenance/tickets/queue", {}, ""))
    if "operator" in roles:
        asks.append(("ov.queue.batches", "/maintenance/batches/queue", {}, ""))
    if not p.office:
        asks.append(("ov.queue.objections", "/objections", {"role": "provider", "status": "open"}, ""))
    out = []
    for label, path, params, link in asks:
        answer = await _try(p, path, limit=50, **params)
        if answer is not None:
            n = len(answer["items"])
            out.append({"label": label, "count": f"{n}+" if answer.get("next_cursor") else str(n), "link": link,
                        "items": answer["items"][:5]})
    return out


# -- catalog -------------------------------------------------------------------------------

@get("/catalog")
async def catalog(request: Request[Any, Any, Any]) -> Template:
    p = await page(request)
    f = _q(request, "q", "provider", "share_class", "open_class", "status", "overdue", "cursor")
    answer = await inproc.get(request, p.token, "/catalog/entries", limit=PAGE, **f)
    return p.render("catalog.html", f=f, answer=answer)


@get("/catalog/{entry_id:str}")
async def entry(request: Request[Any, Any, Any], entry_id: FromPath[str]) -> Template:
    p = await page(request)
    row = await inproc.get(request, p.token, f"/catalog/entries/{entry_id}")
    diff = content_diff((row.get("current") or {}), (row.get("pending") or {}).get("content") or {}) \
        if row.get("pending") and row.get("current") else None
    versions = _q(request, "from_version", "to_version")
    history_diff = None
    if versions["from_version"] and versions["to_version"]:
        history_diff = await inproc.get(request, p.token, f"/history/catalog-entry/{entry_id}/diff", **versions)
        history_diff["changes"] = [c for ch in history_diff["changes"]
                                   for c in changes({ch["field"]: ch["before"]}, {ch["field"]: ch["after"]})]
    return p.render("entry.html", row=row, diff=diff, versions=versions, history_diff=history_diff)


def content_diff(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """Field by field, what the pending version changes in the published one (data items by code)."""
    return changes(before, after)


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested state as leaf paths (`pending.content.name`, `data_items[SSWR_XM].name`), so a change names its field."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, list) and value and all(isinstance(i, dict) for i in value):
        out = {}
        for n, i in enumerate(value):
            out.update(flatten(i, f"{prefix}[{i.get('code', n)}]"))
        return out
    return {prefix: value}


def changes(before: dict[str, Any], after: dict[str, Any], skip: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    a, b = flatten(before), flatten(after)
    return [{"field": k, "before": a.get(k), "after": b.get(k)}
            for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k) and k not in skip]


# -- timeline ------------------------------------------------------------------------------

@get("/timeline")
async def timeline_form(request: Request[Any, Any, Any]) -> Template:
    p = await page(request)
    f = _q(request, "kind", "id")
    if f["kind"] and f["id"]:
        return await _timeline(p, f["kind"], f["id"])
    return p.render("timeline.html", kinds=KINDS, f=f, events=None)


@get("/timeline/{kind:str}/{ident:str}")
async def timeline(request: Request[Any, Any, Any], kind: FromPath[str], ident: FromPath[str]) -> Template:
    return await _timeline(await page(request), kind, ident)


async def _timeline(p: Page, kind: str, ident: str) -> Template:
    answer = await inproc.get(p.request, p.token, f"/history/{kind}/{ident}")
    items, before = [], None
    for e in answer["events"]:
        state = e.get("state") or {}
        changed = [] if before is None else changes(before, state, skip=("version",))
        items.append({**e, "changed": changed, "created": before is None})
        before = state
    start = max(0, int(p.request.query_params.get("start", "0") or 0))
    return p.render("timeline.html", kinds=KINDS, f={"kind": kind, "id": ident}, events=items[start:start + PAGE],
                    start=start, total=len(items), more=start + PAGE < len(items))


# -- state at a date -----------------------------------------------------------------------

LISTS = {"catalog": ("/catalog/entries", {}), "grants": ("/grants", {"status": "active"}),
         "systems": ("/systems", {}), "violations": ("/violations", {})}


@get("/state")
async def state(request: Request[Any, Any, Any]) -> Template:
    p = await page(request)
    f = _q(request, "at", "show", "cursor")
    show = f["show"] if f["show"] in LISTS else "catalog"
    try:
        at = parse_local(f["at"])
    except ValueError:
        return p.render("state.html", f=f, show=show, answer=None, listing=None, error=p.words.t("st.bad"), status=400)
    if at is None:
        at_default = local_input(now_utc() - timedelta(days=1))
        return p.render("state.html", f={**f, "at": at_default}, show=show, answer=None, listing=None, error=None)
    answer = await inproc.get(request, p.token, "/state", at=at.isoformat())
    path, extra = LISTS[show]
    listing = await inproc.get(request, p.token, path, at=at.isoformat(), limit=PAGE, cursor=f["cursor"], **extra)
    return p.render("state.html", f={**f, "at": local_input(at)}, show=show, answer=answer, listing=listing,
                    error=None)


# -- grant status --------------------------------------------------------------------------

@get("/grants/check")
async def grant_check(request: Request[Any, Any, Any]) -> Template:
    p = await page(request)
    f = _q(request, "holder", "entry_id", "fields", "purpose", "method", "at")
    answer, error = None, None
    if f["holder"] and f["entry_id"] and f["fields"] and f["purpose"] and f["method"]:
        try:
            at = parse_local(f["at"])
        except ValueError:
            at, error = None, p.words.t("st.bad")
        if error is None:
            answer = await inproc.get(request, p.token, "/grant-status", holder=f["holder"], entry_id=f["entry_id"],
                                      fields=f["fields"], purpose=f["purpose"], method=f["method"],
                                      at=at.isoformat() if at else None)
    grants = None
    if answer is None and not error:
        grants = await _try(p, "/grants", limit=PAGE, cursor=request.query_params.get("cursor") or None,
                            status="active", entry_id=_uuid(f["entry_id"]), holder=f["holder"])
    return p.render("grant.html", f=f, answer=answer, error=error, grants=grants)


def _uuid(value: str | None) -> str | None:
    """An id as the API's filter takes it; anything else filters nothing (the form shows it back)."""
    try:
        return str(UUID(value)) if value else None
    except ValueError:
        return None


# -- access log ----------------------------------------------------------------------------

LOG_FILTERS = ("provider", "holder", "entry_id", "grant_id", "outcome", "from", "to")


def _log_params(request: Request[Any, Any, Any]) -> dict[str, Any]:
    f = _q(request, *LOG_FILTERS)
    for k in ("from", "to"):
        with contextlib.suppress(ValueError):
            dt = parse_local(f[k])
            f[k] = dt.isoformat() if dt else None
    return f


@get("/access-log")
async def access_log(request: Request[Any, Any, Any]) -> Template:
    p = await page(request)
    f = _log_params(request)
    answer = await inproc.get(request, p.token, "/access-logs", limit=PAGE,
                              cursor=request.query_params.get("cursor") or None, **f)
    side, org = ("provider", f["provider"]) if f["provider"] else ("holder", f["holder"]) if f["holder"] else (None, None)
    daily = await inproc.get(request, p.token, "/access-logs/daily", org=org, side=side, entry_id=f["entry_id"],
                             **{"from": f["from"], "to": f["to"]})
    viewer = None if p.principal is None or p.principal.sees_everything else p.principal.acting_for
    shown = {k: request.query_params.get(k) or "" for k in LOG_FILTERS}
    export = {k: v for k, v in shown.items() if v}
    return p.render("access_log.html", f=shown, answer=answer, chart=chart(daily["items"], side, org, viewer),
                    csv_url=p.url("/access-log/export.csv", **export),
                    jsonl_url=p.url("/access-log/export.jsonl", **export))


def chart(rows: list[dict[str, Any]], side: str | None, org: str | None, viewer: str | None) -> dict[str, Any]:
    """Daily allowed and denied counts as bars: the geometry of a server-rendered SVG."""
    def keep(r: dict[str, Any]) -> bool:
        if side:
            return bool(r["side"] == side and (not org or r["org"] == org))
        if viewer:  # an organization sees its own lines, as provider and as holder
            return bool(r["org"] == viewer)
        return bool(r["side"] == "holder")  # every access once: by the side that made it

    days: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        if keep(r):
            days[r["day"]][0] += int(r["allowed"])
            days[r["day"]][1] += int(r["denied"])
    ordered = sorted(days.items())[-31:]
    top = max([a + d for _, (a, d) in ordered] or [0]) or 1
    width, height, pad = 720, 220, 32
    bar = (width - 2 * pad) / max(len(ordered), 1)
    bars = []
    for i, (day, (allowed, denied)) in enumerate(ordered):
        x = pad + i * bar + bar * 0.15
        ha = (height - 2 * pad) * allowed / top
        hd = (height - 2 * pad) * denied / top
        bars.append({"day": day, "label": day[5:], "x": round(x, 1), "w": round(bar * 0.7, 1),
                     "allowed": allowed, "denied": denied,
                     "ya": round(height - pad - ha, 1), "ha": round(ha, 1),
                     "yd": round(height - pad - ha - hd, 1), "hd": round(hd, 1)})
    return {"bars": bars, "top": top, "width": width, "height": height, "pad": pad,
            "every": max(1, len(bars) // 10)}


EXPORT_MAX = 100_000


async def _rows(p: Page, f: dict[str, Any]) -> Any:
    cursor, n = None, 0
    while True:
        answer = await inproc.get(p.request, p.token, "/access-logs", limit=1000, cursor=cursor, **f)
        for row in answer["items"]:
            yield row
            n += 1
            if n >= EXPORT_MAX:
                return
        cursor = answer.get("next_cursor")
        if not cursor:
            return


CSV_COLUMNS = ("request_id", "accessed_at", "holder", "provider", "entry_id", "grant_id", "fields", "purpose",
               "method", "record_count", "outcome", "reasons", "recorded_at")


def _csv_cell(value: Any) -> str:
    if isinstance(value, list):
        value = ";".join(v if isinstance(v, str) else f"{v.get('rule', '')}:{v.get('code', '')}" for v in value)
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):  # a spreadsheet must not read a cell as a formula
        text = "'" + text
    if any(c in text for c in ',"\n\r'):
        text = '"' + text.replace('"', '""') + '"'
    return text


@get("/access-log/export.csv")
async def export_csv(request: Request[Any, Any, Any]) -> Stream:
    p = await page(request)
    f = _log_params(request)
    await inproc.get(request, p.token, "/access-logs", limit=1, **f)  # refused now, not halfway through a download

    async def lines() -> Any:
        yield "\ufeff" + ",".join(CSV_COLUMNS) + "\r\n"
        async for row in _rows(p, f):
            yield ",".join(_csv_cell(row.get(c)) for c in CSV_COLUMNS) + "\r\n"

    return Stream(lines(), media_type="text/csv; charset=utf-8",
                  headers={"Content-Disposition": 'attachment; filename="access-log.csv"', "Cache-Control": "no-store"})


@get("/access-log/export.jsonl")
async def export_jsonl(request: Request[Any, Any, Any]) -> Stream:
    import msgspec

    p = await page(request)
    f = _log_params(request)
    await inproc.get(request, p.token, "/access-logs", limit=1, **f)

    async def lines() -> Any:
        async for row in _rows(p, f):
            yield msgspec.json.encode(row) + b"\n"

    return Stream(lines(), media_type="application/jsonl",
                  headers={"Content-Disposition": 'attachment; filename="access-log.jsonl"', "Cache-Control": "no-store"})
