"""The Litestar application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from eventsourcing.persistence import IntegrityError
from litestar import Litestar
from litestar.datastructures import State
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin

from api import problems
from api.access_log import AccessLogController
from api.catalog import CatalogController
from api.compliance import ComplianceController, ViolationController
from api.console import console_handlers, template_config
from api.events import EventController
from api.ledger import LedgerController, public_key
from api.maintenance import (
    ArchiveController,
    BatchController,
    ObjectionController,
    TicketController,
)
from api.metrics import RequestMetrics, metrics, metrics_middleware
from api.organizations import OrganizationController
from api.sharing import GrantController, GrantStatusController, ShareRequestController
from api.state import state
from api.storable import refuse_unstorable
from api.system import HistoryController, health
from api.systems import SystemController
from api.webhooks import WebhookController
from application.common import ApplicationError
from application.runtime import Runtime
from domain.rules import InvalidTransition, OutOfRange, RuleViolation
from infrastructure.recorders import LedgerTampered, StoreBusy
from projections.queries import MalformedCursor
from projections.runner import ViewStalled

DESCRIPTION = (
    "Event-sourced governance ledger for the Shaanxi civil-affairs data regime "
    "(陕西省民政数据资源管理暂行办法). Every refusal is application/problem+json with the rule id and "
    "article. Writes take Idempotency-Key and If-Match; their responses carry X-Ledger-Position, which "
    "reads honour through X-Min-Position."
)


def create_app(runtime: Runtime | None = None, *, background: bool = True) -> Litestar:
    """Builds the app; the runtime (store, read models, services) is created here unless given."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        rt: Runtime = app.state.runtime
        rt.projector.catch_up_all()
        if background:
            rt.start_background()
        try:
            yield
        finally:
            rt.stop_background()
            if owns_runtime:
                rt.close()

    owns_runtime = runtime is None
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
        OutOfRange: problems.on_out_of_range,
        HTTPException: problems.on_http,
        Exception: problems.on_unexpected,
    }
    return Litestar(
        route_handlers=[health, metrics, OrganizationController, CatalogController, ShareRequestController, GrantController,
                        GrantStatusController, HistoryController, state, SystemController,
                        TicketController, ArchiveController, BatchController, ObjectionController,
                        EventController, WebhookController, AccessLogController, LedgerController, public_key,
                        ViolationController, ComplianceController, *console_handlers()],
        state=State({"runtime": rt, "metrics": RequestMetrics()}),
        middleware=[metrics_middleware],
        before_request=refuse_unstorable,
        lifespan=[lifespan],
        exception_handlers=handlers,
        openapi_config=OpenAPIConfig(
            title="civic-ledger", version="0.1.0", description=DESCRIPTION, path="/schema",
            render_plugins=[JsonRenderPlugin(), SwaggerRenderPlugin()],
        ),
        request_max_body_size=32 * 1024 * 1024,
        template_config=template_config,
    )
