"""A live server over the demo data on each store, with the Office's token and a department's.

The demo is loaded once per test module and store (`backend` is module-scoped here): the tests
of a module share its server, so each asks for fresh tokens and picks its own cases.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec
import pytest

from api.cli import load_demo
from bootstrap import Runtime
from infrastructure.config import Settings
from projections.scope import EVERYTHING
from tests.api.conftest import LiveServer
from tests.conftest import database_url


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


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def console(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    rt = Runtime(Settings(database_url=database_url(backend, tmp_path_factory.mktemp("console"))))
    try:  # the real clock: the demo's history ends now
        token = load_demo(rt)["admin_token"]
        rt.projector.catch_up_all()
        dept = rt.compliance_queries.violations(scope=EVERYTHING, status="candidate", limit=1)[0][0].subject
        dept_token = rt.issue_token(org=dept, person="console-dept-staff", roles=("system_manager",))
        with LiveServer(rt) as live:
            yield Console(live, rt, token, dept, dept_token)
    finally:
        rt.close()


@pytest.fixture
def dept_token(console: Console) -> str:
    """A fresh token of the department's staff (a test may revoke it)."""
    return console.rt.issue_token(org=console.dept, person="console-dept-staff", roles=("system_manager",))


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
    """Candidate cases as a client reads them (plain JSON objects)."""
    rt.projector.catch_up_all()
    rows, _ = rt.compliance_queries.violations(scope=EVERYTHING, status="candidate", subject=subject, limit=n)
    return msgspec.to_builtins(rows)
