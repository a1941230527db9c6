"""Operator actions on procrastinate's queue jobs: retry, cancel, abort."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone

from jobs.queueing import job_manager


def queue_jobs_retry(job_ids: Iterable[int]) -> int:
    """Put failed jobs back in the queue, to run now; return how many were.

    Running jobs are not retried here (their worker may be alive: the rescue task hands back
    those of dead workers), and procrastinate cannot retry cancelled or aborted ones.
    """
    manager = job_manager()
    count = 0
    for job_id in job_ids:
        if manager.get_job_status(job_id).value == "failed":
            manager.retry_job_by_id(job_id=job_id, retry_at=timezone.now())
            count += 1
    return count


def queue_jobs_cancel(job_ids: Iterable[int]) -> int:
    manager = job_manager()
    return sum(1 for job_id in job_ids if manager.cancel_job_by_id(job_id, abort=False))


def queue_jobs_abort(job_ids: Iterable[int]) -> int:
    manager = job_manager()
    return sum(1 for job_id in job_ids if manager.cancel_job_by_id(job_id, abort=True))
