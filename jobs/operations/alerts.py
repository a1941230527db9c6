"""Alerts: an incident (one mail, one log line) when a queue passes a threshold."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import mail_admins
from django.utils import timezone

from jobs.operations.models import Incident
from jobs.operations.monitoring import queue_failure_rates, queue_latencies
from jobs.operations.queue_pause import paused_queues

logger = logging.getLogger("slidecast.operations")


def _oversight(key: str):
    return settings.OVERSIGHT[key]


def alerts_check() -> list[Incident]:
    """Open an incident (one mail, one log line) when a queue passes a threshold; close it
    when the queue is back to normal. Return the incidents opened now."""
    opened: list[Incident] = []
    limit = _oversight("ALERT_LATENCY_SECONDS")
    latencies = queue_latencies()
    rates = queue_failure_rates(
        window=timedelta(minutes=_oversight("ALERT_WINDOW_MINUTES")),
        min_finished=_oversight("ALERT_MIN_FINISHED"),
    )
    queues = set(settings.SLIDECAST_QUEUES) | set(latencies) | set(rates)
    paused = paused_queues()
    for queue in sorted(queues):
        latency = latencies.get(queue)
        late = latency is not None and latency > limit and queue not in paused
        detail = f"The oldest waiting job on queue {queue!r} has waited {latency or 0:.0f} s " \
                 f"(threshold {limit} s)."  # fmt: skip
        opened += _incident_update(Incident.Kind.LATENCY, queue, late, detail)
        rate = rates.get(queue)
        threshold = _oversight("ALERT_FAILURE_RATE")
        failing = rate is not None and rate > threshold
        detail = f"{(rate or 0):.0%} of the jobs finished on queue {queue!r} in the last " \
                 f"{_oversight('ALERT_WINDOW_MINUTES')} minutes failed " \
                 f"(threshold {threshold:.0%})."  # fmt: skip
        opened += _incident_update(Incident.Kind.FAILURE_RATE, queue, failing, detail)
    return opened


def _incident_update(kind: str, queue: str, active: bool, detail: str) -> list[Incident]:
    current = Incident.objects.filter(kind=kind, queue_name=queue, resolved_at__isnull=True)
    if not active:
        for incident in current:
            Incident.objects.filter(id=incident.id).update(resolved_at=timezone.now())
            logger.warning("incident resolved: %s", incident, extra={"incident_id": incident.id})
        return []
    if current.exists():
        return []
    incident = Incident.objects.create(kind=kind, queue_name=queue, detail=detail)
    logger.error("incident opened: %s: %s", incident, detail, extra={"incident_id": incident.id})
    mail_admins(f"Slidecast alert: {incident}", detail + "\n\nSee the dashboard: /admin/oversight/")
    return [incident]
