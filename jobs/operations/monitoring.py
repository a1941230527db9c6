"""Reads for the operators' dashboard, the health endpoints and the system API."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from croniter import croniter
from django.conf import settings
from django.db import connection
from django.utils import timezone

from jobs.operations.models import DeadLetter, Incident, QueuePause, ResourceSample
from jobs.queueing import periodic_tasks

QUEUE_STATUSES = ("todo", "doing", "failed", "succeeded", "cancelled", "aborted")
# procrastinate's workers beat every 10 s; three missed beats mark a worker as late.
LATE_HEARTBEAT_SECONDS = 30
SERIES_MINUTES = 60


@dataclass
class QueueOverview:
    name: str
    counts: dict[str, int]
    latency_seconds: float | None
    succeeded_5m: int = 0
    failed_5m: int = 0
    succeeded_1h: int = 0
    failed_1h: int = 0
    paused: bool = False
    held: int = 0
    # A live worker takes jobs from this queue; False with jobs waiting needs an operator.
    served: bool = True

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "counts": self.counts,
            "latency_seconds": self.latency_seconds,
            "throughput": {
                "last_5_minutes": {"succeeded": self.succeeded_5m, "failed": self.failed_5m},
                "last_hour": {"succeeded": self.succeeded_1h, "failed": self.failed_1h},
            },
            "paused": self.paused,
            "held_jobs": self.held,
            "served_by_a_worker": self.served,
        }


@dataclass
class WorkerOverview:
    id: int
    last_heartbeat: datetime
    hostname: str | None
    pid: int | None
    queues: list[str] | None
    concurrency: int | None
    started_at: datetime | None
    running: list[dict] = field(default_factory=list)
    gpu_names: str = ""

    @property
    def heartbeat_age(self) -> float:
        return (timezone.now() - self.last_heartbeat).total_seconds()

    @property
    def late(self) -> bool:
        return self.heartbeat_age > LATE_HEARTBEAT_SECONDS

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "hostname": self.hostname,
            "pid": self.pid,
            "queues": self.queues,
            "concurrency": self.concurrency,
            "started_at": self.started_at,
            "last_heartbeat": self.last_heartbeat,
            "heartbeat_age_seconds": round(self.heartbeat_age, 1),
            "late": self.late,
            "running": self.running,
            "gpus": self.gpu_names or None,
        }


def _rows(query: str, params: list | dict | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


def queue_latencies() -> dict[str, float]:
    """Return, per queue, seconds since the oldest due job started waiting."""
    rows = _rows(
        """
        SELECT jobs.queue_name,
               EXTRACT(EPOCH FROM now() - MIN(GREATEST(waiting.since,
                                                       COALESCE(jobs.scheduled_at, waiting.since))))
          FROM procrastinate_jobs AS jobs
          JOIN LATERAL (
                SELECT MAX(events.at) AS since
                  FROM procrastinate_events AS events
                 WHERE events.job_id = jobs.id
                   AND events.type IN ('deferred', 'deferred_for_retry', 'retried')
               ) AS waiting ON waiting.since IS NOT NULL
         WHERE jobs.status = 'todo'
           AND (jobs.scheduled_at IS NULL OR jobs.scheduled_at <= now())
         GROUP BY jobs.queue_name
        """
    )
    return {queue: float(seconds) for queue, seconds in rows}


def queue_failure_rates(*, window: timedelta, min_finished: int) -> dict[str, float]:
    """Return failed / finished per queue over the window, for queues with enough jobs."""
    rows = _rows(
        """
        SELECT jobs.queue_name,
               COUNT(*) FILTER (WHERE events.type = 'failed'),
               COUNT(*)
          FROM procrastinate_events AS events
          JOIN procrastinate_jobs AS jobs ON jobs.id = events.job_id
         WHERE events.type IN ('succeeded', 'failed') AND events.at > now() - %s
         GROUP BY jobs.queue_name
        """,
        [window],
    )
    return {queue: failed / total for queue, failed, total in rows if total >= min_finished}


def queue_overview() -> list[QueueOverview]:
    """Return every known queue (configured, paused or with jobs) with its figures."""
    counts: dict[str, dict[str, int]] = {}
    for queue, status, count in _rows(
        "SELECT queue_name, status::text, COUNT(*) FROM procrastinate_jobs GROUP BY 1, 2"
    ):
        counts.setdefault(queue, dict.fromkeys(QUEUE_STATUSES, 0))[status] = count
    paused = set(QueuePause.objects.values_list("queue_name", flat=True))
    names = sorted(set(settings.SLIDECAST_QUEUES) | set(counts) | paused)
    latencies = queue_latencies()
    overview = {
        name: QueueOverview(
            name=name,
            counts=counts.get(name, dict.fromkeys(QUEUE_STATUSES, 0)),
            latency_seconds=latencies.get(name),
            paused=name in paused,
        )
        for name in names
    }
    for queue, kind, last_5m, last_1h in _rows(
        """
        SELECT jobs.queue_name, events.type::text,
               COUNT(*) FILTER (WHERE events.at > now() - interval '5 minutes'),
               COUNT(*)
          FROM procrastinate_events AS events
          JOIN procrastinate_jobs AS jobs ON jobs.id = events.job_id
         WHERE events.type IN ('succeeded', 'failed') AND events.at > now() - interval '1 hour'
         GROUP BY 1, 2
        """
    ):
        if queue in overview:
            setattr(overview[queue], f"{kind}_5m", last_5m)
            setattr(overview[queue], f"{kind}_1h", last_1h)
    for queue, held in _rows(
        "SELECT queue_name, COUNT(*) FROM procrastinate_jobs "
        "WHERE status = 'todo' AND scheduled_at = 'infinity' GROUP BY 1"
    ):
        if queue in overview:
            overview[queue].held = held
    served = fresh_queues()
    for queue in overview.values():
        queue.served = "*" in served or queue.name in served
    return list(overview.values())


def unserved_queue_notice(queue: str | None) -> str:
    """Say that a job waits on a queue no live worker takes jobs from; "" when one does."""
    if not queue:
        return ""
    served = fresh_queues()
    if "*" in served or queue in served:
        return ""
    return (
        f"Waiting for a worker on the {queue} queue: none is running now, so this job waits "
        "until one starts. The operators see it on their dashboard."
    )


def minute_series(minutes: int = SERIES_MINUTES) -> list[tuple[datetime, int, int]]:
    """Return (minute, succeeded, failed) for each of the last `minutes` minutes, oldest first."""
    now = timezone.now().replace(second=0, microsecond=0)
    buckets = {now - timedelta(minutes=offset): [0, 0] for offset in range(minutes)}
    for minute, kind, count in _rows(
        """
        SELECT date_trunc('minute', events.at), events.type::text, COUNT(*)
          FROM procrastinate_events AS events
         WHERE events.type IN ('succeeded', 'failed') AND events.at >= %s
         GROUP BY 1, 2
        """,
        [now - timedelta(minutes=minutes - 1)],
    ):
        if minute in buckets:
            buckets[minute][0 if kind == "succeeded" else 1] += count
    return [(minute, *buckets[minute]) for minute in sorted(buckets)]


def worker_overview() -> list[WorkerOverview]:
    rows = _rows(
        """
        SELECT workers.id, workers.last_heartbeat, hosts.hostname, hosts.pid, hosts.queues,
               hosts.concurrency, hosts.started_at, COALESCE(hosts.gpu_names, ''),
               COALESCE((SELECT json_agg(json_build_object(
                                'id', jobs.id, 'task', jobs.task_name, 'queue', jobs.queue_name,
                                'args', jobs.args) ORDER BY jobs.id)
                           FROM procrastinate_jobs AS jobs
                          WHERE jobs.worker_id = workers.id AND jobs.status = 'doing'),
                        '[]'::json)
          FROM procrastinate_workers AS workers
          LEFT JOIN jobs_workerhost AS hosts ON hosts.worker_id = workers.id
         ORDER BY hosts.hostname NULLS LAST, workers.id
        """
    )
    result = []
    for row in rows:
        queues, running = row[4], row[8]
        # psycopg decodes json columns itself; some drivers hand over the text.
        queues = json.loads(queues) if isinstance(queues, str) else queues
        running = json.loads(running) if isinstance(running, str) else running
        result.append(WorkerOverview(*row[:4], queues, row[5], row[6], running, gpu_names=row[7]))
    return result


def fresh_queues() -> set[str]:
    """Return the queues served by at least one worker with a fresh heartbeat ("*" = all)."""
    served: set[str] = set()
    for worker in worker_overview():
        if worker.late or worker.queues is None:
            continue
        served |= set(worker.queues) if worker.queues else {"*"}
    return served


@dataclass
class PeriodicOverview:
    name: str
    cron: str
    last_run: datetime | None
    next_run: datetime

    @property
    def short_name(self) -> str:
        return self.name.rsplit(".", 1)[-1].replace("_", " ")


def periodic_overview() -> list[PeriodicOverview]:

    last_runs = dict(
        _rows(
            "SELECT task_name, MAX(defer_timestamp) FROM procrastinate_periodic_defers GROUP BY 1"
        )
    )
    now = time.time()
    tasks = []
    for periodic in periodic_tasks():
        last = last_runs.get(periodic.task.name)
        tasks.append(
            PeriodicOverview(
                name=periodic.task.name,
                cron=periodic.cron,
                last_run=datetime.fromtimestamp(last, tz=UTC) if last else None,
                next_run=datetime.fromtimestamp(
                    croniter(periodic.cron, now).get_next(float), tz=UTC
                ),
            )
        )
    return sorted(tasks, key=lambda task: task.name)


def latest_resource_samples() -> list[ResourceSample]:
    """Return the newest sample of each host seen in the last ten minutes."""
    recent = ResourceSample.objects.filter(taken_at__gte=timezone.now() - timedelta(minutes=10))
    return list(recent.order_by("hostname", "-taken_at").distinct("hostname"))


def open_incidents():
    return Incident.objects.filter(resolved_at__isnull=True)


def dead_letters_since(hours: int = 24) -> int:
    return DeadLetter.objects.filter(failed_at__gte=timezone.now() - timedelta(hours=hours)).count()
