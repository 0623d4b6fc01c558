"""What every console page shares: the session, the language, rendering, CSRF and security headers."""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import msgspec
from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Request, Response
from litestar.concurrency import sync_to_thread
from litestar.datastructures import Cookie
from litestar.exceptions import HTTPException
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.template.config import TemplateConfig

from api.console.i18n import DEFAULT, LANGS, RULES_ZH, Words
from api.console.inproc import Refused
from api.console.session import Sessions
from api.deps import runtime_of
from application.common import Principal

HERE = Path(__file__).parent
PREFIX = "/console"
SESSION_COOKIE = "cl_session"
LANG_COOKIE = "cl_lang"
LOGIN_COOKIE = "cl_login"
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY", "Cache-Control": "no-store",
}


def beijing(value: Any, seconds: bool = False) -> str:
    """An ISO instant shown in Beijing time, `2026-03-31 08:00`."""
    if not value:
        return "—"
    try:
        dt = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if dt.tzinfo is None:
        return str(value)
    return dt.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def parse_local(value: str | None) -> datetime | None:
    """A `datetime-local` value (or a bare date) read as Beijing time; an offset given wins."""
    if not value or not value.strip():
        return None
    raw = value.strip()
    if len(raw) == 10:
        raw += "T00:00"
    dt = datetime.fromisoformat(raw)
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=BEIJING)


def local_input(dt: datetime | None) -> str:
    return dt.astimezone(BEIJING).strftime("%Y-%m-%dT%H:%M:%S") if dt else ""


def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["bj"] = beijing
    env.filters["json"] = lambda v: msgspec.json.encode(v).decode()
    env.filters["pretty"] = lambda v: msgspec.json.format(msgspec.json.encode(v), indent=2).decode()
    return env


template_config: TemplateConfig[JinjaTemplateEngine] = TemplateConfig(instance=JinjaTemplateEngine.from_environment(_env()))


class SignInNeeded(Exception):
    def __init__(self, reason: str = "needed") -> None:
        super().__init__(reason)
        self.reason = reason


def sessions_of(request: Request[Any, Any, Any]) -> Sessions:
    state = request.app.state
    if "console_sessions" not in state:
        state["console_sessions"] = Sessions(runtime_of(request).ledger.db)
    return state["console_sessions"]  # type: ignore[no-any-return]


def lang_of(request: Request[Any, Any, Any]) -> str:
    chosen = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or DEFAULT
    return chosen if chosen in LANGS else DEFAULT


class Page:
    """One request's console context: who, in which language, with which token."""

    def __init__(self, request: Request[Any, Any, Any], token: str | None, principal: Principal | None) -> None:
        self.request = request
        self.token = token or ""
        self.principal = principal
        self.words = Words(lang_of(request))
        cookie = request.cookies.get(SESSION_COOKIE)
        self.csrf = sessions_of(request).csrf(cookie) if principal else ""

    @property
    def office(self) -> bool:
        return bool(self.principal and self.principal.is_office)

    def url(self, path: str, **params: Any) -> str:
        q = {k: v for k, v in params.items() if v not in (None, "", False)}
        return f"{PREFIX}{path}" + (f"?{urlencode(q, doseq=True)}" if q else "")

    def here(self, **changes: Any) -> str:
        """This page's URL with some query parameters changed (None drops one)."""
        q = dict(self.request.query_params.items())
        q.update(changes)
        q = {k: v for k, v in q.items() if v not in (None, "")}
        return self.request.url.path + (f"?{urlencode(q)}" if q else "")

    def render(self, name: str, status: int = 200, **context: Any) -> Template:
        w = self.words
        ctx = {"page": self, "t": w.t, "enum": w.enum, "rule": w.rule, "event": w.event, "role": w.role, "w": w, "lang": w.lang,
               "principal": self.principal, "csrf": self.csrf, "url": self.url, "here": self.here,
               "rules_zh": RULES_ZH, **context}
        return Template(name, context=ctx, status_code=status, headers=SECURITY_HEADERS,
                        cookies=self.lang_cookie(), media_type="text/html")

    def lang_cookie(self) -> list[Cookie]:
        chosen = self.request.query_params.get("lang")
        if chosen in LANGS:
            return [Cookie(key=LANG_COOKIE, value=chosen, path=PREFIX, max_age=365 * 86400, httponly=True,
                           samesite="strict", secure=tls(self.request))]
        return []


def tls(request: Request[Any, Any, Any]) -> bool:
    return request.url.scheme == "https"


async def page(request: Request[Any, Any, Any]) -> Page:
    """The signed-in caller, resolved from the token on every request; SignInNeeded when there is none."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise SignInNeeded()
    sessions = sessions_of(request)
    token = await sync_to_thread(sessions.token, cookie)
    if token is None:
        raise SignInNeeded("ended")
    principal = await sync_to_thread(runtime_of(request).principal, token)
    if principal is None:  # the token was revoked (or its person lost every role): the session ends with it
        await sync_to_thread(sessions.close, cookie)
        raise SignInNeeded("ended")
    p = Page(request, token, principal)
    request.state.console_page = p  # an error page later in this request keeps the caller's frame
    return p


async def form_of(p: Page) -> dict[str, str]:
    """The posted form, refused (403) unless it carries this session's CSRF token."""
    data = await p.request.form()
    sent = str(data.get("_csrf", ""))
    if not p.csrf or not hmac.compare_digest(sent, p.csrf):
        raise HTTPException(status_code=403, detail="csrf")
    return {k: str(v) for k, v in data.items()}


def new_key() -> str:
    return "console-" + secrets.token_hex(12)


def redirect(path: str, status: int = 303) -> Redirect:
    return Redirect(path=path, status_code=status, headers=SECURITY_HEADERS)


# -- errors --------------------------------------------------------------------------------

def on_sign_in(request: Request[Any, Any, Any], exc: SignInNeeded) -> Response[Any]:
    accept = request.headers.get("accept", "")
    if "text/event-stream" in accept or request.url.path.endswith((".csv", ".jsonl", "/stream", "/bundle")):
        return Response("sign-in needed", status_code=401, media_type="text/plain", headers=SECURITY_HEADERS)
    nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    params = {"next": nxt, "why": exc.reason}
    if request.query_params.get("lang") in LANGS:
        params["lang"] = request.query_params["lang"]
    resp = redirect(f"{PREFIX}/login?" + urlencode(params))
    if exc.reason == "ended":
        resp.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return resp


def _page_or_anonymous(request: Request[Any, Any, Any]) -> Page:
    return getattr(request.state, "console_page", None) or Page(request, None, None)


def on_refused(request: Request[Any, Any, Any], exc: Refused) -> Response[Any]:
    p = _page_or_anonymous(request)
    return p.render("error.html", status=exc.status, message=p.words.refusal(exc.status, exc.problem),
                    problem=exc.problem)


def on_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    p = _page_or_anonymous(request)
    w = p.words
    if exc.status_code == 403 and exc.detail == "csrf":
        message = w.t("csrf.bad")
    else:
        message = w.refusal(exc.status_code, {})
    return p.render("error.html", status=exc.status_code, message=message, problem=None)


def now_utc() -> datetime:
    return datetime.now(UTC)
