"""Queue throughput and pickup latency: procrastinate's worker against Celery 5 on Redis.

    .venv/bin/pip install -e '.[bench]'      # Celery, for the baseline only
    .venv/bin/python -m benchmarks.queue_throughput [--jobs 2000] [--repeat 3]
        [--processes 1] [--concurrency N] [--pools prefork threads]

Each system runs as its users run it, with the same number of worker processes and the same
concurrency per process (default: the README's worker, one process of
SLIDECAST_WORKER_CONCURRENCY):
  * procrastinate: `manage.py procrastinate worker --queues=cpu --concurrency=C`, the
    no-op `slidecast.ping` task, Slidecast's task middleware and settings;
  * Celery: `celery -A benchmarks.celery_app worker --pool=prefork|threads
    --concurrency=C` on the Redis at 127.0.0.1:6379 (a prefork worker runs C child
    processes under its parent; a threads worker one process).

Every run starts fresh workers on an empty queue and, after a warm-up batch, measures
  * idle pickup: single jobs, one after another, from the enqueue call (and from its
    return: the enqueue's own cost left out) to the task's start;
  * drain: N jobs enqueued in one batch (procrastinate's batch_defer, a Celery group);
    jobs/s from the first job's start to the last job's finish, and each job's pickup
    (from the enqueue call to its start).
Starts and finishes are procrastinate's own events (database clock) and Celery's
task_prerun/task_postrun signals (same machine, same clock); every job's result is counted.
Before the drain, procrastinate's tables are analyzed with no job waiting, as autovacuum does
at quiet times, so that every run fetches with the same plan. The CPU time of the workers
and of the queue's server (PostgreSQL's or Redis's processes, when on this machine) is taken
over the drain. The runs of the systems alternate, so that a change in the machine's load
hits them all. Like benchmarks.queue_latency, it empties procrastinate's tables of the
database it uses: run it on a development database (SLIDECAST_DATA_DIR=/tmp/bench gives it
an embedded server of its own).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from benchmarks import celery_side
from benchmarks.django_setup import django_ready
from benchmarks.throughput_runs import (
    DRAIN_TIMEOUT,
    WARM_UP_JOBS,
    CpuMeter,
    Run,
    worker_processes,
)
from benchmarks.worker_run import queue_jobs_finished


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--idle-jobs", type=int, default=30)
    parser.add_argument("--processes", type=int, default=1, help="worker processes per system")
    parser.add_argument("--concurrency", type=int, default=None,
                        help="per process (default: SLIDECAST_WORKER_CONCURRENCY)")  # fmt: skip
    parser.add_argument("--pools", nargs="*", default=["prefork", "threads"],
                        choices=["prefork", "threads"], help="Celery pools to measure")  # fmt: skip
    args = parser.parse_args()

    if args.pools:
        celery_side.check_available()  # refuses clearly when Celery or Redis is missing
    django_ready()
    from django.conf import settings

    concurrency = args.concurrency or settings.PROCRASTINATE_WORKER_DEFAULTS["concurrency"]
    systems = {
        f"procrastinate {_version('procrastinate')}": _procrastinate_runner(args, concurrency)
    }
    for pool in args.pools:
        name = f"Celery {_version('celery')}, {pool} pool"
        systems[name] = celery_side.runner(args, concurrency=concurrency, pool=pool)

    runs: dict[str, list[Run]] = {name: [] for name in systems}
    for repeat in range(args.repeat):
        for name, run in systems.items():
            result = run()
            runs[name].append(result)
            print(f"run {repeat + 1}/{args.repeat} {name}: {result.drain_rate:.0f} jobs/s, "
                  f"idle pickup p50 {_ms(result.idle, 50)}", flush=True)  # fmt: skip
    _report(runs, args, concurrency)


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def _report(runs: dict[str, list[Run]], args, concurrency: int) -> None:
    print()
    print(f"{args.jobs} no-op jobs drained; {args.processes} worker process(es) per system, "
          f"concurrency {concurrency} each; best and median of {args.repeat} runs")  # fmt: skip
    print("| system | jobs/s best | median | idle pickup p50 | p95 | after enqueue p50 "
          "| drain pickup p50 | p95 | all done | CPU ms/job: workers | server |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, results in runs.items():
        rates = [r.drain_rate for r in results]
        print(f"| {name} | {max(rates):.0f} | {statistics.median(rates):.0f} "
              f"| {_median_ms(results, 'idle', 50)} | {_median_ms(results, 'idle', 95)} "
              f"| {_median_ms(results, 'idle_wake', 50)} "
              f"| {_median_ms(results, 'drain', 50)} | {_median_ms(results, 'drain', 95)} "
              f"| {statistics.median(r.drain_seconds for r in results):.2f} s "
              f"| {_median_cpu(results, 'worker_cpu')} "
              f"| {_median_cpu(results, 'server_cpu')} |")  # fmt: skip
    print("Pickup: from the enqueue call to the task's start; 'after enqueue': from the "
          "call's return. Median over the runs of each run's percentile. "
          "CPU: median, in the drain.")  # fmt: skip
    ours, *celery = runs
    if not celery:
        return
    for label, pick in (("best", max), ("median", statistics.median)):
        # Celery's best pool, chosen for each figure on its own.
        rate = {name: pick(r.drain_rate for r in results) for name, results in runs.items()}
        best = max(celery, key=rate.__getitem__)
        print(f"drain rate, {label}: procrastinate / {best} = {rate[ours] / rate[best]:.2f}x")


def _median_cpu(results: list[Run], which: str) -> str:
    values = [getattr(r, which) for r in results if getattr(r, which) is not None]
    return f"{statistics.median(values):.2f}" if values else "n/a"


def _percentile(values: list[float], percentile: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * percentile / 100))]


def _ms(values: list[float], percentile: int) -> str:
    return f"{_percentile(values, percentile) * 1000:.1f} ms"


def _median_ms(results: list[Run], which: str, percentile: int) -> str:
    values = [_percentile(getattr(r, which), percentile) for r in results]
    return f"{statistics.median(values) * 1000:.1f} ms"


def _procrastinate_runner(args, concurrency: int):
    command = [sys.executable, "manage.py", "procrastinate", "worker", "--queues=cpu",
               f"--concurrency={concurrency}"]  # fmt: skip

    def run() -> Run:
        from jobs.worker.inprocess import live_worker_count

        _empty_queue()

        def ready() -> bool:
            return live_worker_count() >= args.processes

        with worker_processes(
            [command] * args.processes, ready=ready, name="procrastinate"
        ) as pids:
            _drain_procrastinate(WARM_UP_JOBS)
            idle = [_idle_pickup_procrastinate() for _ in range(args.idle_jobs)]
            _analyze()
            with CpuMeter(pids, _server_pid()) as cpu:
                run = _drain_procrastinate(args.jobs)
        run.idle, run.idle_wake = [call for call, _ in idle], [wake for _, wake in idle]
        run.worker_cpu, run.server_cpu = cpu.per_job_ms(args.jobs)
        return run

    return run


def _empty_queue() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        # Finished jobs and their events go too: each run's fetches see the same table.
        cursor.execute("TRUNCATE procrastinate_jobs, procrastinate_workers CASCADE")


def _analyze() -> None:
    """Take the table's statistics now, with no job waiting, as autovacuum would at a quiet time.

    Without this, autovacuum analyzes the table at a moment of its own, before or during the
    drain, and procrastinate's fetch plan (and so the drain rate) changes from run to run.
    """
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE procrastinate_jobs, procrastinate_events")


def _server_pid() -> int | None:
    """Return the PostgreSQL server's pid (the parent of this session's backend) if local."""
    import psutil
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    try:
        return psutil.Process(backend).ppid()
    except psutil.Error:
        return None


def _idle_pickup_procrastinate() -> tuple[float, float]:
    """Return one job's pickup, from the enqueue call and from the call's return."""
    from jobs import queueing

    time.sleep(0.02)
    sent = time.time()
    job_id = queueing.defer(queueing.PING, sent_at=sent)
    returned = time.time()
    queue_jobs_finished([job_id], poll=0.001, timeout=DRAIN_TIMEOUT)
    started, _ = _event_times([job_id])
    return started[0] - sent, started[0] - returned


def _drain_procrastinate(jobs: int) -> Run:
    from jobs import queueing

    sent = time.time()
    job_ids = queueing.batch_defer(queueing.PING, *({"sent_at": sent} for _ in range(jobs)))
    queue_jobs_finished(job_ids, poll=0.1, timeout=DRAIN_TIMEOUT)
    started, finished = _event_times(job_ids)
    _check_succeeded(job_ids)
    rate = jobs / (max(finished) - min(started))
    return Run(rate, max(finished) - sent, [start - sent for start in started])


def _check_succeeded(job_ids: list[int]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE id = ANY(%s) AND status = 'succeeded'",
            [job_ids],
        )
        done = cursor.fetchone()[0]
    if done != len(job_ids):
        raise SystemExit(f"procrastinate: only {done} of {len(job_ids)} jobs succeeded")


def _event_times(job_ids: list[int]) -> tuple[list[float], list[float]]:
    """Return each job's start and finish, Unix seconds, from procrastinate's events."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT EXTRACT(EPOCH FROM MIN(at) FILTER (WHERE type = 'started'))::float8,
                   EXTRACT(EPOCH FROM MAX(at) FILTER (WHERE type = 'succeeded'))::float8
              FROM procrastinate_events WHERE job_id = ANY(%s) GROUP BY job_id
            """,
            [job_ids],
        )
        rows = cursor.fetchall()
    if len(rows) != len(job_ids) or any(s is None or f is None for s, f in rows):
        raise SystemExit("procrastinate: a job has no start or finish event")
    return [s for s, _ in rows], [f for _, f in rows]


if __name__ == "__main__":
    main()
