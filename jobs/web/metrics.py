"""/metrics for Prometheus: open to a bearer token, or to a request from an allowed network."""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client.exposition import choose_encoder

from jobs.operations.metrics import metrics_registry


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    refusal = _refusal(request)
    if refusal is not None:
        return refusal
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encoder(metrics_registry()), content_type=content_type)


def _refusal(request: HttpRequest) -> HttpResponse | None:
    """Return the answer to a caller that may not read the metrics; None for one who may.

    A presented token must be the right one, wherever the request comes from. The address
    is REMOTE_ADDR: the project trusts no proxy's X-Forwarded-For, so behind a proxy use
    the token (an allowed proxy address would let everyone through it).
    """
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        token = settings.METRICS["TOKEN"]
        offered = header.removeprefix("Bearer ").strip().encode("utf-8", "replace")
        if token and hmac.compare_digest(offered, token.encode()):
            return None
        return HttpResponse("Forbidden.\n", status=403, content_type="text/plain")
    if _from_allowed_network(request.META.get("REMOTE_ADDR", "")):
        return None
    response = HttpResponse(
        "Send Authorization: Bearer <SLIDECAST_METRICS_TOKEN>, or scrape from a network in "
        "SLIDECAST_METRICS_ALLOWED_NETWORKS.\n",
        status=401,
        content_type="text/plain",
    )
    response["WWW-Authenticate"] = "Bearer"
    return response


def _from_allowed_network(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    # A dual-stack listener shows IPv4 clients as ::ffff:a.b.c.d.
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip in network for network in settings.METRICS["ALLOWED_NETWORKS"])
