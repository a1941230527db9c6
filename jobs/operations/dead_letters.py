"""Dead letters: what a queue job's last failure was, and retrying it."""

from __future__ import annotations

import logging
import uuid

from django.utils import timezone
from procrastinate.jobs import Job as QueueJob

from jobs.narration import services as narration
from jobs.narration.models import Job
from jobs.operations.models import DeadLetter
from jobs.operations.queue_actions import queue_jobs_retry

logger = logging.getLogger("slidecast.operations")


def dead_letter_record(
    *, queue_job: QueueJob, exception: BaseException, formatted_traceback: str
) -> DeadLetter:
    """Keep what a last failure was, since procrastinate keeps no exception or traceback."""
    kwargs = queue_job.task_kwargs or {}
    job_id = kwargs.get("job_id")
    exception_class = f"{type(exception).__module__}.{type(exception).__qualname__}"
    letter = DeadLetter.objects.create(
        procrastinate_job_id=queue_job.id,
        task_name=queue_job.task_name,
        queue_name=queue_job.queue,
        task_kwargs=kwargs,
        job=Job.objects.filter(id=job_id).first() if is_uuid(job_id) else None,
        exception_class=exception_class,
        message=str(exception)[:10_000],
        traceback=formatted_traceback[-50_000:],
        attempts=queue_job.attempts + 1,
        failed_at=timezone.now(),
    )
    logger.error(
        "task %s failed for the last time: %s", queue_job.task_name, exception_class,
        extra={"dead_letter_id": letter.id},
    )  # fmt: skip
    return letter


def dead_letter_retry(*, letter: DeadLetter) -> str:
    """Retry what failed: the Slidecast job from its failed step, or else the queue job."""
    if letter.job is not None and letter.job.status in (Job.Status.FAILED, Job.Status.CANCELLED):
        step = narration.job_retry(job=letter.job)
        outcome = f"job retried from {step}"
    elif queue_jobs_retry([letter.procrastinate_job_id]):
        outcome = "queue job retried"
    else:
        outcome = "nothing to retry: the job is no longer failed"
    DeadLetter.objects.filter(id=letter.id).update(retried_at=timezone.now())
    return outcome


def is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return value is not None
