"""Every change of a job's or slide's state goes through these functions."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.utils import timezone
from procrastinate.exceptions import AlreadyEnqueued

from jobs.models import Job, Persona, Slide
from jobs.pipeline_config import speech_engines
from jobs.queueing import deferrer

logger = logging.getLogger("slidecast.services")

# Progress is shared out between the steps by their usual share of the time.
PROGRESS_RENDERED = 20
PROGRESS_NARRATED = 85
PROGRESS_DONE = 100


@dataclass(frozen=True)
class RenderedSlide:
    source_number: int
    notes: str
    image_name: str


def job_create(
    *,
    owner,
    deck: File,
    title: str,
    persona: Persona,
    resolution: str = Job.Resolution.FULL_HD,
    padding_seconds: float = 0.5,
    empty_slide_seconds: float = 3.0,
) -> Job:
    """Store the upload, create its job and queue its first step once the row is committed."""
    if persona.status != Persona.Status.ACTIVE:
        raise ValidationError({"persona": f"The persona {persona.name!r} is disabled."})
    job = Job(
        owner=owner,
        title=title[:255],
        persona=persona,
        resolution=resolution,
        padding_seconds=padding_seconds,
        empty_slide_seconds=empty_slide_seconds,
    )
    job.full_clean(exclude=["deck"])
    with transaction.atomic():
        job.deck.save("deck.pptx", deck, save=False)
        job.save()
        from jobs.tasks import decompose

        deferrer(decompose).defer(job_id=str(job.id))
    logger.info("job %s created for %s", job.id, owner)
    return job


def job_start_decomposition(*, job_id: str) -> bool:
    """Mark the job as rendering; False when it was cancelled, failed or is already past it."""
    claimed = Job.objects.filter(
        id=job_id, status__in=[Job.Status.PENDING, Job.Status.PROCESSING_SLIDES]
    ).update(status=Job.Status.PROCESSING_SLIDES, progress=2, error="", error_code="")
    Job.objects.filter(id=job_id, started_at__isnull=True).update(started_at=timezone.now())
    return claimed == 1


@transaction.atomic
def job_slides_create(*, job_id: str, slides: Sequence[RenderedSlide]) -> bool:
    """Create the job's slides and queue one narration per slide, all in one transaction."""
    job = Job.objects.select_for_update().select_related("persona").get(id=job_id)
    if job.status != Job.Status.PROCESSING_SLIDES:
        return False
    created = Slide.objects.bulk_create(
        Slide(
            job=job,
            index=index,
            source_number=slide.source_number,
            notes=slide.notes,
            image=slide.image_name,
        )
        for index, slide in enumerate(slides, start=1)
    )
    job.slide_count = len(created)
    job.status = Job.Status.SYNTHESIZING_AUDIO
    job.progress = PROGRESS_RENDERED
    job.error = ""
    job.save(update_fields=["slide_count", "status", "progress", "error"])
    from jobs.tasks import narrate_slide

    queue = speech_engines().queue_for(job.persona.tts_engine)
    deferrer(narrate_slide, queue=queue).batch_defer(
        *({"job_id": str(job.id), "slide_id": slide.id} for slide in created)
    )
    return True


def slide_start_narration(*, slide_id: int) -> bool:
    """Mark the slide as being narrated; False when its job no longer wants narration."""
    return (
        Slide.objects.filter(
            id=slide_id,
            job__status=Job.Status.SYNTHESIZING_AUDIO,
            status__in=[Slide.Status.RENDERED, Slide.Status.NARRATING, Slide.Status.FAILED],
        ).update(status=Slide.Status.NARRATING, error="")
        == 1
    )


@transaction.atomic
def slide_narration_store(
    *, slide_id: int, audio_name: str, duration_seconds: float, cues: list[dict]
) -> bool:
    """Record a slide's narration; return True when it was the last one and assembly is queued.

    Slides of one job finish on many workers at once. Locking the job row serialises them,
    so exactly one of them sees no slide left to narrate and queues the assembly.
    """
    job_id = Slide.objects.values_list("job_id", flat=True).get(id=slide_id)
    job = Job.objects.select_for_update().get(id=job_id)
    if job.status != Job.Status.SYNTHESIZING_AUDIO:
        return False
    Slide.objects.filter(id=slide_id).update(
        audio=audio_name,
        duration_seconds=duration_seconds,
        cues=cues,
        status=Slide.Status.NARRATED,
        error="",
    )
    total = job.slides.count()
    remaining = job.slides.exclude(status=Slide.Status.NARRATED).count()
    narrated_share = (total - remaining) / total
    job.progress = round(
        PROGRESS_RENDERED + (PROGRESS_NARRATED - PROGRESS_RENDERED) * narrated_share
    )
    job.error = ""  # a note about an earlier retry no longer applies
    if remaining:
        job.save(update_fields=["progress", "error"])
        return False
    job.status = Job.Status.ASSEMBLING_VIDEO
    job.save(update_fields=["progress", "error", "status"])
    from jobs.tasks import assemble

    try:
        # The row lock is what makes this happen once; the queueing lock is a second guard.
        with transaction.atomic():
            deferrer(assemble, queueing_lock=f"assemble:{job.id}").defer(job_id=str(job.id))
    except AlreadyEnqueued:
        logger.warning("assembly of job %s was already queued", job.id)
    return True


def job_start_assembly(*, job_id: str) -> bool:
    return Job.objects.filter(id=job_id, status=Job.Status.ASSEMBLING_VIDEO).exists()


def job_complete(
    *,
    job_id: str,
    video_name: str,
    srt_name: str,
    vtt_name: str,
    duration_seconds: float,
) -> bool:
    """Mark the job completed with its outputs; False when it was cancelled meanwhile."""
    return (
        Job.objects.filter(id=job_id, status=Job.Status.ASSEMBLING_VIDEO).update(
            status=Job.Status.COMPLETED,
            progress=PROGRESS_DONE,
            video=video_name,
            captions_srt=srt_name,
            captions_vtt=vtt_name,
            duration_seconds=duration_seconds,
            finished_at=timezone.now(),
            error="",
            error_code="",
        )
        == 1
    )


def job_fail(*, job_id: str, message: str, code: str, slide_id: int | None = None) -> bool:
    """Store a readable reason and end the job as failed, unless it had already ended."""
    with transaction.atomic():
        if slide_id is not None:
            Slide.objects.filter(id=slide_id).update(status=Slide.Status.FAILED, error=message)
        failed = (
            Job.objects.filter(id=job_id)
            .exclude(status__in=Job.FINISHED)
            .update(
                status=Job.Status.FAILED,
                error=message,
                error_code=code,
                finished_at=timezone.now(),
            )
        )
    if failed:
        logger.warning("job %s failed (%s): %s", job_id, code, message)
    return failed == 1


def job_note_retry(*, job_id: str, message: str) -> None:
    """Show a transient problem on the job while the step waits to be retried."""
    Job.objects.filter(id=job_id).exclude(status__in=Job.FINISHED).update(
        error=f"Retrying after a temporary problem: {message}"
    )


def job_cancel(*, job: Job) -> bool:
    """Cancel the job: queued steps are dropped, running ones stop at their next check."""
    from procrastinate.contrib.django.models import ProcrastinateJob

    with transaction.atomic():
        cancelled = (
            Job.objects.filter(id=job.id)
            .exclude(status__in=Job.FINISHED)
            .update(status=Job.Status.CANCELLED, finished_at=timezone.now())
        )
        if not cancelled:
            return False
    queued = ProcrastinateJob.objects.filter(args__job_id=str(job.id), status="todo")
    from procrastinate.contrib.django import app

    for queued_id in queued.values_list("id", flat=True):
        app.job_manager.cancel_job_by_id(queued_id, abort=True)
    logger.info("job %s cancelled", job.id)
    return True
