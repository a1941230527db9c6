"""Signed webhooks: outbound job events (HMAC-SHA256) and verified inbound events.

Outbound events carry `Slidecast-Signature: t=<unix seconds>,v1=<hex>`, where the hex is
HMAC-SHA256 of "<t>.<raw body>" keyed with the user's webhook secret (see the README).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from jobs.models import WebhookSecret

SIGNATURE_HEADER = "Slidecast-Signature"


def _config(key: str):
    return settings.WEBHOOKS[key]


def webhook_secret_for(user) -> str:
    record, _ = WebhookSecret.objects.get_or_create(
        user=user, defaults={"secret": "whsec_" + secrets.token_urlsafe(32)}
    )
    return record.secret


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """Return the Slidecast-Signature header value for a body."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(secret: str, body: bytes, header: str, *, tolerance: int | None = None) -> bool:
    """Return whether the header signs the body with the secret, recently enough."""
    tolerance = _config("TOLERANCE_SECONDS") if tolerance is None else tolerance
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def verify_hubspot_v3(
    secret: str, *, method: str, uri: str, body: bytes, signature: str, timestamp_ms: str
) -> bool:
    """HubSpot's v3 request signature: base64 HMAC-SHA256 of method + URI + body + timestamp."""
    try:
        age = abs(time.time() * 1000 - int(timestamp_ms)) / 1000
    except ValueError:
        return False
    if age > _config("TOLERANCE_SECONDS"):
        return False
    message = f"{method}{uri}".encode() + body + timestamp_ms.encode()
    expected = base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest())
    return hmac.compare_digest(expected.decode(), signature)


def check_callback_url(url: str) -> None:
    """Refuse URLs that are not http(s) or that reach private, loopback or reserved addresses."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("The callback URL must be an http:// or https:// URL with a host.")
    if _config("ALLOW_PRIVATE_ADDRESSES"):
        return
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 443)}
    except (socket.gaierror, UnicodeError) as exc:
        raise ValidationError(f"The callback host {parts.hostname!r} cannot be resolved.") from exc
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if not ip.is_global or ip.is_multicast:
            raise ValidationError(
                f"The callback URL points at a private or loopback address ({ip}); "
                "Slidecast does not call those unless SLIDECAST_WEBHOOK_ALLOW_PRIVATE is set."
            )


def event_body(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str).encode()


class WebhookDeliveryFailed(Exception):
    """The receiver did not accept the event; delivery is tried again later."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect could lead to an address the URL check refused: treat it as a failure.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def deliver(delivery_id: int, *, final_attempt: bool) -> bool:
    """POST the event once and log the attempt; return True when the receiver accepted it."""
    from jobs.models import WebhookAttempt, WebhookDelivery

    delivery = WebhookDelivery.objects.select_related("user").get(id=delivery_id)
    if delivery.status == WebhookDelivery.Status.DELIVERED:
        return True
    body = event_body(delivery.payload)
    started = time.monotonic()
    status_code, error = None, ""
    try:
        check_callback_url(delivery.url)  # again: DNS may have changed since the job began
        request = urllib.request.Request(
            delivery.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "Slidecast-Webhooks/1",
                SIGNATURE_HEADER: sign(webhook_secret_for(delivery.user), body),
                "Slidecast-Event-Id": str(delivery.event_id),
                "Slidecast-Event-Type": delivery.event_type,
            },
        )
        opener = urllib.request.build_opener(_NoRedirects)
        with opener.open(request, timeout=_config("TIMEOUT_SECONDS")) as response:
            status_code = response.status
    except urllib.error.HTTPError as exc:
        status_code, error = exc.code, f"HTTP {exc.code} {exc.reason}"
    except ValidationError as exc:
        error = " ".join(exc.messages)
        final_attempt = True  # a refused address does not become acceptable by waiting
    except (urllib.error.URLError, OSError) as exc:
        error = str(getattr(exc, "reason", exc))
    WebhookAttempt.objects.create(
        delivery=delivery,
        status_code=status_code,
        duration_ms=int((time.monotonic() - started) * 1000),
        error=error[:2000],
    )
    if status_code is not None and 200 <= status_code < 300 and not error:
        WebhookDelivery.objects.filter(id=delivery.id).update(
            status=WebhookDelivery.Status.DELIVERED, delivered_at=timezone.now()
        )
        return True
    if final_attempt:
        WebhookDelivery.objects.filter(id=delivery.id).update(status=WebhookDelivery.Status.FAILED)
        return False
    raise WebhookDeliveryFailed(error or f"HTTP {status_code}")
