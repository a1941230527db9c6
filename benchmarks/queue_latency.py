"""Queue latency and throughput as workers are added, on one PostgreSQL.

    .venv/bin/python -m benchmarks.queue_latency [--workers 1 2 4] [--burst 400]

For each worker count it starts that many `manage.py procrastinate worker --queues=cpu`
processes and measures, from procrastinate's own event table:
  * idle latency: one trivial job at a time, time from deferred to started (LISTEN/NOTIFY);
  * burst: --burst trivial jobs deferred at once; time until all are done, and the
    deferred-to-started latency of each;
  * database connections held per worker.
The baseline in the same run is one worker with LISTEN/NOTIFY off (polling every 5 s).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from benchmarks.django_setup import REPO, django_ready
from benchmarks.worker_run import queue_jobs_finished


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--burst", type=int, default=400)
    parser.add_argument("--idle-jobs", type=int, default=20)
    args = parser.parse_args()

    django_ready()

    rows = [("1, polling (baseline)", *_measure(1, args, listen_notify=False))]
    for count in args.workers:
        rows.append((str(count), *_measure(count, args, listen_notify=True)))

    print(f"Queue latency on one PostgreSQL; trivial jobs; burst of {args.burst}")
    print(f"{'workers':<22}{'idle p50':>10}{'idle p95':>10}{'burst p50':>11}{'burst p95':>11}"
          f"{'burst s':>9}{'jobs/s':>9}{'conns/worker':>14}")  # fmt: skip
    for name, idle, burst, seconds, connections in rows:
        print(f"{name:<22}{_ms(idle, 50):>10}{_ms(idle, 95):>10}{_ms(burst, 50):>11}"
              f"{_ms(burst, 95):>11}{seconds:>9.2f}{args.burst / seconds:>9.0f}"
              f"{connections:>14.1f}")  # fmt: skip


def _ms(values: list[float], percentile: int) -> str:
    ordered = sorted(values)
    value = ordered[min(len(ordered) - 1, int(len(ordered) * percentile / 100))]
    return f"{value * 1000:.0f} ms"


def _measure(count: int, args, *, listen_notify: bool):
    from django.db import connection

    from jobs import queueing
    from jobs.worker.inprocess import live_worker_count

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE procrastinate_jobs, procrastinate_workers CASCADE")
    connections_before = _connections()
    flags = [] if listen_notify else ["--no-listen-notify"]
    workers = [
        subprocess.Popen(
            [sys.executable, "manage.py", "procrastinate", "worker", "--queues=cpu", *flags],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(count)
    ]
    try:
        deadline = time.monotonic() + 60
        while live_worker_count() < count and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2)  # let the periodic tasks of a fresh worker run first
        connections = (_connections() - connections_before) / count

        idle_ids = []
        for _ in range(args.idle_jobs if listen_notify else 4):
            job_id = queueing.defer(queueing.PING, sent_at=time.time())
            idle_ids.append(job_id)
            queue_jobs_finished([job_id])
        idle = _latencies(idle_ids)

        start = time.perf_counter()
        burst_ids = queueing.batch_defer(
            queueing.PING, *({"sent_at": 0.0} for _ in range(args.burst))
        )
        queue_jobs_finished(burst_ids)
        seconds = time.perf_counter() - start
        return idle, _latencies(burst_ids), seconds, connections
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=60)


def _connections() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


def _latencies(job_ids: list[int]) -> list[float]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT EXTRACT(EPOCH FROM MIN(at) FILTER (WHERE type = 'started')
                                    - MIN(at) FILTER (WHERE type = 'deferred'))
              FROM procrastinate_events WHERE job_id = ANY(%s) GROUP BY job_id
            """,
            [job_ids],
        )
        return [float(row[0]) for row in cursor.fetchall()]


if __name__ == "__main__":
    main()
