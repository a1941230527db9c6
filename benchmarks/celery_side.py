"""The Celery half of benchmarks/queue_throughput.py: workers, batches and their timings."""

from __future__ import annotations

import os
import sys
import time

from benchmarks.throughput_runs import (
    DRAIN_TIMEOUT,
    WARM_UP_JOBS,
    CpuMeter,
    Run,
    worker_processes,
)


def check_available() -> None:
    """Raise SystemExit with what to do when Celery or the Redis server is missing."""
    try:
        import celery  # noqa: F401
        import redis
    except ImportError as exc:
        raise SystemExit(
            f"Celery is not installed ({exc.name} is missing); it is the baseline of this "
            "benchmark only: .venv/bin/pip install -e '.[bench]'"
        ) from exc
    from benchmarks.celery_app import REDIS_URL

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        raise SystemExit(
            f"Redis is not reachable at {REDIS_URL} ({exc}); start one (apt-get install "
            "redis-server) or set SLIDECAST_BENCH_REDIS_URL"
        ) from exc


def runner(args, *, concurrency: int, pool: str):
    """Return a function that measures one run of `args.processes` Celery workers."""

    def run() -> Run:
        from benchmarks.celery_app import app

        client = _client()
        app.control.purge()
        client.delete(_times_key())
        if _waiting(client):
            raise SystemExit("the Celery benchmark queue is not empty after a purge")
        commands = [
            [sys.executable, "-m", "celery", "-A", "benchmarks.celery_app", "worker",
             f"--pool={pool}", f"--concurrency={concurrency}", "--loglevel=WARNING",
             f"--hostname=bench{index}-{os.getpid()}@%h"]
            for index in range(args.processes)
        ]  # fmt: skip

        def ready() -> bool:
            return len(app.control.ping(timeout=0.5)) >= args.processes

        with worker_processes(commands, ready=ready, name=f"Celery ({pool})") as pids:
            _drain(client, WARM_UP_JOBS)
            idle = [_idle_pickup(client) for _ in range(args.idle_jobs)]
            with CpuMeter(pids, client.info("server").get("process_id")) as cpu:
                run = _drain(client, args.jobs)
        run.idle, run.idle_wake = [call for call, _ in idle], [wake for _, wake in idle]
        run.worker_cpu, run.server_cpu = cpu.per_job_ms(args.jobs)
        return run

    return run


def _client():
    import redis

    from benchmarks.celery_app import REDIS_URL

    return redis.Redis.from_url(REDIS_URL)


def _times_key() -> str:
    from benchmarks.celery_app import TIMES_KEY

    return TIMES_KEY


def _waiting(client) -> int:
    from benchmarks.celery_app import QUEUE

    return client.llen(QUEUE)


def _idle_pickup(client) -> tuple[float, float]:
    from benchmarks.celery_app import ping

    time.sleep(0.02)
    key = _times_key()
    client.delete(key)
    sent = time.time()
    ping.apply_async((sent,))
    returned = time.time()
    (note,) = _collect(client, 1, poll=0.001)
    return note[1] - sent, note[1] - returned


def _drain(client, jobs: int) -> Run:
    from celery import group

    from benchmarks.celery_app import ping

    client.delete(_times_key())
    sent = time.time()
    group(ping.s(sent) for _ in range(jobs)).apply_async()
    notes = _collect(client, jobs, poll=0.1)
    started = [start for _, start, _ in notes]
    finished = [finish for _, _, finish in notes]
    rate = jobs / (max(finished) - min(started))
    return Run(rate, max(finished) - sent, [start - sent for start in started])


def _collect(client, jobs: int, *, poll: float) -> list[tuple[float, float, float]]:
    """Wait for `jobs` notes; return (sent, started, finished) of each, checked as executed."""
    key = _times_key()
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while client.llen(key) < jobs:
        if time.monotonic() > deadline:
            raise SystemExit(f"Celery did not finish {jobs} jobs in {DRAIN_TIMEOUT:.0f} s")
        time.sleep(poll)
    time.sleep(0.05)  # anything beyond the expected count would be a duplicate run
    raw = client.lrange(key, 0, -1)
    notes = [line.decode().split() for line in raw]
    executed = sum(int(note[3]) for note in notes)
    if len(notes) != jobs or executed != jobs:
        raise SystemExit(f"Celery: {len(notes)} notes and {executed} results for {jobs} jobs")
    return [(float(a), float(b), float(c)) for a, b, c, _ in notes]
