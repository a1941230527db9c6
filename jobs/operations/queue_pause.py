"""Pausing a queue: its waiting jobs stay waiting until it is resumed; running ones finish.

procrastinate has no pause. A worker's queues are fixed when it starts, and jobs reach the
table from paths Slidecast does not own (a retry after a failure, the periodic deferrer), so
the hold has to sit on the table itself: migration 0004's trigger schedules a paused queue's
`todo` jobs at 'infinity' and keeps their own schedule in slidecast_held_jobs. That trigger
is the one place Slidecast relies on procrastinate's table layout; everything it relies on
is listed in QUEUE_TABLE_CONTRACT and checked by `queue_table_contract_problems`, which the
test suite runs, so an upgrade of procrastinate that changes any of it fails loudly.
"""

from __future__ import annotations

import logging

from django.db import connection, transaction

from jobs import queueing
from jobs.operations.models import QueuePause

logger = logging.getLogger("slidecast.operations")

QUEUE_TABLE = "procrastinate_jobs"
# Column -> PostgreSQL type the trigger and the resume statement rely on.
QUEUE_TABLE_CONTRACT = {
    "id": "bigint",
    "queue_name": "character varying",
    "status": "USER-DEFINED",
    "scheduled_at": "timestamp with time zone",
}
# procrastinate's workers fetch jobs in this status whose scheduled_at has passed.
WAITING_STATUS = "todo"
# The fetch function must still filter on scheduled_at, or holding by schedule stops working.
FETCH_FUNCTION = "procrastinate_fetch_job_v2"


def queue_table_contract_problems() -> list[str]:
    """Return what no longer holds of what the pause trigger needs from procrastinate."""
    problems = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s",
            [QUEUE_TABLE],
        )
        columns = dict(cursor.fetchall())
        cursor.execute(
            "SELECT e.enumlabel FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid "
            "WHERE t.typname = 'procrastinate_job_status'"
        )
        statuses = {row[0] for row in cursor.fetchall()}
        cursor.execute(
            "SELECT pg_get_functiondef(p.oid) FROM pg_proc p WHERE p.proname = %s", [FETCH_FUNCTION]
        )
        fetch_definitions = [row[0] for row in cursor.fetchall()]
    for column, data_type in QUEUE_TABLE_CONTRACT.items():
        if columns.get(column) != data_type:
            problems.append(
                f"{QUEUE_TABLE}.{column} is {columns.get(column, 'missing')}, not {data_type}"
            )
    if WAITING_STATUS not in statuses:
        problems.append(f"procrastinate_job_status has no {WAITING_STATUS!r} value")
    if not any("scheduled_at" in definition for definition in fetch_definitions):
        problems.append(f"{FETCH_FUNCTION} is missing or no longer filters on scheduled_at")
    return problems


def _lock_queue_table() -> None:
    # Waits for transactions that are inserting jobs right now and keeps new ones out until
    # this one commits, so no job slips between the pause state and the held rows.
    with connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {QUEUE_TABLE} IN SHARE ROW EXCLUSIVE MODE")


@transaction.atomic
def queue_pause(*, queue_name: str, by: str = "") -> bool:
    """Hold the queue's waiting jobs back from every worker; False when it was paused already."""
    _lock_queue_table()
    _, created = QueuePause.objects.get_or_create(queue_name=queue_name, defaults={"paused_by": by})
    with connection.cursor() as cursor:
        # Touching scheduled_at fires the trigger of migration 0004, which holds the job.
        cursor.execute(
            f"UPDATE {QUEUE_TABLE} SET scheduled_at = scheduled_at "
            "WHERE status = %s AND queue_name = %s",
            [WAITING_STATUS, queue_name],
        )
    if created:
        logger.warning("queue %s paused by %s", queue_name, by or "an operator")
    return created


@transaction.atomic
def queue_resume(*, queue_name: str) -> int:
    """Release the queue's held jobs to the workers; return how many were released."""
    _lock_queue_table()
    if not QueuePause.objects.filter(queue_name=queue_name).delete()[0]:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH released AS (
                UPDATE {QUEUE_TABLE} AS jobs
                   SET scheduled_at = held.original_scheduled_at
                  FROM slidecast_held_jobs AS held
                 WHERE jobs.id = held.job_id AND jobs.queue_name = %s
             RETURNING jobs.id
            )
            DELETE FROM slidecast_held_jobs WHERE job_id IN (SELECT id FROM released)
            """,
            [queue_name],
        )
        released = cursor.rowcount
    if released:
        # Workers sleep until a job is inserted on their queue (or their next poll): a no-op
        # job wakes them now, and they then fetch the released ones too.
        queueing.defer(queueing.PING, queue=queue_name, sent_at=0.0)
    logger.warning("queue %s resumed: %d waiting jobs released", queue_name, released)
    return released


def held_jobs_prune() -> int:
    """Forget held schedules of queue jobs that no longer exist; return how many."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM slidecast_held_jobs WHERE job_id NOT IN (SELECT id FROM {QUEUE_TABLE})"
        )
        return cursor.rowcount


def paused_queues() -> set[str]:
    return set(QueuePause.objects.values_list("queue_name", flat=True))
