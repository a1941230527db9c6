"""Prometheus metrics, read from PostgreSQL when Prometheus scrapes (docs/metrics.md).

Tasks run in worker processes and /metrics answers in web processes, so nothing here keeps
counters in memory: every figure is read from the database at scrape time. Every worker's
work counts, every web replica answers alike, and no multiprocess mode is needed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Count, Q, Sum
from django.utils import timezone
from prometheus_client.metrics_core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import floatToGoString

from jobs.media.models import MediaArtifact, MediaJob
from jobs.narration.models import CachedArtifact, Job, Slide
from jobs.operations import monitoring
from jobs.operations.queue_pause import paused_queues
from jobs.queueing import FAMILIES, TASK_FAMILIES

# Seconds: a preview takes under one, a long deck's rendering or a transcode many minutes.
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
# procrastinate's event that ends a run -> the outcome label.
OUTCOMES = {
    "succeeded": "succeeded",
    "failed": "failed",
    "deferred_for_retry": "retried",
    "aborted": "aborted",
}
END_EVENTS = "(" + ", ".join(f"'{event}'" for event in OUTCOMES) + ")"
# Maintenance, webhooks and other tasks outside jobs.queueing.TASK_FAMILIES.
OTHER_FAMILY = "other"
CACHE_WINDOW = timedelta(hours=24)
# A run's end stamped this long before the hour began is taken to have been written before
# any end stamped in the hour: procrastinate writes each in one short statement.
EVENT_ORDER_MARGIN = "10 minutes"

DURATION_HELP = (
    "How long task runs took, from procrastinate's 'started' event to the event that ended "
    "the run, per task family and outcome (retried: the run failed and will run again). "
    "Counts the runs ended since the start of the current hour (UTC): they reset hourly, "
    "which rate() and increase() read as a counter reset, so a scrape reads at most about "
    "an hour of procrastinate_events whatever the queue retention."
)


@dataclass
class RunCounts:
    """One family's runs with one outcome: bucket counts (le order), total, seconds."""

    buckets: list[int] = field(default_factory=lambda: [0] * len(DURATION_BUCKETS))
    count: int = 0
    seconds: float = 0.0

    def add(self, count: int, seconds: float, buckets: list[int]) -> None:
        self.count += count
        self.seconds += seconds
        self.buckets = [mine + theirs for mine, theirs in zip(self.buckets, buckets, strict=True)]


def _rows(query: str, params: list | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


def task_runs_this_hour() -> dict[tuple[str, str], RunCounts]:
    """Return the runs ended since the hour began, keyed by (family, outcome), bucketed.

    procrastinate_events has no index on `at`: the id of the last run's end written well
    before the hour is found by walking the primary key back from the newest event (about
    an hour of rows), and the hour's ends are then read as a range of that key. Cost grows
    with the hour's runs, not with the table (docs/metrics.md has measurements).
    """
    [(epoch, floor_id)] = _rows(
        f"""
        WITH hour AS (SELECT date_trunc('hour', now(), 'UTC') AS epoch)
        SELECT epoch,
               COALESCE((SELECT id FROM procrastinate_events
                          WHERE type IN {END_EVENTS}
                            AND at < epoch - interval '{EVENT_ORDER_MARGIN}'
                          ORDER BY id DESC LIMIT 1), 0)
          FROM hour
        """
    )
    filters = ", ".join("COUNT(*) FILTER (WHERE seconds <= %s)" for _ in DURATION_BUCKETS)
    # MATERIALIZED: each run's seconds are computed once, not once per bucket (half the time).
    rows = _rows(
        f"""
        WITH runs AS MATERIALIZED (
            SELECT jobs.task_name, ends.type::text AS outcome,
                   EXTRACT(EPOCH FROM ends.at - started.at)::float8 AS seconds
              FROM procrastinate_events AS ends
              JOIN procrastinate_jobs AS jobs ON jobs.id = ends.job_id
             CROSS JOIN LATERAL (
                    SELECT starts.at FROM procrastinate_events AS starts
                     WHERE starts.job_id = ends.job_id AND starts.type = 'started'
                       AND starts.id < ends.id
                     ORDER BY starts.id DESC LIMIT 1
                   ) AS started
             WHERE ends.id > %s AND ends.at >= %s
               AND ends.type IN {END_EVENTS}
        )
        SELECT task_name, outcome, COUNT(*), COALESCE(SUM(seconds), 0), {filters}
          FROM runs GROUP BY 1, 2
        """,
        [floor_id, epoch, *DURATION_BUCKETS],
    )
    runs = {(family, outcome): RunCounts() for family in (*FAMILIES, OTHER_FAMILY)
            for outcome in OUTCOMES.values()}  # fmt: skip
    for task_name, event, count, seconds, *buckets in rows:
        family = TASK_FAMILIES.get(task_name, OTHER_FAMILY)
        runs[family, OUTCOMES[event]].add(count, seconds, buckets)
    return runs


def _duration_metric() -> Metric:
    metric = HistogramMetricFamily(
        "slidecast_task_duration_seconds", DURATION_HELP, labels=["family", "outcome"]
    )
    for (family, outcome), runs in sorted(task_runs_this_hour().items()):
        buckets = [
            (floatToGoString(bound), count)
            for bound, count in zip(DURATION_BUCKETS, runs.buckets, strict=True)
        ]
        metric.add_metric([family, outcome], [*buckets, ("+Inf", runs.count)], runs.seconds)
    return metric


def _queue_metrics() -> Iterator[Metric]:
    counts: dict[str, Counter] = {}
    for queue, status, count in _rows(
        "SELECT queue_name, status::text, COUNT(*) FROM procrastinate_jobs GROUP BY 1, 2"
    ):
        counts.setdefault(queue, Counter())[status] = count
    paused = paused_queues()
    queues = sorted(set(settings.SLIDECAST_QUEUES) | set(counts) | paused)
    waits = monitoring.queue_latencies()

    jobs = GaugeMetricFamily(
        "slidecast_queue_jobs",
        "procrastinate jobs per queue and status.",
        labels=["queue", "status"],
    )
    oldest = GaugeMetricFamily(
        "slidecast_queue_oldest_job_age_seconds",
        "How long the oldest due 'todo' job of the queue has waited (0: none waits).",
        labels=["queue"],
    )
    paused_metric = GaugeMetricFamily(
        "slidecast_queue_paused",
        "1 while the queue is paused from the dashboard.",
        labels=["queue"],
    )
    for queue in queues:
        for status in monitoring.QUEUE_STATUSES:
            jobs.add_metric([queue, status], counts.get(queue, Counter())[status])
        oldest.add_metric([queue], waits.get(queue, 0.0))
        paused_metric.add_metric([queue], 1 if queue in paused else 0)
    yield from (jobs, oldest, paused_metric)


def _worker_metrics() -> Iterator[Metric]:
    overview = monitoring.worker_overview()
    served: Counter = Counter()
    for worker in overview:
        if worker.late or worker.queues is None:
            continue
        # An empty list means every queue.
        for queue in worker.queues or settings.SLIDECAST_QUEUES:
            served[queue] += 1
    workers = GaugeMetricFamily(
        "slidecast_workers",
        "Workers with a fresh heartbeat taking jobs from the queue (a worker on several "
        "queues counts on each).",
        labels=["queue"],
    )
    for queue in sorted(set(settings.SLIDECAST_QUEUES) | set(served)):
        workers.add_metric([queue], served[queue])
    heartbeat = GaugeMetricFamily(
        "slidecast_worker_heartbeat_age_seconds",
        "Seconds since each registered worker's last heartbeat (beats every 10 s; late past "
        f"{monitoring.LATE_HEARTBEAT_SECONDS} s).",
        labels=["worker", "host"],
    )
    for worker in overview:
        heartbeat.add_metric([str(worker.id), worker.hostname or ""], worker.heartbeat_age)
    yield from (workers, heartbeat)


def _status_metric(name: str, documentation: str, model, statuses) -> Metric:
    counts = dict(model.objects.order_by().values_list("status").annotate(Count("id")))
    metric = GaugeMetricFamily(name, documentation, labels=["status"])
    for status in statuses:
        metric.add_metric([status], counts.get(status, 0))
    return metric


def _cache_metrics() -> Iterator[Metric]:
    made = {kind: ~Q(**{kind: ""}) for kind in ("audio", "image")}
    slides = Slide.objects.filter(job__created_at__gte=timezone.now() - CACHE_WINDOW).aggregate(
        **{f"{kind}_made": Count("id", filter=made[kind]) for kind in made},
        **{
            f"{kind}_hits": Count("id", filter=made[kind] & Q(**{f"{kind}_cached": True}))
            for kind in made
        },
    )
    ratio = GaugeMetricFamily(
        "slidecast_content_cache_hit_ratio",
        "Share of the slides of jobs created in the last 24 h whose audio or image came from "
        "the content cache (absent when no slide has one).",
        labels=["kind"],
    )
    for kind in made:
        if slides[f"{kind}_made"]:
            ratio.add_metric([kind], slides[f"{kind}_hits"] / slides[f"{kind}_made"])
    yield ratio

    by_kind = {
        row["kind"]: row
        for row in CachedArtifact.objects.order_by()
        .values("kind")
        .annotate(entries=Count("id"), size=Sum("size_bytes"))
    }
    entries = GaugeMetricFamily(
        "slidecast_content_cache_entries", "Entries in the content cache.", labels=["kind"]
    )
    stored = Metric(
        "slidecast_stored_bytes",
        "Bytes in storage: the content cache per kind, the deck jobs' own files (until "
        "retention removes them) and media jobs' outputs.",
        "gauge",
    )
    for kind in CachedArtifact.Kind.values:
        row = by_kind.get(kind, {"entries": 0, "size": 0})
        entries.add_metric([kind], row["entries"])
        stored.add_sample(stored.name, {"what": "cache", "kind": kind}, row["size"] or 0)
    job_bytes = Job.objects.filter(files_deleted_at__isnull=True).aggregate(
        total=Sum("stored_bytes")
    )["total"]
    media_bytes = MediaArtifact.objects.aggregate(total=Sum("size_bytes"))["total"]
    # Only the cache's bytes have a kind.
    stored.add_sample(stored.name, {"what": "jobs"}, job_bytes or 0)
    stored.add_sample(stored.name, {"what": "media"}, media_bytes or 0)
    yield from (entries, stored)


class SlidecastCollector(Collector):
    """Every Slidecast metric, read afresh from the database on each collect()."""

    def collect(self) -> Iterator[Metric]:
        yield _duration_metric()
        yield from _queue_metrics()
        yield from _worker_metrics()
        yield _status_metric(
            "slidecast_deck_jobs", "Deck (narration) jobs per status.", Job, Job.Status.values
        )
        yield _status_metric(
            "slidecast_media_jobs", "Media jobs per status.", MediaJob, MediaJob.Status.values
        )
        yield from _cache_metrics()
        dead = GaugeMetricFamily(
            "slidecast_dead_letters_24h",
            "Tasks that failed for the last time in the last 24 hours (dead letters).",
        )
        dead.add_metric([], monitoring.dead_letters_since(24))
        yield dead


def metrics_registry() -> CollectorRegistry:
    """Return a registry of its own (not prometheus_client's global one) with the collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SlidecastCollector())
    return registry
