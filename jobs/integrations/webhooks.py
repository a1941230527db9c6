"""Signed webhooks: outbound job events (HMAC-SHA256) and verified inbound events.

Outbound events carry `Slidecast-Signature: t=<unix seconds>,v1=<hex>`, where the hex is
HMAC-SHA256 of "<t>.<raw body>" keyed with the user's webhook secret (see the README).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import ipaddress
import json
import secrets
import socket
import ssl
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from jobs import queueing
from jobs.integrations.models import WebhookAttempt, WebhookDelivery, WebhookSecret

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
        if len(parts["t"]) > 15:
            return False
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected.encode(), parts.get("v1", "").encode("utf-8", "replace"))


def verify_hubspot_v3(
    secret: str, *, method: str, uri: str, body: bytes, signature: str, timestamp_ms: str
) -> bool:
    """HubSpot's v3 request signature: base64 HMAC-SHA256 of method + URI + body + timestamp."""
    if len(timestamp_ms) > 15:
        return False
    try:
        age = abs(time.time() * 1000 - int(timestamp_ms)) / 1000
    except ValueError:
        return False
    if age > _config("TOLERANCE_SECONDS"):
        return False
    message = f"{method}{uri}".encode() + body + timestamp_ms.encode()
    expected = base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest())
    return hmac.compare_digest(expected, signature.encode("utf-8", "replace"))


# Global-looking IPv6 ranges that wrap IPv4 addresses, private ones included.
_WRAPPING_NETWORKS = [ipaddress.ip_network("2002::/16"), ipaddress.ip_network("64:ff9b::/96")]


def check_callback_url(url: str) -> list[str]:
    """Return the addresses the URL may be called on; refuse private or loopback ones."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise ValidationError(f"The callback URL is not a valid URL: {exc}.") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("The callback URL must be an http:// or https:// URL with a host.")
    try:
        addresses = sorted({info[4][0] for info in socket.getaddrinfo(parts.hostname, port)})
    except (socket.gaierror, UnicodeError, ValueError) as exc:
        raise ValidationError(f"The callback host {parts.hostname!r} cannot be resolved.") from exc
    if _config("ALLOW_PRIVATE_ADDRESSES"):
        return addresses
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        wrapped = any(ip in network for network in _WRAPPING_NETWORKS if ip.version == 6)
        if not ip.is_global or ip.is_multicast or wrapped:
            raise ValidationError(
                f"The callback URL points at a private or loopback address ({ip}); "
                "Slidecast does not call those unless SLIDECAST_WEBHOOK_ALLOW_PRIVATE is set."
            )
    return addresses


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to an address vetted beforehand, so DNS cannot change between check and call."""

    def __init__(self, host: str, address: str, **kwargs) -> None:
        super().__init__(host, **kwargs)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, address: str, **kwargs) -> None:
        super().__init__(host, context=ssl.create_default_context(), **kwargs)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        # The certificate is checked against the URL's host name, not the address.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST to the URL on an address that passed the check; return the status code."""
    address = check_callback_url(url)[0]
    parts = urlsplit(url)
    connection_class = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(
        parts.hostname, address, port=parts.port, timeout=_config("TIMEOUT_SECONDS")
    )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", path, body=body, headers=headers)
        # Redirects are not followed: 3xx counts as a failure like any other non-2xx.
        return connection.getresponse().status
    finally:
        connection.close()


def event_body(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str).encode()


class WebhookDeliveryFailed(Exception):
    """The receiver did not accept the event; delivery is tried again later."""


def deliver(delivery_id: int, *, final_attempt: bool) -> bool:
    """POST the event once and log the attempt; return True when the receiver accepted it."""
    delivery = WebhookDelivery.objects.select_related("user").get(id=delivery_id)
    if delivery.status == WebhookDelivery.Status.DELIVERED:
        return True
    body = event_body(delivery.payload)
    started = time.monotonic()
    status_code, error = None, ""
    try:
        status_code = _post(
            delivery.url,
            body,
            {
                "Content-Type": "application/json",
                "User-Agent": "Slidecast-Webhooks/1",
                SIGNATURE_HEADER: sign(webhook_secret_for(delivery.user), body),
                "Slidecast-Event-Id": str(delivery.event_id),
                "Slidecast-Event-Type": delivery.event_type,
            },
        )
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
    except ValidationError as exc:
        error = " ".join(exc.messages)
        final_attempt = True  # a refused address does not become acceptable by waiting
    except (OSError, http.client.HTTPException) as exc:
        error = str(exc) or type(exc).__name__
    WebhookAttempt.objects.create(
        delivery=delivery,
        status_code=status_code,
        duration_ms=int((time.monotonic() - started) * 1000),
        error=error[:2000],
    )
    if not error and status_code is not None:
        WebhookDelivery.objects.filter(id=delivery.id).update(
            status=WebhookDelivery.Status.DELIVERED, delivered_at=timezone.now()
        )
        return True
    if final_attempt:
        WebhookDelivery.objects.filter(id=delivery.id).update(status=WebhookDelivery.Status.FAILED)
        return False
    raise WebhookDeliveryFailed(error or f"HTTP {status_code}")


def webhook_event_enqueue(*, user, job, url: str, event_type: str, data: dict) -> WebhookDelivery:
    """Store a signed event for `url` and queue its delivery in the caller's transaction."""
    delivery = WebhookDelivery(job=job, user=user, event_type=event_type, url=url)
    event = {
        "id": str(delivery.event_id),
        "type": event_type,
        "created_at": timezone.now().isoformat(),
        "data": data,
    }
    delivery.payload = json.loads(json.dumps(event, cls=DjangoJSONEncoder))
    delivery.save()
    queueing.defer(queueing.DELIVER_WEBHOOK, delivery_id=delivery.id)
    return delivery


def webhook_redeliver(*, delivery: WebhookDelivery) -> None:
    """Send a delivery again, whatever became of it before."""
    WebhookDelivery.objects.filter(id=delivery.id).update(
        status=WebhookDelivery.Status.PENDING, delivered_at=None
    )
    queueing.defer(queueing.DELIVER_WEBHOOK, delivery_id=delivery.id)
