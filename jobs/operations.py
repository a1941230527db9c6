"""Operating the queues: pause and resume, bulk actions, dead letters, rescue, cleanup, alerts."""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.mail import mail_admins
from django.db import connection, transaction
from django.utils import timezone
from procrastinate import sql
from procrastinate.jobs import Job as QueueJob

from jobs import services
from jobs.models import ApiRateWindow, DeadLetter, Incident, Job, QueuePause, WorkerHost
from jobs.pipeline_config import work_root
from jobs.queueing import transactional_job_manager
from jobs.storage import storage_delete_tree

logger = logging.getLogger("slidecast.operations")

FINAL_STATUSES = ["succeeded", "failed", "cancelled", "aborted"]


def _oversight(key: str):
    return settings.OVERSIGHT[key]


# Pause and resume ---------------------------------------------------------------------


def _lock_queue_table() -> None:
    # Waits for transactions that are inserting jobs right now and keeps new ones out until
    # this one commits, so no job slips between the pause state and the held rows.
    with connection.cursor() as cursor:
        cursor.execute("LOCK TABLE procrastinate_jobs IN SHARE ROW EXCLUSIVE MODE")


@transaction.atomic
def queue_pause(*, queue_name: str, by: str = "") -> bool:
    """Hold the queue's waiting jobs back from every worker; running ones finish."""
    _lock_queue_table()
    _, created = QueuePause.objects.get_or_create(queue_name=queue_name, defaults={"paused_by": by})
    with connection.cursor() as cursor:
        # Touching scheduled_at fires the trigger of migration 0004, which holds the job.
        cursor.execute(
            "UPDATE procrastinate_jobs SET scheduled_at = scheduled_at "
            "WHERE status = 'todo' AND queue_name = %s",
            [queue_name],
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
            """
            WITH released AS (
                UPDATE procrastinate_jobs AS jobs
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
        # Workers wake on this notification instead of at their next poll.
        payload = '{"type": "job_inserted", "job_id": 0}'
        cursor.execute(
            "SELECT pg_notify('procrastinate_queue_v1#' || %s, %s), "
            "pg_notify('procrastinate_any_queue_v1', %s)",
            [queue_name, payload, payload],
        )
    logger.warning("queue %s resumed: %d waiting jobs released", queue_name, released)
    return released


def paused_queues() -> set[str]:
    return set(QueuePause.objects.values_list("queue_name", flat=True))


# Actions on queue jobs ----------------------------------------------------------------


def queue_jobs_retry(job_ids: Iterable[int]) -> int:
    """Put failed jobs back in the queue, to run now; return how many were.

    Running jobs are not retried here (their worker may be alive: the rescue task hands back
    those of dead workers), and procrastinate cannot retry cancelled or aborted ones.
    """
    manager = transactional_job_manager()
    count = 0
    for job_id in job_ids:
        if manager.get_job_status(job_id).value == "failed":
            manager.retry_job_by_id(job_id=job_id, retry_at=timezone.now())
            count += 1
    return count


def queue_jobs_cancel(job_ids: Iterable[int]) -> int:
    manager = transactional_job_manager()
    return sum(1 for job_id in job_ids if manager.cancel_job_by_id(job_id, abort=False))


def queue_jobs_abort(job_ids: Iterable[int]) -> int:
    manager = transactional_job_manager()
    return sum(1 for job_id in job_ids if manager.cancel_job_by_id(job_id, abort=True))


# Dead letters -------------------------------------------------------------------------


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
        job=Job.objects.filter(id=job_id).first() if _is_uuid(job_id) else None,
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
        step = services.job_retry(job=letter.job)
        outcome = f"job retried from {step}"
    elif queue_jobs_retry([letter.procrastinate_job_id]):
        outcome = "queue job retried"
    else:
        outcome = "nothing to retry: the job is no longer failed"
    DeadLetter.objects.filter(id=letter.id).update(retried_at=timezone.now())
    return outcome


def _is_uuid(value) -> bool:
    import uuid

    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return value is not None


# Rescue of jobs held by dead workers --------------------------------------------------


def stalled_jobs_rescue() -> list[int]:
    """Put running jobs of workers whose heartbeat stopped back in the queue; return them.

    A worker killed with SIGKILL leaves its jobs "doing" forever. Retrying them is safe:
    every step checks the job's state before it starts and again before it records its
    result, so a step that did finish elsewhere is not recorded twice.
    """
    from jobs.tasks import RETRY

    seconds = _oversight("STALLED_WORKER_SECONDS")
    manager = transactional_job_manager()
    with connection.cursor() as cursor:
        cursor.execute(
            sql.queries["select_stalled_jobs_by_heartbeat"],
            {"queue": None, "task_name": None, "seconds_since_heartbeat": seconds},
        )
        stalled = [QueueJob.from_row(row) for row in _dict_rows(cursor)]
    rescued = []
    for queue_job in stalled:
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
    with connection.cursor() as cursor:
        cursor.execute(sql.queries["prune_stalled_workers"], {"seconds_since_heartbeat": seconds})
    return rescued


def _dict_rows(cursor) -> list[dict]:
    columns = [column[0] for column in cursor.description]
    rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    for row in rows:
        # Django's connection leaves jsonb as text; procrastinate's Job wants a dict.
        if isinstance(row.get("args"), str):
            row["args"] = json.loads(row["args"])
    return rows


def _give_up(queue_job: QueueJob) -> None:
    """A job whose worker died on every attempt (a crash, the time limit): fail it for good."""
    message = (
        f"The worker running this step stopped {queue_job.attempts + 1} times (it crashed, "
        "ran out of memory or passed SLIDECAST_TASK_TIME_LIMIT_SECONDS). Try a smaller deck, "
        "or tell the operators."
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT procrastinate_finish_job_v1(%s, 'failed', false)", [queue_job.id])
        job_id = (queue_job.task_kwargs or {}).get("job_id")
        if _is_uuid(job_id):
            # A lost assembly may since have been replaced by a newer one: only its own claim
            # may fail the job.
            claim = queue_job.id if queue_job.task_name == "slidecast.assemble" else None
            services.job_fail(
                job_id=str(job_id), message=message, code="worker_lost", assembly_claim=claim
            )
    dead_letter_record(
        queue_job=queue_job,
        exception=RuntimeError(message),
        formatted_traceback="(no traceback: the worker process was gone)",
    )
    logger.error("queue job %s failed for good: its worker stopped on every attempt", queue_job.id)


# Cleanup ------------------------------------------------------------------------------


@dataclass
class CleanupReport:
    queue_jobs: int = 0
    job_files: int = 0
    jobs_expired: list[str] = field(default_factory=list)
    temp_folders: int = 0
    dead_letters: int = 0
    samples: int = 0
    workers: int = 0


def cleanup_run() -> CleanupReport:
    """Delete what is past retention: finished queue jobs, job files, temporary folders."""
    from jobs.workers import resource_samples_prune

    report = CleanupReport()
    now = timezone.now()
    queue_days = _oversight("QUEUE_RETENTION_DAYS")
    with connection.cursor() as cursor:
        cursor.execute(
            sql.queries["delete_old_jobs"],
            {"statuses": FINAL_STATUSES, "queue": None, "nb_hours": queue_days * 24},
        )
        report.queue_jobs = cursor.rowcount
        cursor.execute(
            "DELETE FROM slidecast_held_jobs "
            "WHERE job_id NOT IN (SELECT id FROM procrastinate_jobs)"
        )
    report.dead_letters, _ = DeadLetter.objects.filter(
        failed_at__lt=now - timedelta(days=queue_days)
    ).delete()

    output_cutoff = now - timedelta(days=_oversight("OUTPUT_RETENTION_DAYS"))
    expired = Job.objects.filter(
        status__in=Job.FINISHED, finished_at__lt=output_cutoff, files_deleted_at__isnull=True
    )
    for job in expired:
        report.job_files += storage_delete_tree(job.storage_prefix())
        Job.objects.filter(id=job.id).update(
            files_deleted_at=now, deck="", video="", captions_srt="", captions_vtt=""
        )
        job.slides.update(image="", audio="")
        report.jobs_expired.append(str(job.id))

    report.temp_folders = _remove_old_temp_folders(_oversight("TEMP_MAX_AGE_HOURS"))
    ApiRateWindow.objects.filter(window_start__lt=now - timedelta(hours=1)).delete()
    report.samples = resource_samples_prune()
    report.workers, _ = WorkerHost.objects.exclude(worker_id__in=_live_worker_ids()).delete()
    logger.info("cleanup done", extra={"cleanup": report.__dict__})
    return report


def _remove_old_temp_folders(max_age_hours: int) -> int:
    cutoff = time.time() - max_age_hours * 3600
    removed = 0
    for folder in Path(work_root()).glob("slidecast-*"):
        try:
            if folder.is_dir() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        except FileNotFoundError:
            continue
    return removed


def _live_worker_ids() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM procrastinate_workers")
        return [row[0] for row in cursor.fetchall()]


# Alerts -------------------------------------------------------------------------------


def alerts_check() -> list[Incident]:
    """Open an incident (one mail, one log line) when a queue passes a threshold; close it
    when the queue is back to normal. Return the incidents opened now."""
    from jobs.dashboard import queue_failure_rates, queue_latencies

    opened: list[Incident] = []
    limit = _oversight("ALERT_LATENCY_SECONDS")
    latencies = queue_latencies()
    rates = queue_failure_rates(
        window=timedelta(minutes=_oversight("ALERT_WINDOW_MINUTES")),
        min_finished=_oversight("ALERT_MIN_FINISHED"),
    )
    queues = set(settings.SLIDECAST_QUEUES) | set(latencies) | set(rates)
    paused = paused_queues()
    for queue in sorted(queues):
        latency = latencies.get(queue)
        late = latency is not None and latency > limit and queue not in paused
        detail = f"The oldest waiting job on queue {queue!r} has waited {latency or 0:.0f} s " \
                 f"(threshold {limit} s)."  # fmt: skip
        opened += _incident_update(Incident.Kind.LATENCY, queue, late, detail)
        rate = rates.get(queue)
        threshold = _oversight("ALERT_FAILURE_RATE")
        failing = rate is not None and rate > threshold
        detail = f"{(rate or 0):.0%} of the jobs finished on queue {queue!r} in the last " \
                 f"{_oversight('ALERT_WINDOW_MINUTES')} minutes failed " \
                 f"(threshold {threshold:.0%})."  # fmt: skip
        opened += _incident_update(Incident.Kind.FAILURE_RATE, queue, failing, detail)
    return opened


def _incident_update(kind: str, queue: str, active: bool, detail: str) -> list[Incident]:
    current = Incident.objects.filter(kind=kind, queue_name=queue, resolved_at__isnull=True)
    if not active:
        for incident in current:
            Incident.objects.filter(id=incident.id).update(resolved_at=timezone.now())
            logger.warning("incident resolved: %s", incident, extra={"incident_id": incident.id})
        return []
    if current.exists():
        return []
    incident = Incident.objects.create(kind=kind, queue_name=queue, detail=detail)
    logger.error("incident opened: %s: %s", incident, detail, extra={"incident_id": incident.id})
    mail_admins(f"Slidecast alert: {incident}", detail + "\n\nSee the dashboard: /admin/oversight/")
    return [incident]
