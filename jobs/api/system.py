"""Staff endpoints that show the queues and workers as the oversight dashboard does."""

from __future__ import annotations

from ninja import Router

from jobs.api.auth import StaffTokenAuth
from jobs.api.errors import ERRORS, ErrorOut
from jobs.operations import monitoring

system_router = Router(tags=["system (staff only)"], auth=StaffTokenAuth())


@system_router.get("/queues", response={200: dict, 403: ErrorOut, **ERRORS})
def system_queues(request):
    """Per queue: jobs per status, latency, throughput, paused state (as the dashboard)."""
    return {"queues": [queue.as_dict() for queue in monitoring.queue_overview()]}


@system_router.get("/workers", response={200: dict, 403: ErrorOut, **ERRORS})
def system_workers(request):
    """Every worker: host, queues, start, heartbeat, running jobs (as the dashboard)."""
    return {"workers": [worker.as_dict() for worker in monitoring.worker_overview()]}
