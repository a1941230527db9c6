"""The nightly cleanup: what is past retention goes (queue jobs, job files, cache, temp folders)."""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from asgiref.sync import async_to_sync
from django.conf import settings
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob, ProcrastinateWorker

from jobs.access.services import api_rate_windows_prune
from jobs.media.models import MediaJob
from jobs.narration.content_cache import cached_artifacts_expire
from jobs.narration.models import Job
from jobs.operations.models import DeadLetter, WorkerHost
from jobs.operations.queue_pause import held_jobs_prune
from jobs.operations.workers import resource_samples_prune
from jobs.queueing import job_manager
from jobs.storage import storage_delete_tree, work_root

logger = logging.getLogger("slidecast.operations")


def _oversight(key: str):
    return settings.OVERSIGHT[key]


@dataclass
class CleanupReport:
    queue_jobs: int = 0
    job_files: int = 0
    jobs_expired: list[str] = field(default_factory=list)
    temp_folders: int = 0
    dead_letters: int = 0
    samples: int = 0
    workers: int = 0
    cache_entries: int = 0
    cache_bytes: int = 0


def cleanup_run() -> CleanupReport:
    """Delete what is past retention: finished queue jobs, job files, temporary folders."""
    report = CleanupReport()
    now = timezone.now()
    queue_days = _oversight("QUEUE_RETENTION_DAYS")
    before = ProcrastinateJob.objects.count()
    async_to_sync(job_manager().delete_old_jobs)(
        nb_hours=queue_days * 24, include_failed=True, include_cancelled=True, include_aborted=True
    )
    report.queue_jobs = before - ProcrastinateJob.objects.count()
    held_jobs_prune()
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
            files_deleted_at=now,
            stored_bytes=0,
            deck="",
            video="",
            captions_srt="",
            captions_vtt="",
            chapters_vtt="",
            notes_sidecar="",
        )
        job.slides.update(image="", audio="")
        report.jobs_expired.append(str(job.id))
    expired_media = MediaJob.objects.filter(
        status__in=MediaJob.FINISHED, finished_at__lt=output_cutoff, files_deleted_at__isnull=True
    )
    for media_job in expired_media:
        report.job_files += storage_delete_tree(media_job.storage_prefix())
        MediaJob.objects.filter(id=media_job.id).update(files_deleted_at=now, source="")
        media_job.artifacts.all().delete()
        report.jobs_expired.append(str(media_job.id))

    # A cached slide is kept as long as a job's files would be, from its last use.
    report.cache_entries, report.cache_bytes = cached_artifacts_expire(unused_since=output_cutoff)
    report.temp_folders = _remove_old_temp_folders(_oversight("TEMP_MAX_AGE_HOURS"))
    api_rate_windows_prune()
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
    return list(ProcrastinateWorker.objects.values_list("id", flat=True))
