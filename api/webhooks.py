"""HTTP routes of webhooks: register an endpoint, see its deliveries, pause, resume and replay."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from api.contract import DeliveryPage, SubscriptionList
from api.deps import Envelope
from api.params import Limit, TokenPath
from api.params import Position as PositionQuery
from application.common import Principal
from application.webhooks import Subscription, WebhookService
from domain.limits import Position, ShortText, Url


class WebhookBody(msgspec.Struct, forbid_unknown_fields=True):
    """An endpoint and the event types it wants (none: every event the organization may see)."""

    url: Url
    types: Annotated[list[ShortText], msgspec.Meta(max_length=100)] = []
    after: Position | None = None
    """Deliver events after this ledger position; by default only events recorded from now on."""


class ResumeBody(msgspec.Struct, forbid_unknown_fields=True):
    after: Position | None = None
    """Replay: restart deliveries after this position instead of where they stopped."""


class WebhookController(Controller):
    path = "/webhooks"
    tags = ["events"]

    @post("/", sync_to_thread=True, status_code=201)
    def register(self, principal: NamedDependency[Principal], webhooks: NamedDependency[WebhookService],
                 envelope: NamedDependency[Envelope], data: JSONBody[WebhookBody]) -> Response[Subscription]:
        """Registers an endpoint for the caller's organization; the answer holds the signing secret, once."""
        key = envelope.command("webhook.register", data).idempotency_key
        earlier = webhooks.registered_under(principal, key) if key else None
        if earlier is not None:
            return Response(earlier, status_code=201, headers={"Location": f"/webhooks/{earlier.id}",
                                                               "Idempotent-Replayed": "true"})
        sub = webhooks.register(principal, url=data.url, types=data.types, after=data.after, idempotency_key=key)
        return Response(sub, status_code=201, headers={"Location": f"/webhooks/{sub.id}"})

    @get("/", sync_to_thread=True)
    def list_webhooks(self, principal: NamedDependency[Principal],
                      webhooks: NamedDependency[WebhookService]) -> Response[SubscriptionList]:
        return Response({"items": webhooks.subscriptions(principal)})

    @get("/{sid:str}", sync_to_thread=True)
    def get_webhook(self, principal: NamedDependency[Principal], webhooks: NamedDependency[WebhookService],
                    sid: TokenPath) -> Response[Subscription]:
        return Response(webhooks.get(principal, sid))

    @get("/{sid:str}/deliveries", sync_to_thread=True)
    def deliveries(self, principal: NamedDependency[Principal], webhooks: NamedDependency[WebhookService],
                   sid: TokenPath, after: PositionQuery = 0, limit: Limit = 100) -> Response[DeliveryPage]:
        """Every attempt, oldest first: position, event id, status code or error, duration."""
        items = webhooks.deliveries(principal, sid, after, limit)
        return Response({"items": items, "next": items[-1].seq if items else after})

    @post("/{sid:str}/pause", sync_to_thread=True, status_code=200)
    def pause(self, principal: NamedDependency[Principal], webhooks: NamedDependency[WebhookService],
              sid: TokenPath) -> Response[Subscription]:
        return Response(webhooks.pause(principal, sid))

    @post("/{sid:str}/resume", sync_to_thread=True, status_code=200)
    def resume(self, principal: NamedDependency[Principal], webhooks: NamedDependency[WebhookService], sid: TokenPath,
               data: JSONBody[ResumeBody | None] = None) -> Response[Subscription]:
        """Resumes a paused endpoint at once; `after` replays from a position."""
        body = data or ResumeBody()
        return Response(webhooks.resume(principal, sid, body.after))

    @delete("/{sid:str}", sync_to_thread=True, status_code=204)
    def remove(self, principal: NamedDependency[Principal], webhooks: NamedDependency[WebhookService],
               sid: TokenPath) -> None:
        webhooks.delete(principal, sid)
