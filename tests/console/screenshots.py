"""Regenerates the console's screenshots in docs/console/: `python -m tests.console.screenshots`.

Starts a demo server of its own (a temporary SQLite store with the demo data), signs in with the
token the demo prints and photographs the main pages in Chinese.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from api.cli import load_demo
from bootstrap import Runtime
from infrastructure.config import Settings
from projections.scope import EVERYTHING
from tests.api.conftest import LiveServer
from tests.console.browser import browser, sign_in

OUT = Path(__file__).resolve().parents[2] / "docs" / "console"


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        rt = Runtime(Settings(database_url=f"sqlite:///{tmp}/ledger.sqlite3"))
        token = load_demo(rt)["admin_token"]
        rt.integrity.create_checkpoint()
        entry = rt.catalog_queries.list(_filter(status="revising"), scope=EVERYTHING, now=rt.now(), limit=1)[0][0]
        grant = rt.sharing_queries.grants(scope=EVERYTHING, status="active", limit=1)[0][0]
        case = rt.compliance_queries.violations(scope=EVERYTHING, status="candidate", limit=1)[0][0]
        with LiveServer(rt) as live, browser(lang="zh-CN") as b:
            page = b.new_page(viewport={"width": 1366, "height": 900}, device_scale_factor=1, locale="zh-CN")
            page.goto(live.url + "/")
            page.screenshot(path=str(OUT / "login.png"), full_page=False)
            sign_in(page, live.url, token)
            shots = {
                "overview": "/console/",
                "catalog": "/console/catalog?q=%E4%BD%8E%E4%BF%9D",
                "entry": f"/console/catalog/{entry.id}",
                "timeline": f"/console/timeline/catalog-entry/{entry.id}",
                "state": "/console/state?at=" + rt.now().astimezone(_bj()).strftime("%Y-%m-%dT%H:%M:%S") + "&show=grants",
                "grant": (f"/console/grants/check?holder={grant.holder}&entry_id={grant.entry_id}"
                          f"&fields={','.join(grant.fields)}&purpose={grant.purpose}&method={grant.method}"),
                "access-log": "/console/access-log",
                "compliance": "/console/compliance",
                "case": f"/console/compliance/{case.id}",
                "integrity": "/console/integrity",
                "feed": "/console/feed",
            }
            for name, path in shots.items():
                page.goto(live.url + path)
                page.screenshot(path=str(OUT / f"{name}.png"), full_page=False)
                print(OUT / f"{name}.png")
        rt.close()
    return 0


def _filter(**kw: str):  # type: ignore[no-untyped-def]
    from projections.catalog_queries import CatalogFilter

    return CatalogFilter(**kw)


def _bj():  # type: ignore[no-untyped-def]
    from api.console.web import BEIJING

    return BEIJING


if __name__ == "__main__":
    sys.exit(main())
