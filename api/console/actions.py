"""Sign-in and sign-out, the compliance board and its actions, integrity, and the live feed."""

from __future__ import annotations

import asyncio
import hmac
import secrets
import threading
import time
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import msgspec
from litestar import Request, Response, get, post
from litestar.concurrency import sync_to_thread
from litestar.datastructures import Cookie
from litestar.exceptions import HTTPException
from litestar.params import FromPath
from litestar.response import Redirect, ServerSentEvent, Template
from litestar.response.sse import ServerSentEventMessage

from api.console import inproc
from api.console.i18n import EVENTS_ZH, Words
from api.console.session import SESSION_SECONDS
from api.console.web import (
    LOGIN_COOKIE,
    PREFIX,
    SECURITY_HEADERS,
    SESSION_COOKIE,
    Page,
    form_of,
    lang_of,
    new_key,
    page,
    parse_local,
    redirect,
    sessions_of,
    tls,
)
from api.deps import runtime_of
from api.events import follow
from application.feeds import ALL, FeedScope

PAGE = 25
FEED_WINDOW = 100

# -- sign-in -------------------------------------------------------------------------------


def _login_page(request: Request[Any, Any, Any], *, message: str = "", status: int = 200) -> Template:
    p = Page(request, None, None)
    nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(16)
    p.csrf = sessions_of(request).mac("login", nonce)
    why = request.query_params.get("why")
    notice = message or {"ended": p.words.t("login.ended"), "out": p.words.t("login.out"),
                         "needed": p.words.t("login.needed")}.get(why or "", "")
    resp = p.render("login.html", status=status, notice=notice, error=bool(message),
                    next=_safe_next(request.query_params.get("next")))
    resp.cookies.append(Cookie(key=LOGIN_COOKIE, value=nonce, path=f"{PREFIX}/login", max_age=3600, httponly=True,
                               samesite="strict", secure=tls(request)))
    return resp


def _safe_next(value: str | None) -> str:
    """Only a path of the console itself (never another site, never `//host`)."""
    if value and value.startswith(PREFIX + "/") and not value.startswith("//") and "\\" not in value:
        return value
    return PREFIX + "/"


@get("/login")
async def login_form(request: Request[Any, Any, Any]) -> Template:
    return _login_page(request)


@post("/login", status_code=303)
async def login(request: Request[Any, Any, Any]) -> Response[Any]:
    data = await request.form()
    sessions = sessions_of(request)
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    if not nonce or not hmac.compare_digest(str(data.get("_csrf", "")), sessions.mac("login", nonce)):
        raise HTTPException(status_code=403, detail="csrf")
    token = str(data.get("token", "")).strip()
    principal = await sync_to_thread(runtime_of(request).principal, token) if 0 < len(token) <= 200 else None
    if principal is None:
        return _login_page(request, message=Words(lang_of(request)).t("login.bad"), status=401)
    cookie = await sync_to_thread(sessions.open, token)
    resp: Response[Any] = redirect(_safe_next(str(data.get("next", ""))))
    resp.set_cookie(SESSION_COOKIE, cookie, path=PREFIX, max_age=SESSION_SECONDS, httponly=True, samesite="strict",
                    secure=tls(request))
    resp.delete_cookie(LOGIN_COOKIE, path=f"{PREFIX}/login")
    return resp


@post("/logout", status_code=303)
async def logout(request: Request[Any, Any, Any]) -> Redirect:
    p = await page(request)
    await form_of(p)
    await sync_to_thread(sessions_of(request).close, request.cookies.get(SESSION_COOKIE))
    resp = redirect(f"{PREFIX}/login?why=out")
    resp.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return resp


# -- compliance ----------------------------------------------------------------------------

ACTIONS = {"confirm": "comment", "dismiss": "reason", "notice": "notice", "report": "report",
           "accept": "comment", "escalate": "reason"}


@get("/compliance")
async def board(request: Request[Any, Any, Any]) -> Template:
    p = await page(request)
    f = {n: (request.query_params.get(n) or "").strip() or None for n in ("kind", "subject", "status", "cursor")}
    open_only = request.query_params.get("open") == "true"
    answer = await inproc.get(request, p.token, "/violations", limit=PAGE, open=open_only, **f)
    return p.render("board.html", f=f, open_only=open_only, answer=answer)


@get("/compliance/{violation_id:str}")
async def case(request: Request[Any, Any, Any], violation_id: FromPath[str]) -> Template:
    p = await page(request)
    return await _case(p, violation_id)


async def _case(p: Page, violation_id: str, *, error: str = "", problem: dict[str, Any] | None = None,
                status: int = 200) -> Template:
    row = await inproc.get(p.request, p.token, f"/violations/{violation_id}")
    done = p.request.query_params.get("done")
    message = p.words.t("co.done", action=p.words.t(f"co.{done}")) if done in ACTIONS else ""
    return p.render("case.html", row=row, key=new_key(), error=error, problem=problem, message=message,
                    status=status, actions=ACTIONS)


@post("/compliance/{violation_id:str}/{action:str}", status_code=303)
async def act(request: Request[Any, Any, Any], violation_id: FromPath[str], action: FromPath[str]) -> Response[Any]:
    """One action on a case: the form's version goes as If-Match and its key as Idempotency-Key."""
    p = await page(request)
    form = await form_of(p)
    if action not in ACTIONS:
        raise HTTPException(status_code=404)
    try:
        UUID(violation_id)
    except ValueError:
        raise HTTPException(status_code=404) from None
    body: dict[str, Any]
    kind = ACTIONS[action]
    if kind == "notice":
        try:
            deadline = parse_local(form.get("deadline"))
        except ValueError:
            deadline = None
        body = {"deadline": deadline.isoformat() if deadline else "", "requirements": form.get("requirements", "")}
    else:
        body = {kind: form.get(kind, "")}
    headers = {"Idempotency-Key": form.get("key", "")[:200] or new_key()}
    if form.get("version", "").isdigit():
        headers["If-Match"] = f'"{form["version"]}"'
    answer = await inproc.call(request, p.token, "POST", f"/violations/{violation_id}/{action}", body=body,
                               headers=headers)
    if answer.ok:
        return redirect(p.url(f"/compliance/{violation_id}", done=action, seen=answer.headers.get("x-ledger-position")))
    refused = inproc.refusal(answer)
    return await _case(p, violation_id, error=p.words.refusal(refused.status, refused.problem),
                       problem=refused.problem, status=refused.status)


# -- integrity -----------------------------------------------------------------------------


class VerifyJob:
    """A verify running in a thread, with its progress, for one session."""

    def __init__(self, owner: str, total: int) -> None:
        self.owner, self.total, self.done = owner, max(total, 1), 0
        self.report: dict[str, Any] | None = None
        self.error: str = ""
        self.started = time.monotonic()

    def tick(self, n: int) -> None:
        self.done += n


def _jobs(request: Request[Any, Any, Any]) -> dict[str, VerifyJob]:
    state = request.app.state
    if "console_jobs" not in state:
        state["console_jobs"] = {}
    return state["console_jobs"]  # type: ignore[no-any-return]


@get("/integrity")
async def integrity(request: Request[Any, Any, Any]) -> Template:
    p = await page(request)
    checkpoints = await inproc.get(request, p.token, "/ledger/checkpoints", limit=5)
    health = await inproc.get(request, p.token, "/health")
    return p.render("integrity.html", checkpoints=checkpoints["items"], head=health["position"], job=None)


@post("/integrity/checkpoint", status_code=303)
async def sign_checkpoint(request: Request[Any, Any, Any]) -> Response[Any]:
    p = await page(request)
    await form_of(p)
    answer = await inproc.call(request, p.token, "POST", "/ledger/checkpoints")
    if not answer.ok:
        raise inproc.refusal(answer)
    return redirect(p.url("/integrity"))


@post("/integrity/verify", status_code=303)
async def start_verify(request: Request[Any, Any, Any]) -> Response[Any]:
    """Runs the same verify as GET /ledger/verify (IntegrityService.verify, as this caller) with a progress counter."""
    p = await page(request)
    await form_of(p)
    rt = runtime_of(request)
    job_id = secrets.token_urlsafe(12)
    job = VerifyJob(p.csrf, rt.ledger.max_position())
    jobs = _jobs(request)
    for old in [k for k, j in jobs.items() if time.monotonic() - j.started > 3600]:
        jobs.pop(old, None)
    jobs[job_id] = job
    principal = p.principal

    def run() -> None:
        try:
            report = rt.integrity.verify(principal, progress=job.tick)
            job.report = msgspec.to_builtins(report)
        except Exception as e:  # a refusal (Forbidden) or a failure: shown on the job's page
            job.error = getattr(e, "detail", None) or type(e).__name__
            job.report = {}

    threading.Thread(target=run, name="console-verify", daemon=True).start()
    return redirect(p.url(f"/integrity/verify/{job_id}"))


def _job(request: Request[Any, Any, Any], p: Page, job_id: str) -> VerifyJob:
    job = _jobs(request).get(job_id)
    if job is None or not hmac.compare_digest(job.owner, p.csrf):
        raise HTTPException(status_code=404)
    return job


@get("/integrity/verify/{job_id:str}")
async def verify_page(request: Request[Any, Any, Any], job_id: FromPath[str]) -> Template:
    p = await page(request)
    job = _job(request, p, job_id)
    checkpoints = await inproc.get(request, p.token, "/ledger/checkpoints", limit=5)
    health = await inproc.get(request, p.token, "/health")
    return p.render("integrity.html", checkpoints=checkpoints["items"], head=health["position"], job=job,
                    job_id=job_id, percent=min(100, int(100 * job.done / job.total)))


@get("/integrity/verify/{job_id:str}/progress")
async def verify_progress(request: Request[Any, Any, Any], job_id: FromPath[str]) -> Response[Any]:
    p = await page(request)
    job = _job(request, p, job_id)
    return Response({"done": job.done, "total": job.total, "finished": job.report is not None},
                    headers=SECURITY_HEADERS)


@get("/integrity/bundle")
async def bundle(request: Request[Any, Any, Any]) -> Response[Any]:
    """One file for an auditor: the proof (checkpoint, stored event, inclusion path) and the public key."""
    p = await page(request)
    raw = (request.query_params.get("position") or "").strip()
    if not raw.isdigit():
        raise HTTPException(status_code=400)
    proof = await inproc.get(request, p.token, f"/ledger/proofs/{int(raw)}")
    key = await inproc.call(request, p.token, "GET", "/ledger/public-key")
    if not key.ok:
        raise inproc.refusal(key)
    doc = {"format": "civic-ledger-bundle/1", "public_key": key.body.decode(), "proof": proof}
    return Response(msgspec.json.format(msgspec.json.encode(doc), indent=2), media_type="application/json",
                    headers={**SECURITY_HEADERS,
                             "Content-Disposition": f'attachment; filename="civic-ledger-proof-{int(raw)}.json"'})


# -- live feed -----------------------------------------------------------------------------


@get("/feed")
async def feed(request: Request[Any, Any, Any]) -> Template:
    p = await page(request)
    head = (await inproc.get(request, p.token, "/health"))["position"]
    raw = request.query_params.get("after", "")
    after = min(int(raw), head) if raw.isdigit() and len(raw) < 19 else max(0, head - FEED_WINDOW)
    answer = await inproc.get(request, p.token, "/events", after=after, limit=FEED_WINDOW)
    events = list(reversed(answer["events"]))
    earlier = max(0, after - FEED_WINDOW) if after > 0 else None
    labels = EVENTS_ZH if p.words.zh else {}
    return p.render("feed.html", events=events, horizon=answer["horizon"], labels=labels, earlier=earlier,
                    latest=bool(raw))


RECHECK_SECONDS = 5.0


@get("/feed/stream")
async def feed_stream(request: Request[Any, Any, Any]) -> ServerSentEvent:
    """The caller's scoped events (the API stream's own generator and scope), ended when the session ends."""
    p = await page(request)
    rt = runtime_of(request)
    raw = request.headers.get("last-event-id") or request.query_params.get("after") or ""
    after = int(raw) if raw.strip().isdigit() else rt.ledger.max_position()
    assert p.principal is not None
    source = follow(rt.feeds, FeedScope.of(p.principal), ALL, after, min(rt.feeds.heartbeat_seconds, RECHECK_SECONDS))

    async def guarded() -> AsyncIterator[ServerSentEventMessage]:
        checked = time.monotonic()
        async for message in source:
            if time.monotonic() - checked >= RECHECK_SECONDS:
                try:
                    await page(request)
                except Exception:
                    return
                checked = time.monotonic()
            yield message
            await asyncio.sleep(0)

    return ServerSentEvent(guarded(), headers=SECURITY_HEADERS)
