"""Events that outside systems (a CRM such as HubSpot) post to Slidecast: verified, stored
once, queued; the ads domain (jobs.ads.crm) processes them and marks them here."""

from __future__ import annotations

import hashlib
import json
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from jobs import queueing
from jobs.errors import RequestRefused
from jobs.integrations.models import InboundEvent
from jobs.integrations.webhooks import SIGNATURE_HEADER, verify, verify_hubspot_v3

logger = logging.getLogger("slidecast.inbound")

KEPT_HEADERS = (
    "Content-Type", "User-Agent", SIGNATURE_HEADER, "X-HubSpot-Signature-v3",
    "X-HubSpot-Request-Timestamp",
)  # fmt: skip


def inbound_event_receive(*, source: str, request: HttpRequest) -> tuple[InboundEvent, bool]:
    """Verify and store an event; return it and whether it is new (replays are ignored)."""
    secret = settings.WEBHOOKS["INBOUND_SECRETS"].get(source)
    if not secret:
        raise RequestRefused(404, "unknown_source", f"No inbound webhook source named {source!r}.")
    body = request.body
    if not _signature_valid(source, secret, request, body):
        raise RequestRefused(
            401, "bad_signature",
            "The request's signature does not match its body, or its timestamp is too old.",
        )  # fmt: skip
    event_id = _event_id(source, request, body)
    headers = {name: request.headers[name] for name in KEPT_HEADERS if name in request.headers}
    try:
        with transaction.atomic():
            event = InboundEvent.objects.create(
                source=source, event_id=event_id, headers=headers,
                body=body.decode("utf-8", "replace"),
            )  # fmt: skip
            queueing.defer(queueing.PROCESS_INBOUND_EVENT, event_id=event.id)
    except IntegrityError:
        logger.info("replayed %s event %s ignored", source, event_id)
        return InboundEvent.objects.get(source=source, event_id=event_id), False
    return event, True


def _signature_valid(source: str, secret: str, request: HttpRequest, body: bytes) -> bool:
    if source == "hubspot" and "X-HubSpot-Signature-v3" in request.headers:
        return verify_hubspot_v3(
            secret,
            method=request.method,
            uri=request.build_absolute_uri(),
            body=body,
            signature=request.headers["X-HubSpot-Signature-v3"],
            timestamp_ms=request.headers.get("X-HubSpot-Request-Timestamp", ""),
        )
    return verify(secret, body, request.headers.get(SIGNATURE_HEADER, ""))


def _event_id(source: str, request: HttpRequest, body: bytes) -> str:
    # Only the signed body names the event: a header could be changed on a replayed request.
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    # HubSpot posts a list of events, each with an eventId.
    if (
        isinstance(payload, list)
        and payload
        and all(isinstance(item, dict) and "eventId" in item for item in payload)
    ):
        joined = ",".join(str(item["eventId"]) for item in payload)
        return (
            joined
            if len(joined) <= 255
            else "sha256:" + hashlib.sha256(joined.encode()).hexdigest()
        )
    if isinstance(payload, dict):
        for key in ("eventId", "event_id", "id"):
            if isinstance(payload.get(key), str | int):
                return str(payload[key])[:255]
    return "sha256:" + hashlib.sha256(body).hexdigest()


def inbound_event_complete(*, event_id: int) -> None:
    """Mark a stored event processed."""
    InboundEvent.objects.filter(id=event_id).update(
        status=InboundEvent.Status.PROCESSED, processed_at=timezone.now(), error=""
    )


def inbound_event_fail(*, event_id: int, error: str) -> None:
    """Mark a stored event failed for good, with the reason an operator reads in the admin."""
    InboundEvent.objects.filter(id=event_id).update(
        status=InboundEvent.Status.FAILED, processed_at=timezone.now(), error=error
    )
