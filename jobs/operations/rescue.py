"""Rescue of queue jobs held by workers whose heartbeat stopped."""

from __future__ import annotations

import logging

import attr
from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob
from procrastinate.jobs import Job as QueueJob
from procrastinate.jobs import Status

from jobs import queueing
from jobs.media import progress as media_progress
from jobs.narration import progress
from jobs.operations.dead_letters import dead_letter_record, is_uuid
from jobs.queueing import RETRY, job_manager

logger = logging.getLogger("slidecast.operations")


def stalled_jobs_rescue() -> list[int]:
    """Put running jobs of workers whose heartbeat stopped back in the queue; return them.

    A worker killed with SIGKILL leaves its jobs "doing" forever. Retrying them is safe:
    every step checks the job's state before it starts and again before it records its
    result, so a step that did finish elsewhere is not recorded twice.
    """
    seconds = settings.OVERSIGHT["STALLED_WORKER_SECONDS"]
    manager = job_manager()
    rescued = []
    for queue_job in _stalled_jobs(seconds):
        try:
            if RETRY.is_last_run(queue_job):
                _give_up(queue_job)
            else:
                manager.retry_job_by_id(job_id=queue_job.id, retry_at=timezone.now())
                logger.warning(
                    "rescued queue job %s from a worker whose heartbeat stopped", queue_job.id
                )
            rescued.append(queue_job.id)
        except Exception:  # one job's trouble must not keep the others stuck
            logger.exception("could not rescue queue job %s", queue_job.id)
    async_to_sync(manager.prune_stalled_workers)(seconds_since_heartbeat=seconds)
    return rescued


def _stalled_jobs(seconds: float) -> list[QueueJob]:
    stalled = async_to_sync(job_manager().get_stalled_jobs)(seconds_since_heartbeat=seconds)
    # Through Django's connection the arguments come back as JSON text; the read-only model
    # gives them decoded.
    arguments = dict(
        ProcrastinateJob.objects.filter(id__in=[job.id for job in stalled]).values_list(
            "id", "args"
        )
    )
    return [attr.evolve(job, task_kwargs=arguments.get(job.id) or {}) for job in stalled]


def _give_up(queue_job: QueueJob) -> None:
    """A job whose worker died on every attempt (a crash, the time limit): fail it for good."""
    message = (
        f"The worker running this step stopped {queue_job.attempts + 1} times (it crashed, "
        "ran out of memory or passed SLIDECAST_TASK_TIME_LIMIT_SECONDS). Try a smaller deck, "
        "or tell the operators."
    )
    with transaction.atomic():
        async_to_sync(job_manager().finish_job_by_id_async)(
            job_id=queue_job.id, status=Status.FAILED, delete_job=False
        )
        job_id = (queue_job.task_kwargs or {}).get("job_id")
        media_job_id = (queue_job.task_kwargs or {}).get("media_job_id")
        if is_uuid(media_job_id):
            media_progress.media_job_fail(
                media_job_id=str(media_job_id), message=message, code="worker_lost"
            )
        if is_uuid(job_id):
            # A lost assembly may since have been replaced by a newer one: only its own claim
            # may fail the job.
            claim = queue_job.id if queue_job.task_name == queueing.ASSEMBLE else None
            progress.job_fail(
                job_id=str(job_id), message=message, code="worker_lost", assembly_claim=claim
            )
    dead_letter_record(
        queue_job=queue_job,
        exception=RuntimeError(message),
        formatted_traceback="(no traceback: the worker process was gone)",
    )
    logger.error("queue job %s failed for good: its worker stopped on every attempt", queue_job.id)
