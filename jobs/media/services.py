"""What people ask of media jobs: create, cancel, retry, delete.

The web form, the API, the CLI and the admin call these, so they apply the same rules.
"""

from __future__ import annotations

import logging
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import connection, transaction
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from jobs import queueing
from jobs.media import routing
from jobs.media.capabilities import codec_refusal
from jobs.media.models import MediaJob
from jobs.media.parameters import OptionsInvalid, options_stored
from jobs.narration.models import Job
from jobs.storage import storage_delete_tree

logger = logging.getLogger("slidecast.media")

_EXTENSION = re.compile(r"\.([A-Za-z0-9]{1,8})$")


def _size_text(size: int) -> str:
    if size >= 1024**3:
        return f"{size / 1024**3:.1f} GB"
    return f"{size / 1024**2:.1f} MB"


def _check_upload(upload: File, name: str) -> None:
    size = upload.size or 0
    if size == 0:
        raise ValidationError({"source": f"{name} is empty (0 bytes): nothing to process."})
    limit = settings.SLIDECAST["MEDIA_MAX_BYTES"]
    if size > limit:
        raise ValidationError({"source": (
            f"{name} is {_size_text(size)}; the limit is {_size_text(limit)} "
            "(SLIDECAST_MEDIA_MAX_MB)."
        )})  # fmt: skip


def _check_source_job(*, owner, source_job: Job, operation: str, options: dict) -> None:
    if source_job.owner_id != owner.pk:
        raise ValidationError({"source_job": "There is no such narration job among yours."})
    if source_job.status != Job.Status.COMPLETED or not source_job.video:
        raise ValidationError({"source_job": (
            f"The narration job is {source_job.get_status_display().lower()}: only a completed "
            "job's video can be the input."
        )})  # fmt: skip
    if source_job.files_deleted_at:
        raise ValidationError(
            {"source_job": "The narration's files were removed by the retention cleanup."}
        )
    burn = operation == MediaJob.Operation.TRANSCODE and options.get("burn_captions")
    if burn and not source_job.captions_vtt:
        raise ValidationError({"parameters": "burn_captions: the narration has no captions."})


def media_job_create(
    *,
    owner,
    operation: str,
    parameters: dict | None = None,
    upload: File | None = None,
    title: str = "",
    source_job: Job | None = None,
    priority: int = queueing.PRIORITY_NORMAL,
    batch=None,
) -> MediaJob:
    """Check the request, store the input, create the job and queue it in one transaction.

    The input is an upload or a completed narration job's video. The upload is only sized
    here; the worker probes it with ffprobe before anything else.
    """
    if operation not in MediaJob.Operation.values:
        raise ValidationError({"operation": (
            f"Unknown operation {operation!r}; choose one of "
            f"{', '.join(MediaJob.Operation.values)}."
        )})  # fmt: skip
    try:
        options = options_stored(operation, parameters)
    except OptionsInvalid as exc:
        raise ValidationError(
            {"parameters": [f"{field}: {message}" for field, message in exc.problems.items()]}
        ) from exc
    if operation == MediaJob.Operation.TRANSCODE:
        refusal = codec_refusal(options["codec"])
        if refusal:
            raise ValidationError({"parameters": f"codec: {refusal}."})
    if (upload is None) == (source_job is None):
        raise ValidationError({"source": "Give either a file or a narration job, not both."})
    if source_job is not None:
        _check_source_job(owner=owner, source_job=source_job, operation=operation, options=options)
        title = title or f"{source_job.title.rsplit('.', 1)[0]}.mp4"
    else:
        title = (title or getattr(upload, "name", "") or "upload").replace("\x00", "")
        _check_upload(upload, title)
    if operation == MediaJob.Operation.TRANSCODE and options["burn_captions"] and not source_job:
        raise ValidationError(
            {"parameters": "burn_captions: only a Slidecast narration's video has captions."}
        )
    choice = routing.queue_for(operation)
    match = _EXTENSION.search(title)
    job = MediaJob(
        owner=owner,
        title=title[:255],
        operation=operation,
        parameters=options,
        source_job=source_job,
        source_extension=f".{match.group(1).lower()}" if match else ".bin",
        priority=priority,
        queue=choice.queue,
        queue_reason=choice.reason,
        batch=batch,
    )
    with transaction.atomic():
        if upload is not None:
            job.source.save("source", upload, save=False)
        job.save()
        _run_defer(job)
    logger.info("media job %s (%s) created for %s on %s", job.id, operation, owner, job.queue)
    return job


_TASKS = {
    MediaJob.Operation.TRANSCRIBE: queueing.MEDIA_TRANSCRIBE,
    MediaJob.Operation.PREVIEW: queueing.MEDIA_PREVIEW,
    MediaJob.Operation.TRANSCODE: queueing.MEDIA_TRANSCODE,
    MediaJob.Operation.HLS: queueing.MEDIA_TRANSCODE,
}


def _run_defer(job: MediaJob) -> None:
    queueing.defer(
        _TASKS[job.operation], queue=job.queue, priority=job.priority, media_job_id=str(job.id)
    )


def media_job_cancel(*, media_job: MediaJob) -> bool:
    """Cancel the job: a waiting run is cancelled, a running one aborted (ffmpeg is killed)."""
    with transaction.atomic():
        cancelled = (
            MediaJob.objects.filter(id=media_job.id)
            .exclude(status__in=MediaJob.FINISHED)
            .update(status=MediaJob.Status.CANCELLED, stage="", finished_at=timezone.now())
        )
        if not cancelled:
            return False
    pending = ProcrastinateJob.objects.filter(
        args__media_job_id=str(media_job.id), status__in=["todo", "doing"]
    )
    for queue_job_id in pending.values_list("id", flat=True):
        queueing.job_manager().cancel_job_by_id(queue_job_id, abort=True)
    if media_job.batch_id:
        batch_child_ended(media_job)
    logger.info("media job %s cancelled", media_job.id)
    return True


def batch_child_ended(media_job: MediaJob) -> None:
    """Let the job's batch see that one more child has ended (it may now be complete)."""
    queueing.defer(queueing.BATCH_ADVANCE, batch_id=str(media_job.batch_id))


@transaction.atomic
def media_job_retry(*, media_job: MediaJob) -> None:
    """Run a failed or cancelled job again from its input (routed anew)."""
    job = MediaJob.objects.select_for_update().get(id=media_job.id)
    if job.status not in (MediaJob.Status.FAILED, MediaJob.Status.CANCELLED):
        raise ValidationError(f"Only failed or cancelled jobs can be retried, not {job.status}.")
    if job.files_deleted_at:
        raise ValidationError("The job's files were removed by the retention cleanup.")
    choice = routing.queue_for(job.operation)
    job.status, job.progress, job.stage = MediaJob.Status.PENDING, 0, ""
    job.error = job.error_code = ""
    job.finished_at = None
    job.queue, job.queue_reason = choice.queue, choice.reason
    job.save()
    _run_defer(job)


def media_job_delete(*, media_job: MediaJob) -> None:
    """Delete a finished job and its files; a running job must be cancelled first."""
    if not media_job.is_finished:
        raise ValidationError(
            f"The job is still {media_job.status}; cancel it first, then delete it.",
            code="job_running",
        )
    storage_delete_tree(media_job.storage_prefix())
    media_job.delete()
    logger.info("media job %s deleted with its files", media_job.id)


def narration_preview_create(*, job_id: str) -> MediaJob | None:
    """Queue the preview of a completed narration (once); None when there is nothing to do."""
    job = Job.objects.select_related("owner").filter(id=job_id).first()
    if job is None or job.status != Job.Status.COMPLETED or not job.video:
        return None
    earlier = MediaJob.objects.filter(
        source_job=job, operation=MediaJob.Operation.PREVIEW, created_at__gte=job.finished_at
    ).first()
    if earlier is not None:
        return earlier
    # Just below the narration's own priority: narrations of that priority go first.
    return media_job_create(
        owner=job.owner, operation=MediaJob.Operation.PREVIEW, source_job=job,
        priority=job.priority - 1,
    )  # fmt: skip


def gpu_waiting_jobs_to_cpu() -> int:
    """Move media jobs that waited on `gpu` for the set time to `cpu`, while no worker serves gpu.

    Their queue rows move in the same transaction as the jobs' recorded choice; a run that a
    worker took meanwhile is left where it is (only rows still waiting move).
    """
    if not settings.SLIDECAST["MEDIA_GPU_FALLBACK"] or queueing.GPU in routing.served_queues():
        return 0
    seconds = settings.SLIDECAST["MEDIA_GPU_FALLBACK_SECONDS"]
    media_tasks = sorted(set(_TASKS.values()))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE procrastinate_jobs SET queue_name = %s
             WHERE queue_name = %s AND status = 'todo' AND task_name = ANY(%s)
               AND args->>'media_job_id' IN (
                   SELECT id::text FROM jobs_mediajob
                    WHERE created_at < now() - make_interval(secs => %s))
            RETURNING args->>'media_job_id'
            """,
            [queueing.CPU, queueing.GPU, media_tasks, seconds],
        )
        moved = [row[0] for row in cursor.fetchall() if row[0]]
        MediaJob.objects.filter(id__in=moved).update(
            queue=queueing.CPU,
            queue_reason=f"moved to cpu: no worker served the gpu queue for {seconds} s",
        )
    if moved:
        logger.warning("moved %d waiting media jobs from gpu to cpu", len(moved))
    return len(moved)
