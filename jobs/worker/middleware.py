"""procrastinate task middleware: log context, family limits, the worker registry, dead letters."""

from __future__ import annotations

import logging
import time
import traceback
from typing import Any

from procrastinate import App, JobContext
from procrastinate.contrib.django.django_connector import DjangoConnector
from procrastinate.exceptions import JobAborted
from procrastinate.middleware import SyncCallNext
from procrastinate.worker import Worker

from jobs import queueing
from jobs.log_context import task_log_context, task_run_started
from jobs.media.progress import media_job_waiting
from jobs.operations.dead_letters import dead_letter_record
from jobs.operations.workers import WorkerRegistryHandler, worker_host_record
from jobs.worker import lifecycle, limits
from jobs.worker.connector import SlidecastDjangoConnector

logger = logging.getLogger("slidecast.tasks")
_known_workers: set[int] = set()


def install(app: App) -> None:
    """Called by procrastinate's Django app once it exists (PROCRASTINATE_ON_APP_READY)."""
    if type(app.connector) is DjangoConnector:
        # `procrastinate worker` (and the in-process worker) build their pool from it.
        connector = SlidecastDjangoConnector(alias=app.connector.alias)
        app.connector = app.job_manager.connector = connector
    middlewares = list(app.worker_defaults.get("task_middleware") or [])
    app.worker_defaults["task_middleware"] = [*middlewares, observe_task]
    # Attached here, not in LOGGING: the handler writes models, which only exist once the
    # apps are loaded, after logging is configured.
    worker_logger = logging.getLogger("procrastinate.worker")
    if not any(isinstance(h, WorkerRegistryHandler) for h in worker_logger.handlers):
        worker_logger.addHandler(WorkerRegistryHandler(level=logging.INFO))


def observe_task(call_next: SyncCallNext, context: JobContext, worker: Worker) -> Any:
    job = context.job
    kwargs = job.task_kwargs or {}
    token = task_log_context.set(
        {
            "procrastinate_job_id": job.id,
            "task": job.task_name,
            "queue": job.queue,
            "attempt": job.attempts + 1,
            "slidecast_job_id": kwargs.get("job_id"),
        }
    )
    supervised = worker.install_signal_handlers  # a `procrastinate worker` process
    try:
        _note_worker(worker)
        with limits.family_slot(
            queueing.TASK_FAMILIES.get(job.task_name),
            check=lambda: _stop_waiting_if_aborted(context),
            on_wait=lambda reason: _tell_waiting(context, reason),
        ):
            # The time limit and the recycling count the task's run, not its wait for a slot.
            if supervised:
                lifecycle.task_started(job.id, job.task_name)
            started = task_run_started.set(time.time())
            try:
                return call_next()
            finally:
                task_run_started.reset(started)
                if supervised:
                    lifecycle.task_finished(job.id)
    except Exception as exc:
        if _is_final_failure(exc, context, worker):
            dead_letter_record(
                queue_job=job,
                exception=exc,
                formatted_traceback="".join(traceback.format_exception(exc)),
            )
        raise
    finally:
        task_log_context.reset(token)


def _stop_waiting_if_aborted(context: JobContext) -> None:
    # A cancel ends the job; a worker's shutdown leaves it to procrastinate's retry.
    reason = context.abort_reason()
    if reason is not None:
        raise JobAborted(f"stopped while waiting for a slot ({reason.value})")


def _tell_waiting(context: JobContext, reason: str) -> None:
    logger.info("%s #%s: %s", context.job.task_name, context.job.id, reason)
    media_job_id = (context.job.task_kwargs or {}).get("media_job_id")
    if media_job_id:
        media_job_waiting(media_job_id=str(media_job_id), reason=reason)


def _note_worker(worker: Worker) -> None:
    if worker.worker_id is None or worker.worker_id in _known_workers:
        return

    worker_host_record(
        worker_id=worker.worker_id,
        queues=list(worker.queues or []),
        concurrency=worker.concurrency,
    )
    _known_workers.add(worker.worker_id)


def _is_final_failure(exc: BaseException, context: JobContext, worker: Worker) -> bool:
    if isinstance(exc, JobAborted):
        return False  # a cancel, not a failure
    task = worker.app.tasks.get(context.job.task_name)
    strategy = task.retry_strategy if task else None
    if strategy is None:
        return True
    return strategy.get_retry_decision(exception=exc, job=context.job) is None
