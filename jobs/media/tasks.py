"""The media jobs' procrastinate tasks: run a job, and preview each finished narration."""

from __future__ import annotations

import logging

from procrastinate import JobContext
from procrastinate.exceptions import JobAborted

from jobs import queueing
from jobs.media import batches, progress, services, steps
from jobs.media.batch_archive import batch_archive_build
from jobs.narration.tasks import stop_check
from jobs.queueing import RETRY, app
from media_pipeline.errors import PipelineError

logger = logging.getLogger("slidecast.tasks")


def _run(context: JobContext, media_job_id: str) -> None:
    final_attempt = RETRY.is_last_run(context.job)
    try:
        steps.run_media_job(
            media_job_id=media_job_id, check=stop_check(context, doing="processing the media")
        )
    except JobAborted:
        logger.info("media job %s: stopped (cancelled)", media_job_id)
        raise
    except PipelineError as exc:
        if exc.permanent or final_attempt:
            progress.media_job_fail(media_job_id=media_job_id, message=exc.message, code=exc.code)
        else:
            progress.media_job_note_retry(media_job_id=media_job_id, message=exc.message)
        raise
    except Exception as exc:
        logger.exception("media job %s: unexpected error", media_job_id)
        if final_attempt:
            progress.media_job_fail(
                media_job_id=media_job_id,
                message=(
                    f"Slidecast hit an internal error while processing the media "
                    f"({type(exc).__name__}). Try again; if it fails again, tell the operators."
                ),
                code="internal_error",
            )
        else:
            progress.media_job_note_retry(
                media_job_id=media_job_id, message=f"internal error ({type(exc).__name__})"
            )
        raise


# The queue is chosen per job when it is deferred (jobs.media.routing); the three names
# share one body and differ in their family's limits.
@app.task(name=queueing.MEDIA_TRANSCRIBE, queue=queueing.CPU, retry=RETRY, pass_context=True)
def media_transcribe(context: JobContext, *, media_job_id: str) -> None:
    _run(context, media_job_id)


@app.task(name=queueing.MEDIA_PREVIEW, queue=queueing.CPU, retry=RETRY, pass_context=True)
def media_preview(context: JobContext, *, media_job_id: str) -> None:
    _run(context, media_job_id)


@app.task(name=queueing.MEDIA_TRANSCODE, queue=queueing.CPU, retry=RETRY, pass_context=True)
def media_transcode(context: JobContext, *, media_job_id: str) -> None:
    _run(context, media_job_id)


@app.task(name=queueing.NARRATION_PREVIEW, queue=queueing.CPU, retry=RETRY)
def narration_preview(*, job_id: str) -> None:
    services.narration_preview_create(job_id=job_id)


@app.periodic(cron="* * * * *")
@app.task(
    name=queueing.REROUTE_GPU_JOBS, queue=queueing.CPU, priority=queueing.PRIORITY_MAINTENANCE
)
def reroute_gpu_jobs(timestamp: int) -> None:
    services.gpu_waiting_jobs_to_cpu()


@app.task(name=queueing.BATCH_ADVANCE, queue=queueing.CPU, retry=RETRY)
def batch_advance(*, batch_id: str | None = None, job_id: str | None = None) -> None:
    """A child of a batch ended: a narration gets its transcodes; the batch may be done."""
    if job_id:
        batches.batch_narration_ended(job_id=job_id)
    elif batch_id:
        batches.batch_check(batch_id=batch_id)


@app.task(name=queueing.BATCH_ARCHIVE, queue=queueing.CPU, retry=RETRY)
def batch_archive(*, batch_id: str) -> None:
    batch_archive_build(batch_id=batch_id)
