"""Health endpoints for load balancers, orchestrators and monitoring systems."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from jobs.operations import monitoring


@never_cache
@require_GET
def live(request: HttpRequest) -> JsonResponse:
    """The process answers."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    """Database reachable, migrations applied, a fresh worker on every configured queue."""
    checks: dict[str, dict] = {}
    try:
        connection = connections[DEFAULT_DB_ALIAS]
        connection.ensure_connection()
        checks["database"] = {"ok": True}
    except Exception:
        checks["database"] = {"ok": False, "detail": "the database cannot be reached"}
        return JsonResponse({"status": "unavailable", "checks": checks}, status=503)
    pending = MigrationExecutor(connection).migration_plan(
        MigrationExecutor(connection).loader.graph.leaf_nodes()
    )
    checks["migrations"] = (
        {"ok": True} if not pending else {"ok": False, "detail": f"{len(pending)} not applied"}
    )
    served = monitoring.fresh_queues()
    missing = [q for q in settings.SLIDECAST_QUEUES if q not in served and "*" not in served]
    checks["workers"] = (
        {"ok": True}
        if not missing
        else {"ok": False, "detail": f"no worker with a fresh heartbeat for: {', '.join(missing)}"}
    )
    healthy = all(check["ok"] for check in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status=200 if healthy else 503,
    )


def _monitoring_allowed(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        return True
    token = settings.OVERSIGHT["MONITORING_TOKEN"]
    header = request.headers.get("Authorization", "")
    if not token or not header.startswith("Bearer "):
        return False
    offered = header.removeprefix("Bearer ").strip().encode("utf-8", "replace")
    return hmac.compare_digest(offered, token.encode())


def _forbidden() -> JsonResponse:
    response = JsonResponse(
        {"error": "Log in as staff, or send Authorization: Bearer <SLIDECAST_MONITORING_TOKEN>."},
        status=401,
    )
    response["WWW-Authenticate"] = "Bearer"
    return response


@never_cache
@require_GET
def queues(request: HttpRequest) -> JsonResponse:
    if not _monitoring_allowed(request):
        return _forbidden()
    return JsonResponse({"queues": [queue.as_dict() for queue in monitoring.queue_overview()]})


@never_cache
@require_GET
def workers(request: HttpRequest) -> JsonResponse:
    if not _monitoring_allowed(request):
        return _forbidden()
    return JsonResponse({"workers": [worker.as_dict() for worker in monitoring.worker_overview()]})
