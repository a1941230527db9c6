"""The pause relies on procrastinate's table; these tests fail loudly when that changes."""

from __future__ import annotations

from django.db import connection
from procrastinate.contrib.django.models import ProcrastinateJob

from jobs import queueing
from jobs.operations import queue_pause
from tests.jobs.queue_helpers import defer


def _held_back(queue_job_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT scheduled_at = 'infinity' FROM procrastinate_jobs WHERE id = %s",
            [queue_job_id],
        )
        return bool(cursor.fetchone()[0])


def test_procrastinate_still_has_what_the_pause_trigger_needs(db):
    assert queue_pause.queue_table_contract_problems() == []


def test_the_contract_check_notices_a_changed_table(db):
    with connection.cursor() as cursor:  # rolled back with the test's transaction
        cursor.execute("ALTER TABLE procrastinate_jobs RENAME COLUMN scheduled_at TO run_at")
    problems = queue_pause.queue_table_contract_problems()
    assert any("scheduled_at is missing" in problem for problem in problems)


def test_resume_restores_schedules_and_wakes_the_queue_with_a_documented_defer(db):
    queue_pause.queue_pause(queue_name="cpu", by="test")
    held = defer("tests.noop", queue="cpu")
    assert _held_back(held)
    assert queue_pause.queue_resume(queue_name="cpu") == 1
    assert not _held_back(held)
    assert ProcrastinateJob.objects.get(id=held).scheduled_at is None
    wake = ProcrastinateJob.objects.filter(task_name=queueing.PING, queue_name="cpu")
    assert wake.count() == 1
    assert queue_pause.paused_queues() == set()
