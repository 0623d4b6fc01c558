"""The console's edges over a live server: sessions, CSRF, scoping by URL, revocation, headers."""

from __future__ import annotations

import re
from contextlib import closing

import httpx

from projections.scope import EVERYTHING
from tests.console.conftest import Console, candidates, csrf_of, signed_in

PAGES = ["/console/", "/console/catalog", "/console/catalog?q=%E4%BD%8E%E4%BF%9D", "/console/timeline",
         "/console/timeline/organization/office", "/console/state?at=2026-01-01T00:00", "/console/grants/check",
         "/console/access-log", "/console/compliance", "/console/integrity", "/console/feed"]
FRAGMENTS = ["/console/feed/stream", "/console/access-log/export.csv", "/console/access-log/export.jsonl",
             "/console/integrity/bundle?position=1"]


def test_nothing_is_readable_without_a_session(console: Console) -> None:
    with httpx.Client(base_url=console.url, follow_redirects=False, timeout=30) as anon:
        vid = candidates(console.rt, 1)[0]["id"]
        for path in [*PAGES, f"/console/compliance/{vid}", "/console/integrity/verify/x/progress"]:
            r = anon.get(path)
            assert r.status_code == 303 and r.headers["location"].startswith("/console/login?"), path
            assert r.content == b"", path
        for path in FRAGMENTS:
            r = anon.get(path, headers={"accept": "text/event-stream"} if "stream" in path else {})
            assert r.status_code == 401, path
            assert b"request_id" not in r.content and b"events" not in r.content
        r = anon.post(f"/console/compliance/{vid}/confirm", data={"comment": "x"})
        assert r.status_code == 303 and r.headers["location"].startswith("/console/login?")
        # a forged cookie is no session either
        r = anon.get("/console/", cookies={"cl_session": "abc.def"})
        assert r.status_code == 303
    assert console.rt.compliance_queries.violation(vid, EVERYTHING).status == "candidate"


def test_root_redirects_to_the_console(console: Console) -> None:
    r = httpx.get(console.url + "/", follow_redirects=False)
    assert r.status_code in (301, 302, 307, 308) and r.headers["location"] == "/console/"
    login = httpx.get(console.url + "/?lang=en", follow_redirects=True)  # the switch survives the way in
    assert login.url.path == "/console/login" and 'lang="en"' in login.text and "Sign in" in login.text


def test_the_session_cookie_is_httponly_strict_and_expires(console: Console) -> None:
    with httpx.Client(base_url=console.url, follow_redirects=False, timeout=30) as c:
        form = c.get("/console/login")
        r = c.post("/console/login", data={"_csrf": csrf_of(form.text), "token": console.office_token})
        cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith("cl_session="))
        attrs = {a.strip().split("=")[0].lower(): a for a in cookie.split(";")}
        assert "httponly" in attrs and attrs["samesite"].split("=")[1].lower() == "strict"
        assert int(attrs["max-age"].split("=")[1]) <= 8 * 3600
        assert "secure" not in attrs  # plain HTTP here; over TLS the cookie is Secure


def test_a_wrong_token_is_refused_in_chinese(console: Console) -> None:
    with httpx.Client(base_url=console.url, follow_redirects=False, timeout=30) as c:
        form = c.get("/console/login")
        r = c.post("/console/login", data={"_csrf": csrf_of(form.text), "token": "clt_not-a-token"})
        assert r.status_code == 401 and "令牌无效或已被吊销" in r.text
        assert "cl_session" not in c.cookies


def test_a_form_post_without_its_csrf_token_is_refused(console: Console) -> None:
    vid = candidates(console.rt, 1)[0]["id"]
    with closing(signed_in(console, console.office_token)) as c:
        page = c.get(f"/console/compliance/{vid}")
        assert page.status_code == 200
        for sent in ({}, {"_csrf": "0" * 40}, {"_csrf": csrf_of(page.text) + "x"}):
            r = c.post(f"/console/compliance/{vid}/confirm", data={"version": "1", "key": "k", **sent})
            assert r.status_code == 403 and "安全校验" in r.text
        r = c.post("/console/logout", data={})
        assert r.status_code == 403
        assert c.get("/console/").status_code == 200  # still signed in: the logout without CSRF did nothing
    # the login form has its own token, so a third site cannot sign a browser in as someone else
    with httpx.Client(base_url=console.url, follow_redirects=False, timeout=30) as c:
        r = c.post("/console/login", data={"token": console.office_token})
        assert r.status_code == 403
    console.rt.projector.catch_up_all()
    assert console.rt.compliance_queries.violation(vid, EVERYTHING).status == "candidate"


def test_another_organizations_objects_are_not_reachable_by_url(console: Console, dept_token: str) -> None:
    rt = console.rt
    other_case = next(v for v in candidates(rt, 50) if v["subject"] != console.dept)
    grants, _ = rt.sharing_queries.grants(scope=EVERYTHING, limit=500)
    other_grant = next(g for g in grants if console.dept not in (g.holder, g.provider))
    entries, _ = rt.catalog_queries.list(_filter(status="drafted"), scope=EVERYTHING, now=rt.now(), limit=50)
    other_draft = next(e for e in entries if e.provider != console.dept)
    with closing(signed_in(console, dept_token)) as c:
        for path in [f"/console/compliance/{other_case['id']}", f"/console/timeline/grant/{other_grant.id}",
                     f"/console/catalog/{other_draft.id}", f"/console/timeline/catalog-entry/{other_draft.id}",
                     f"/console/timeline/organization/{other_case['subject']}"]:
            r = c.get(path)
            assert r.status_code == 404, path
            assert "未找到，或您无权查看" in r.text and other_case["summary"] not in r.text, path
        board = c.get("/console/compliance").text
        assert other_case["id"] not in board
        log = c.get("/console/access-log/export.jsonl")
        assert log.status_code == 200
        for line in log.text.splitlines():
            assert console.dept in line
        # the same as the API answers this caller
        api = httpx.get(console.url + f"/violations/{other_case['id']}",
                        headers={"Authorization": f"Bearer {dept_token}"})
        assert api.status_code == 404


def test_a_revoked_tokens_session_ends(console: Console, dept_token: str) -> None:
    with closing(signed_in(console, dept_token)) as c:
        assert c.get("/console/catalog").status_code == 200
        token_id = console.rt.tokens.id_of(dept_token)
        assert token_id and console.rt.revoke_token(token_id)
        r = c.get("/console/catalog")
        assert r.status_code == 303 and "why=ended" in r.headers["location"]
        login = c.get(r.headers["location"])
        assert "会话已结束" in login.text


def test_a_signed_out_cookie_cannot_be_replayed(console: Console) -> None:
    c = signed_in(console, console.office_token)
    cookie = c.cookies["cl_session"]
    page = c.get("/console/")
    r = c.post("/console/logout", data={"_csrf": csrf_of(page.text)})
    assert r.status_code == 303 and r.headers["location"] == "/console/login?why=out"
    replay = httpx.get(console.url + "/console/", cookies={"cl_session": cookie}, follow_redirects=False)
    assert replay.status_code == 303 and replay.headers["location"].startswith("/console/login")
    c.close()


def test_pages_carry_a_csp_without_inline_scripts(console: Console) -> None:
    with closing(signed_in(console, console.office_token)) as c:
        for path in PAGES:
            r = c.get(path)
            assert r.status_code == 200, path
            csp = r.headers["content-security-policy"]
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "style-src 'self'" in csp
            html = r.text
            assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path  # no inline script element
            assert not re.search(r"\son[a-z]+\s*=", html), path  # no event-handler attribute
            assert not re.search(r"\sstyle\s*=", html), path  # styles come from the static CSS only
            assert 'lang="zh-CN"' in html


def test_english_by_switch_and_cookie(console: Console) -> None:
    with closing(signed_in(console, console.office_token)) as c:
        r = c.get("/console/?lang=en")
        assert 'lang="en"' in r.text and "Overview" in r.text and "概览" not in r.text.split("<main")[1]
        again = c.get("/console/catalog")  # the cookie keeps the choice
        assert 'lang="en"' in again.text and "Catalog" in again.text
        refused = c.get("/console/grants/check", params={
            "holder": "nobody", "entry_id": "00000000-0000-0000-0000-000000000000", "fields": "X", "purpose": "p",
            "method": "interface"})
        assert "USE-1 第二十六条: Access is allowed only with an active grant" in refused.text
        back = c.get("/console/catalog?lang=zh-CN")
        assert "数据资源目录" in back.text


def _filter(**kw: str):  # type: ignore[no-untyped-def]
    from projections.catalog_queries import CatalogFilter

    return CatalogFilter(**kw)


def test_a_form_sent_twice_records_once(console: Console) -> None:
    """The form's idempotency key goes as Idempotency-Key: a double submit is the API's replay."""
    rt = console.rt
    vid = candidates(rt, 8)[-1]["id"]
    with closing(signed_in(console, console.office_token)) as c:
        html = c.get(f"/console/compliance/{vid}").text
        form = {"_csrf": csrf_of(html), "version": re.search(r'name="version" value="(\d+)"', html).group(1),
                "key": re.search(r'name="key" value="([^"]+-confirm)"', html).group(1), "comment": "一次"}
        first = c.post(f"/console/compliance/{vid}/confirm", data=form)
        again = c.post(f"/console/compliance/{vid}/confirm", data=form)
        assert first.status_code == again.status_code == 303
        assert "done=confirm" in again.headers["location"]
    confirmed = [e for e in rt.history.timeline(rt.principal(console.office_token), "violation", vid)
                 if e.type == "Confirmed"]
    assert len(confirmed) == 1
