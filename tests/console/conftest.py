"""A live server over the demo data on each store, with the Office's token and a department's."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from application.demo import load_demo
from application.runtime import Runtime
from infrastructure.config import Settings
from tests.api.conftest import LiveServer


@dataclass
class Console:
    live: LiveServer
    rt: Runtime
    office_token: str
    dept: str
    dept_token: str

    @property
    def url(self) -> str:
        return self.live.url


@pytest.fixture
def console(settings: Settings) -> Iterator[Console]:
    rt = Runtime(settings)  # the real clock: the demo's history ends now
    try:
        token = load_demo(rt)["admin_token"]
        rt.projector.catch_up_all()
        dept = rt.compliance_queries.violations(org=None, status="candidate", limit=1)[0][0]["subject"]
        dept_token = rt.issue_token(org=dept, person="console-dept-staff", roles=("system_manager",))
        with LiveServer(rt) as live:
            yield Console(live, rt, token, dept, dept_token)
    finally:
        rt.close()


def signed_in(console: Console, token: str) -> httpx.Client:
    """An httpx client holding a console session (it keeps the cookies, as a browser does)."""
    c = httpx.Client(base_url=console.url, follow_redirects=False, timeout=30)
    form = c.get("/console/login")
    r = c.post("/console/login", data={"_csrf": csrf_of(form.text), "token": token, "next": "/console/"})
    assert r.status_code == 303, r.text
    return c


def csrf_of(html: str) -> str:
    m = re.search(r'name="_csrf" value="([^"]+)"', html)
    assert m, "no CSRF field on the page"
    return m.group(1)


def candidates(rt: Runtime, n: int = 3, subject: str | None = None) -> list[dict[str, Any]]:
    rt.projector.catch_up_all()
    return rt.compliance_queries.violations(org=None, status="candidate", subject=subject, limit=n)[0]
