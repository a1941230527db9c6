"""The webhooks endpoints: the secret that signs your events, and events from outside."""

from __future__ import annotations

from typing import Literal

from ninja import Router, Schema, Status

from jobs.api.errors import ERRORS
from jobs.integrations.inbound import inbound_event_receive
from jobs.integrations.webhooks import webhook_secret_for


class SecretOut(Schema):
    secret: str
    header: str = "Slidecast-Signature"
    scheme: str = "t=<unix seconds>,v1=<hex HMAC-SHA256 of '<t>.<raw body>'>"


class InboundOut(Schema):
    status: Literal["accepted", "duplicate"]
    event_id: str


webhooks_router = Router(tags=["webhooks"])


@webhooks_router.get("/secret", response={200: SecretOut, **ERRORS})
def webhook_secret(request):
    """The secret that signs the webhooks of your jobs."""
    return {"secret": webhook_secret_for(request.auth)}


@webhooks_router.post(
    "/{source}", auth=None, response={200: InboundOut, 202: InboundOut, **ERRORS},
    summary="Receive an event from an outside system (signed, no token)",
)  # fmt: skip
def receive_event(request, source: str):
    """Events from outside systems, verified with the source's secret.

    HubSpot: its v3 signature headers. Other sources: `Slidecast-Signature` as for outbound
    webhooks. The event is stored and answered 202 at once; a replay of an event id is
    answered 200 and ignored.
    """
    event, new = inbound_event_receive(source=source, request=request)
    if not new:
        return Status(200, {"status": "duplicate", "event_id": event.event_id})
    return Status(202, {"status": "accepted", "event_id": event.event_id})
