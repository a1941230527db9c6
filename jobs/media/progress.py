"""How a media job records its run: the claim, progress, outputs, and the end.

Each write checks the job's state in the same statement, so a cancelled job records nothing
more and a retried run cannot complete it twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from jobs import queueing
from jobs.media.models import MediaArtifact, MediaJob

logger = logging.getLogger("slidecast.media")


@dataclass(frozen=True)
class StoredArtifact:
    kind: str
    name: str
    file_name: str  # the stored file's name in the storage backend
    content_type: str
    size_bytes: int
    duration_seconds: float | None = None
    codec: str = ""
    width: int | None = None
    height: int | None = None
    details: dict = field(default_factory=dict)


def media_job_claim(*, media_job_id: str) -> MediaJob | None:
    """Mark the job running and return it; None when it was cancelled or has ended."""
    claimed = MediaJob.objects.filter(
        id=media_job_id, status__in=[MediaJob.Status.PENDING, MediaJob.Status.RUNNING]
    ).update(
        status=MediaJob.Status.RUNNING,
        progress=0,
        stage="reading the input",
        error="",
        error_code="",
        started_at=Coalesce(F("started_at"), Value(timezone.now())),
    )
    if not claimed:
        return None
    return MediaJob.objects.select_related("source_job", "owner").get(id=media_job_id)


def media_job_probed(*, media_job_id: str, media_info: dict) -> None:
    MediaJob.objects.filter(id=media_job_id, status=MediaJob.Status.RUNNING).update(
        media_info=media_info
    )


def media_job_progress(*, media_job_id: str, percent: int, stage: str) -> bool:
    """Record progress; False when the job is no longer running (cancelled meanwhile)."""
    return (
        MediaJob.objects.filter(id=media_job_id, status=MediaJob.Status.RUNNING).update(
            progress=max(0, min(99, percent)), stage=stage[:100]
        )
        == 1
    )


def media_job_complete(
    *,
    media_job_id: str,
    artifacts: Sequence[StoredArtifact],
    word_error_rate: float | None = None,
    script_check: dict | None = None,
) -> bool:
    """Store the outputs and end the job as completed; False when it ended meanwhile."""
    with transaction.atomic():
        job = MediaJob.objects.select_for_update().filter(id=media_job_id).first()
        if job is None or job.status != MediaJob.Status.RUNNING:
            return False
        job.artifacts.all().delete()  # an earlier run that stored and then failed
        MediaArtifact.objects.bulk_create(
            MediaArtifact(
                media_job=job,
                kind=item.kind,
                name=item.name,
                file=item.file_name,
                content_type=item.content_type,
                size_bytes=item.size_bytes,
                duration_seconds=item.duration_seconds,
                codec=item.codec,
                width=item.width,
                height=item.height,
                details=item.details,
            )
            for item in artifacts
        )
        job.status = MediaJob.Status.COMPLETED
        job.progress = 100
        job.stage = ""
        job.finished_at = timezone.now()
        job.word_error_rate = word_error_rate
        job.script_check = script_check or {}
        job.save()
        _batch_advance_defer(job.batch_id)
    logger.info("media job %s completed with %d files", media_job_id, len(artifacts))
    return True


def media_job_fail(*, media_job_id: str, message: str, code: str) -> bool:
    """End the job as failed with a readable reason, unless it had already ended."""
    failed = (
        MediaJob.objects.filter(id=media_job_id)
        .exclude(status__in=MediaJob.FINISHED)
        .update(
            status=MediaJob.Status.FAILED,
            error=message,
            error_code=code,
            stage="",
            finished_at=timezone.now(),
        )
    )
    if failed:
        logger.warning("media job %s failed (%s): %s", media_job_id, code, message)
        _batch_advance_defer(
            MediaJob.objects.values_list("batch_id", flat=True).get(id=media_job_id)
        )
    return failed == 1


def _batch_advance_defer(batch_id) -> None:
    if batch_id:
        queueing.defer(queueing.BATCH_ADVANCE, batch_id=str(batch_id))


def media_job_note_retry(*, media_job_id: str, message: str) -> None:
    """Show that a transient error happened and the run will be tried again."""
    MediaJob.objects.filter(id=media_job_id, status=MediaJob.Status.RUNNING).update(
        error=f"Retrying after: {message}"
    )


def media_job_waiting(*, media_job_id: str, reason: str) -> None:
    """Say why a job that a worker took has not started yet (its family's slots are full)."""
    MediaJob.objects.filter(
        id=media_job_id, status__in=[MediaJob.Status.PENDING, MediaJob.Status.RUNNING]
    ).update(stage=reason[:100])
