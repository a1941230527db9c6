"""The Celery baseline of benchmarks/queue_throughput.py: one no-op task on the local Redis.

    celery -A benchmarks.celery_app worker --pool=prefork --concurrency=2

Celery is a benchmark dependency only (the `bench` extra). The task does what Slidecast's
`slidecast.ping` does (returns its argument); each worker process notes when each task
started and finished (Celery's task_prerun and task_postrun signals) and a background thread
pushes those notes to a Redis list every few milliseconds, so the task itself pays for a
list append, not a round trip to Redis.
"""

from __future__ import annotations

import os
import threading
import time

import redis
from celery import Celery, signals

REDIS_URL = os.environ.get("SLIDECAST_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
QUEUE = "slidecast-bench"
TIMES_KEY = "slidecast-bench:times"
FLUSH_SECONDS = 0.005

app = Celery("slidecast_bench", broker=REDIS_URL)
# Celery's defaults otherwise (acknowledged on receipt, prefetch multiplier 4, no result
# backend): the set-up a user gets from `celery worker` with a Redis broker.
app.conf.update(
    task_default_queue=QUEUE,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


@app.task(name="bench.ping")
def ping(sent_at: float) -> float:
    """Do nothing: return the time the caller sent the task."""
    return sent_at


_started: dict[str, float] = {}
_notes: list[str] = []
_lock = threading.Lock()
_flusher: threading.Thread | None = None


@signals.task_prerun.connect
def _note_start(task_id: str, **_) -> None:
    _started[task_id] = time.time()


@signals.task_postrun.connect
def _note_finish(task_id: str, args: tuple, retval: object, **_) -> None:
    finished = time.time()
    started = _started.pop(task_id, finished)
    sent_at = args[0] if args else float("nan")
    executed = 1 if retval == sent_at else 0
    with _lock:
        _notes.append(f"{sent_at!r} {started!r} {finished!r} {executed}")
    _start_flusher()


def _start_flusher() -> None:
    # Started in the process that runs tasks, after a prefork child has forked.
    global _flusher
    if _flusher is not None and _flusher.is_alive():
        return
    with _lock:
        if _flusher is None or not _flusher.is_alive():
            _flusher = threading.Thread(target=_flush_forever, name="bench-notes", daemon=True)
            _flusher.start()


def _flush_forever() -> None:
    client = redis.Redis.from_url(REDIS_URL)
    while True:
        time.sleep(FLUSH_SECONDS)
        with _lock:
            batch = _notes[:]
            _notes.clear()
        if batch:
            client.rpush(TIMES_KEY, *batch)
