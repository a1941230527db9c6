"""Putting procrastinate jobs into given states through procrastinate's own SQL functions."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from procrastinate import tasks as procrastinate_tasks

from jobs.queueing import job_manager


def defer(task_name: str = "tests.noop", *, queue: str = "cpu", **kwargs) -> int:
    deferrer = procrastinate_tasks.configure_task(
        name=task_name, job_manager=job_manager(), queue=queue
    )
    return deferrer.defer(**kwargs)


def start(job_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("UPDATE procrastinate_jobs SET status = 'doing' WHERE id = %s", [job_id])


def finish(job_id: int, status: str) -> None:
    """Run the job to its end, as a worker would: todo, doing, then the status."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_jobs SET status = 'doing' WHERE id = %s AND status = 'todo'",
            [job_id],
        )
        cursor.execute("SELECT procrastinate_finish_job_v1(%s, %s, false)", [job_id, status])


def cancel(job_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT procrastinate_cancel_job_v1(%s, false, false)", [job_id])


def backdate_events(job_id: int, age: timedelta) -> None:
    """Move a job's history into the past, as if it had happened `age` ago."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_events SET at = at - %s WHERE job_id = %s", [age, job_id]
        )


def status_of(job_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT status FROM procrastinate_jobs WHERE id = %s", [job_id])
        return cursor.fetchone()[0]
