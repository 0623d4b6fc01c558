"""The web console under /console/: server-rendered pages over the API's own answers (decision 0011)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, get
from litestar.exceptions import HTTPException
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

from api.console import actions, pages
from api.console.inproc import Refused
from api.console.web import (
    HERE,
    PREFIX,
    SignInNeeded,
    on_http,
    on_refused,
    on_sign_in,
    template_config,
)

__all__ = ["console_handlers", "template_config"]


@get("/", include_in_schema=False)
async def root(request: Request[Any, Any, Any]) -> Redirect:
    query = request.url.query
    return Redirect(path=f"{PREFIX}/" + (f"?{query}" if query else ""), status_code=302)


def console_handlers() -> list[Any]:
    """The console's routes, its static files (one CSS, one JS) and the `/` redirect."""
    router = Router(
        path=PREFIX,
        route_handlers=[pages.overview, pages.catalog, pages.entry, pages.timeline_form, pages.timeline, pages.state,
                        pages.grant_check, pages.access_log, pages.export_csv, pages.export_jsonl,
                        actions.login_form, actions.login, actions.logout, actions.board, actions.case, actions.act,
                        actions.integrity, actions.sign_checkpoint, actions.start_verify, actions.verify_page,
                        actions.verify_progress, actions.bundle, actions.feed, actions.feed_stream],
        exception_handlers={SignInNeeded: on_sign_in, Refused: on_refused, HTTPException: on_http},
        include_in_schema=False,
    )
    static = create_static_files_router(path=f"{PREFIX}/static", directories=[HERE / "static"], name="console-static",
                                        include_in_schema=False)
    return [router, static, root]
