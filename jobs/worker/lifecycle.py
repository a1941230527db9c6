"""Long-lived worker processes: recycling after N tasks or M MB, and a per-task time limit.

TTS and speech recognition processes grow with time. A worker that has run
SLIDECAST_WORKER_MAX_TASKS tasks, or uses more than SLIDECAST_WORKER_MAX_MEMORY_MB, stops
gracefully (SIGTERM to itself: running tasks finish) and its supervisor (Docker's restart
policy, systemd's Restart=always) starts a fresh one. Each task family may ask for the same
sooner (SLIDECAST_RECYCLE_<FAMILY>_TASKS of its tasks, SLIDECAST_RECYCLE_<FAMILY>_MB after
one of them): LibreOffice's leaks are not Piper's. A task running longer than
SLIDECAST_TASK_TIME_LIMIT_SECONDS cannot be interrupted inside its thread, so the process
stops; if the task still does not return in the shutdown grace time the process exits
hard, and the stalled-job rescue puts the task back in the queue.

Only `manage.py procrastinate worker` processes do this; a worker running inside another
program (the narrate command, the tests) never signals its host process. When such a worker
process ends normally (recycled, or stopped by its supervisor), its speech engines release
what they hold, XTTS's GPU memory first of all.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import signal
import threading
import time
from collections import Counter

import psutil
from django.conf import settings

from jobs.queueing import TASK_FAMILIES
from jobs.speech import speech_engines
from jobs.worker.limits import FamilyLimits, family_limits
from media_pipeline.tools import kill_running_programs

logger = logging.getLogger("slidecast.workers")

_lock = threading.Lock()
_running: dict[int, tuple[float, str]] = {}  # queue job id -> (started, task name)
_completed = 0
_completed_by_family: Counter[str] = Counter()
_stopping = threading.Event()
_watchdog_started = threading.Event()
HARD_EXIT_CODE = 70


def _limits() -> dict:
    return settings.WORKER_LIMITS


def task_started(job_id: int, task_name: str) -> None:
    with _lock:
        _running[job_id] = (time.monotonic(), task_name)
    if not _watchdog_started.is_set():
        _watchdog_started.set()
        # At exit, `procrastinate worker` has stopped and every task it let finish is done;
        # the hard exit below skips this, and the process's end frees the GPU anyway.
        atexit.register(release_speech_engines)
        threading.Thread(target=_watch, name="slidecast-task-watchdog", daemon=True).start()


def task_finished(job_id: int) -> None:
    global _completed
    with _lock:
        _, task_name = _running.pop(job_id, (0.0, ""))
        _completed += 1
        completed = _completed
        family = TASK_FAMILIES.get(task_name)
        if family:
            _completed_by_family[family] += 1
        family_completed = _completed_by_family[family] if family else 0
    limits = _limits()
    if limits["MAX_TASKS"] and completed >= limits["MAX_TASKS"]:
        stop_gracefully(f"it has run {completed} tasks (SLIDECAST_WORKER_MAX_TASKS)")
        return
    recycling = family_limits(family) if family else None
    # Memory is read from /proc only when a limit needs it: a short task would pay for it.
    measure = limits["MAX_MEMORY_MB"] or (recycling is not None and recycling.recycle_mb)
    megabytes = _rss_megabytes() if measure else 0.0
    if limits["MAX_MEMORY_MB"] and megabytes > limits["MAX_MEMORY_MB"]:
        stop_gracefully(f"it uses {megabytes:.0f} MB (SLIDECAST_WORKER_MAX_MEMORY_MB)")
        return
    if recycling is not None:
        _recycle_for_family(recycling, completed=family_completed, megabytes=megabytes)


def _rss_megabytes() -> float:
    return _process(os.getpid()).memory_info().rss / 1024**2


@functools.cache
def _process(pid: int) -> psutil.Process:
    return psutil.Process(pid)


def _recycle_for_family(limits: FamilyLimits, *, completed: int, megabytes: float) -> None:
    family = limits.family
    setting = f"SLIDECAST_RECYCLE_{family.upper()}"
    if limits.recycle_tasks and completed >= limits.recycle_tasks:
        stop_gracefully(f"it has run {completed} {family} tasks ({setting}_TASKS)")
    elif limits.recycle_mb and megabytes > limits.recycle_mb:
        stop_gracefully(f"it uses {megabytes:.0f} MB after a {family} task ({setting}_MB)")


def stop_gracefully(reason: str) -> None:
    if _stopping.is_set():
        return
    _stopping.set()
    logger.warning("worker process %s stops to be replaced: %s", os.getpid(), reason)
    os.kill(os.getpid(), signal.SIGTERM)


def release_speech_engines() -> None:
    """Have the loaded speech engines give back their memory (the worker process is ending)."""
    speech_engines().release()
    logger.info("worker process %s released its speech engines", os.getpid())


def _watch() -> None:
    while True:
        time.sleep(0.5)
        limit = _limits()["TASK_TIME_LIMIT_SECONDS"]
        now = time.monotonic()
        with _lock:
            late = [(job_id, name) for job_id, (started, name) in _running.items()
                    if now - started > limit]  # fmt: skip
        if late:
            logger.error(
                "task over its time limit of %d s (SLIDECAST_TASK_TIME_LIMIT_SECONDS): %s",
                limit, ", ".join(f"{name}#{job_id}" for job_id, name in late),
            )  # fmt: skip
            stop_gracefully("a task passed its time limit")
            grace = settings.PROCRASTINATE_WORKER_DEFAULTS["shutdown_graceful_timeout"]
            time.sleep(grace + 5)
            logger.error("the task did not return; exiting so it can be rescued")
            kill_running_programs()  # LibreOffice and ffmpeg must not outlive the worker
            logging.shutdown()
            os._exit(HARD_EXIT_CODE)
