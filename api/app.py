"""The Litestar application factory."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from eventsourcing.persistence import IntegrityError
from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin

from api import problems
from api.access_log import AccessLogController
from api.catalog import CatalogController
from api.compliance import ComplianceController, ViolationController
from api.console import console_handlers, template_config
from api.deps import app_dependencies
from api.events import EventController
from api.ledger import LedgerController, public_key
from api.maintenance import (
    ArchiveController,
    BatchController,
    ObjectionController,
    TicketController,
)
from api.metrics import RequestMetrics, metrics, metrics_middleware
from api.openapi import declare_contract, tighten
from api.organizations import OrganizationController
from api.sharing import (
    GrantController,
    GrantReviewController,
    GrantStatusController,
    ShareRequestController,
)
from api.state import state, state_changes
from api.storable import edge, prepare
from api.system import HistoryController, health
from api.systems import SystemController
from api.webhooks import WebhookController
from application.common import ApplicationError
from bootstrap import Runtime
from domain.rules import InvalidTransition, OutOfRange, RuleViolation
from infrastructure.config import Settings
from infrastructure.recorders import LedgerTampered, StoreBusy
from projections.paging import MalformedCursor
from projections.runner import ViewsBehind, ViewStalled

DESCRIPTION = (
    "Event-sourced governance ledger for the Shaanxi civil-affairs data regime "
    "(陕西省民政数据资源管理暂行办法). Every refusal is application/problem+json with the rule id and "
    "article. Writes take Idempotency-Key and If-Match; their responses carry X-Ledger-Position, which "
    "reads honour through X-Min-Position."
)


def create_app(runtime: Runtime | None = None, *, background: bool = True, sweep_seconds: float = 60.0,
               owns_runtime: bool = False) -> Litestar:
    """Builds the app; the runtime (store, read models, services) is created here unless given.

    With `background` the process takes part in the election of the background worker (on SQLite it is
    the only process and runs the duties at once); without it (PostgreSQL only) it serves HTTP alone.
    """

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        rt: Runtime = app.state.runtime
        if background:
            rt.start_background(sweep_seconds)
            rt.election.settled(2.0)
        elif rt.ledger.backend == "postgres":
            rt.serve_only()
        if rt.projector.self_serve():
            rt.projector.catch_up_all()
        try:
            yield
        finally:
            rt.stop_background()
            if owns_runtime:
                rt.close()

    owns_runtime = owns_runtime or runtime is None
    rt = runtime or Runtime()
    handlers: dict[Any, Any] = {
        RuleViolation: problems.on_rule,
        InvalidTransition: problems.on_transition,
        ApplicationError: problems.on_application,
        IntegrityError: problems.on_integrity,
        LedgerTampered: problems.on_tampered,
        ViewStalled: problems.on_stalled,
        StoreBusy: problems.on_busy,
        ValidationException: problems.on_validation,
        MalformedCursor: problems.on_cursor,
        ViewsBehind: problems.on_views_behind,
        OutOfRange: problems.on_out_of_range,
        HTTPException: problems.on_http,
        Exception: problems.on_unexpected,
    }
    app = Litestar(
        route_handlers=[health, metrics, OrganizationController, CatalogController, ShareRequestController, GrantController,
                        GrantStatusController, GrantReviewController, HistoryController, state, state_changes, SystemController,
                        TicketController, ArchiveController, BatchController, ObjectionController,
                        EventController, WebhookController, LedgerController, public_key,
                        ViolationController, ComplianceController, *console_handlers(),
                        # the platform's access-log batches (up to 10,000 records) get their own, larger limit
                        Router(path="/", route_handlers=[AccessLogController],
                               request_max_body_size=rt.settings.max_batch_bytes)],
        state=State({"runtime": rt, "metrics": RequestMetrics()}),
        dependencies=app_dependencies(rt),
        middleware=[metrics_middleware],
        before_request=edge,
        lifespan=[lifespan],
        exception_handlers=handlers,
        openapi_config=OpenAPIConfig(
            title="civic-ledger", version="0.1.0", description=DESCRIPTION, path="/schema",
            render_plugins=[JsonRenderPlugin(), SwaggerRenderPlugin()],
        ),
        request_max_body_size=rt.settings.max_command_bytes,
        template_config=template_config,
    )
    tighten(app)
    declare_contract(app)
    prepare(app)
    return app


def serve_app() -> Litestar:
    """The app factory of each API worker process (`civic-ledger serve --workers N`): the role and
    whether it takes part in the election come from the environment the `serve` command sets."""
    settings = Settings.from_env()
    background = os.environ.get("CIVIC_LEDGER_SERVE_BACKGROUND", "1") == "1"
    return create_app(Runtime(settings, role="serve"), background=background, sweep_seconds=settings.sweep_seconds,
                      owns_runtime=True)
