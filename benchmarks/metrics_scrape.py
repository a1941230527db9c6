"""What one /metrics scrape costs, with a large procrastinate_events table.

    .venv/bin/python -m benchmarks.metrics_scrape [--events 100000] [--hours 336 | --this-hour]

Inside one transaction that is rolled back at the end (the database is left as it was):
writes --events events (deferred, started, succeeded: a third as many finished queue
jobs of the media task families) spread evenly over the last --hours, plus 500 waiting
jobs, runs ANALYZE, then times the collector (every metric, as the endpoint renders them)
and the task-duration read alone, then each metric's share. --hours 336 is the default
queue retention (14 days); --this-hour puts every event in the current hour, whose runs the
duration read counts: its worst case.
"""

from __future__ import annotations

import argparse
import statistics
import time

from benchmarks.django_setup import django_ready

TASKS = [
    "slidecast.narrate_slide", "slidecast.narrate_slide", "slidecast.narrate_slide",
    "slidecast.decompose", "slidecast.assemble", "slidecast.media_preview",
    "slidecast.rescue_stalled_jobs",
]  # fmt: skip


class _RollBack(Exception):
    pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--hours", type=float, default=336)
    parser.add_argument("--this-hour", action="store_true")
    parser.add_argument("--scrapes", type=int, default=20)
    parser.add_argument("--explain", action="store_true", help="print the duration read's plans")
    args = parser.parse_args()
    django_ready()
    from django.db import transaction

    try:
        with transaction.atomic():
            _fill(args.events, None if args.this_hour else args.hours)
            _measure(args)
            raise _RollBack
    except _RollBack:
        pass


def _fill(events: int, hours: float | None) -> None:
    """Write the events evenly from `hours` ago (None: from the start of this hour) to now."""
    from django.db import connection

    jobs = events // 3
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH new_jobs AS (
                INSERT INTO procrastinate_jobs (queue_name, task_name, status, args)
                SELECT 'cpu', (%(tasks)s::text[])[1 + i %% cardinality(%(tasks)s::text[])],
                       'succeeded', '{}'
                  FROM generate_series(1, %(jobs)s) AS i
                RETURNING id
            ), timed AS (
                SELECT id,
                       now() - COALESCE(%(hours)s::float8 * interval '1 hour',
                                        now() - date_trunc('hour', now(), 'UTC'))
                             * (1 - row_number() OVER (ORDER BY id)::float8 / %(jobs)s) AS at,
                       (0.2 + random() * random() * 120) * interval '1 second' AS took
                  FROM new_jobs
            )
            INSERT INTO procrastinate_events (job_id, type, at)
            SELECT id, kind::procrastinate_job_event_type, at + shift
              FROM timed
             CROSS JOIN LATERAL (VALUES ('deferred', interval '0'),
                                        ('started', interval '1 second'),
                                        ('succeeded', interval '1 second' + took))
                   AS steps(kind, shift)
             ORDER BY at + shift
            """,
            {"tasks": TASKS, "jobs": jobs, "hours": hours},
        )
        cursor.execute(
            "INSERT INTO procrastinate_jobs (queue_name, task_name, status, args) "
            "SELECT 'cpu', 'slidecast.narrate_slide', 'todo', '{}' FROM generate_series(1, 500)"
        )
        cursor.execute("ANALYZE procrastinate_jobs")
        cursor.execute("ANALYZE procrastinate_events")
        cursor.execute("SELECT COUNT(*) FROM procrastinate_events")
        span = f"the last {hours:g} h" if hours else "this hour"
        print(f"procrastinate_events: {cursor.fetchone()[0]} rows over {span}")


def _measure(args) -> None:
    from django.db import connection
    from prometheus_client.exposition import generate_latest

    from jobs.operations.metrics import SlidecastCollector, metrics_registry, task_runs_this_hour

    def timed(function, runs: int) -> list[float]:
        function()  # warm the caches
        seconds = []
        for _ in range(runs):
            started = time.perf_counter()
            function()
            seconds.append(time.perf_counter() - started)
        return seconds

    whole = timed(lambda: generate_latest(metrics_registry()), args.scrapes)
    durations = timed(task_runs_this_hour, args.scrapes)
    runs = sum(counts.count for counts in task_runs_this_hour().values())
    print(f"runs counted this hour: {runs}")
    for name, seconds in (("whole scrape", whole), ("task durations only", durations)):
        print(
            f"{name:<22} median {statistics.median(seconds) * 1000:7.1f} ms"
            f"   max {max(seconds) * 1000:7.1f} ms   ({len(seconds)} runs)"
        )
    # Time between the collector's yields: what each metric's reads cost.
    parts: dict[str, list[float]] = {}
    for _ in range(args.scrapes):
        started = time.perf_counter()
        for metric in SlidecastCollector().collect():
            parts.setdefault(metric.name, []).append(time.perf_counter() - started)
            started = time.perf_counter()
    for name, seconds in parts.items():
        print(f"  {name:<42} median {statistics.median(seconds) * 1000:6.1f} ms")
    if args.explain:
        connection.force_debug_cursor = True
        task_runs_this_hour()
        for query in connection.queries[-2:]:
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, COSTS OFF) " + query["sql"])
                print("\n".join(row[0] for row in cursor.fetchall()), "\n")


if __name__ == "__main__":
    main()
