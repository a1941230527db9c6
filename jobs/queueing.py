"""Deferring procrastinate jobs inside the caller's database transaction."""

from __future__ import annotations

from procrastinate import manager
from procrastinate import tasks as procrastinate_tasks
from procrastinate.contrib.django.django_connector import DjangoConnector
from procrastinate.jobs import JobDeferrer

# A worker process swaps the app's connector for a psycopg pool, whose connections are not
# Django's. Deferring through Django's own connection instead makes the new queue rows part
# of the same transaction as the state change that asked for them: both commit, or neither.
_transactional_jobs = manager.JobManager(DjangoConnector())

PRIORITY_NORMAL = 0


def deferrer(
    task: procrastinate_tasks.Task,
    *,
    queue: str | None = None,
    queueing_lock: str | None = None,
    priority: int = PRIORITY_NORMAL,
) -> JobDeferrer:
    """Return a deferrer for the task that writes through Django's current connection."""
    return procrastinate_tasks.configure_task(
        name=task.name,
        job_manager=_transactional_jobs,
        queue=queue or task.queue,
        queueing_lock=queueing_lock,
        priority=priority,
    )


def transactional_job_manager() -> manager.JobManager:
    """procrastinate's job manager on Django's connection (usable in any sync code)."""
    return _transactional_jobs
