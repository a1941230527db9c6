"""How a deck job moves through its steps: claims, results, failure, and queueing the next step.

The steps call these as they run; each checks the job's state in the same statement or
under a row lock, so a retried or duplicated step cannot record twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from procrastinate.exceptions import AlreadyEnqueued

from jobs import queueing
from jobs.integrations.webhooks import webhook_event_enqueue
from jobs.narration.models import Job, Slide
from jobs.narration.selectors import job_api_payload
from jobs.narration.slide_rows import slides_update_by_index
from jobs.speech import speech_engines

logger = logging.getLogger("slidecast.services")

# Progress is shared out between the steps by their usual share of the time.
PROGRESS_RENDERED = 20
PROGRESS_NARRATED = 85
PROGRESS_DONE = 100


@dataclass(frozen=True)
class ReadSlide:
    """A shown slide as read from the deck, with its narration if the owner's cache holds it.

    Images are recorded once rendering (or the cache) has them all: job_slides_rendered.
    """

    source_number: int
    notes: str
    title: str = ""
    audio_name: str = ""
    duration_seconds: float | None = None
    cues: tuple = ()


@dataclass(frozen=True)
class SlideImage:
    image_name: str
    title: str
    cached: bool


def decompose_defer(job: Job) -> None:
    queueing.defer(queueing.DECOMPOSE, priority=job.priority, job_id=str(job.id))


def narrations_defer(job: Job, slide_ids: Sequence[int]) -> None:
    queueing.batch_defer(
        queueing.NARRATE_SLIDE,
        *({"job_id": str(job.id), "slide_id": slide_id} for slide_id in slide_ids),
        queue=speech_engines().queue_for(job.persona.tts_engine),
        priority=job.priority,
    )


def assembly_defer(job: Job) -> None:
    try:
        # The row lock is what makes this happen once; the queueing lock is a second guard.
        with transaction.atomic():
            queueing.defer(
                queueing.ASSEMBLE,
                queueing_lock=f"assemble:{job.id}",
                priority=job.priority,
                job_id=str(job.id),
            )
    except AlreadyEnqueued:
        logger.warning("assembly of job %s was already queued", job.id)


def job_start_decomposition(*, job_id: str) -> bool:
    """Mark the job as rendering; False when it was cancelled, failed or is already past it."""
    claimed = Job.objects.filter(
        id=job_id, status__in=[Job.Status.PENDING, Job.Status.PROCESSING_SLIDES]
    ).update(
        status=Job.Status.PROCESSING_SLIDES,
        progress=2,
        error="",
        error_code="",
        started_at=Coalesce(F("started_at"), Value(timezone.now())),
    )
    return claimed == 1


@transaction.atomic
def job_slides_create(*, job_id: str, slides: Sequence[ReadSlide]) -> list[Slide] | None:
    """Create the job's slides and queue the narration of those the cache lacks, before rendering.

    Narration needs only the notes, so it runs while the slides are rendered. A step run
    again (a retry) keeps the slides it made and queues again what is not narrated.
    Returns the slides, or None when the job no longer wants them.
    """
    job = Job.objects.select_for_update().select_related("persona").get(id=job_id)
    if job.status != Job.Status.PROCESSING_SLIDES:
        return None
    existing = list(job.slides.order_by("index"))
    if existing:
        again = [
            slide.id
            for slide in existing
            if slide.status in (Slide.Status.PENDING, Slide.Status.RENDERED, Slide.Status.FAILED)
        ]
        Slide.objects.filter(id__in=again).update(status=Slide.Status.PENDING, error="")
        narrations_defer(job, again)
        return existing
    created = Slide.objects.bulk_create(
        Slide(
            job=job,
            index=index,
            source_number=slide.source_number,
            notes=slide.notes,
            title=slide.title,
            audio=slide.audio_name,
            audio_cached=bool(slide.audio_name),
            duration_seconds=slide.duration_seconds,
            cues=list(slide.cues),
            status=Slide.Status.NARRATED if slide.audio_name else Slide.Status.PENDING,
        )
        for index, slide in enumerate(slides, start=1)
    )
    job.slide_count = len(created)
    job.progress = _progress(job, rendered=False)
    job.save(update_fields=["slide_count", "progress"])
    narrations_defer(job, [slide.id for slide in created if not slide.audio])
    return created


@transaction.atomic
def job_slides_rendered(
    *, job_id: str, images: Sequence[SlideImage], warnings: Sequence[str] = ()
) -> bool:
    """Record the slides' images; queue the assembly when every slide is narrated too.

    Rendering and narration end in either order; the job row's lock makes exactly one of
    them see both done.
    """
    job = Job.objects.select_for_update().get(id=job_id)
    if job.status not in (Job.Status.PROCESSING_SLIDES, Job.Status.FAILED):
        return False
    slides = list(job.slides.order_by("index").values_list("index", flat=True))
    if len(slides) != len(images):
        raise ValueError(f"{len(images)} images for {len(slides)} slides")
    slides_update_by_index(
        job_id,
        slides,
        image=[image.image_name for image in images],
        title=[image.title for image in images],
        image_cached=[image.cached for image in images],
    )
    if job.status == Job.Status.FAILED:
        # A slide's narration failed while rendering went on: a retry starts from narration.
        return False
    job.warnings = [*job.warnings, *warnings]
    job.error = ""
    job.progress = _progress(job, rendered=True)
    if job.slides.exclude(status=Slide.Status.NARRATED).exists():
        job.status = Job.Status.SYNTHESIZING_AUDIO
        job.save(update_fields=["status", "progress", "error", "warnings"])
        return True
    job.status = Job.Status.ASSEMBLING_VIDEO
    job.save(update_fields=["status", "progress", "error", "warnings"])
    assembly_defer(job)
    return True


def _progress(job: Job, *, rendered: bool) -> int:
    # Rendering is the first fifth of the bar, narration most of the rest, in any order.
    total = job.slides.count()
    narrated = job.slides.filter(status=Slide.Status.NARRATED).count()
    share = narrated / total if total else 0
    return round(
        (PROGRESS_RENDERED if rendered else 2) + (PROGRESS_NARRATED - PROGRESS_RENDERED) * share
    )


NARRATING_JOB = (Job.Status.PROCESSING_SLIDES, Job.Status.SYNTHESIZING_AUDIO)


def slide_start_narration(*, slide_id: int) -> bool:
    """Mark the slide as being narrated; False when its job no longer wants narration."""
    return (
        Slide.objects.filter(
            id=slide_id,
            job__status__in=NARRATING_JOB,
            status__in=[
                Slide.Status.PENDING,
                Slide.Status.RENDERED,
                Slide.Status.NARRATING,
                Slide.Status.FAILED,
            ],
        ).update(status=Slide.Status.NARRATING, error="")
        == 1
    )


@transaction.atomic
def slide_narration_store(
    *,
    slide_id: int,
    audio_name: str,
    duration_seconds: float,
    cues: list[dict],
    warning: str = "",
    cached: bool = False,
) -> bool:
    """Record a slide's narration; return True when it was the last one and assembly is queued.

    A `warning` says the narration is not what was asked for (a slide left silent);
    `cached` that it came from the owner's cache.

    Slides of one job finish on many workers at once. Locking the job row serialises them,
    so exactly one of them sees no slide left to narrate and queues the assembly.
    """
    job_id = Slide.objects.values_list("job_id", flat=True).get(id=slide_id)
    job = Job.objects.select_for_update().get(id=job_id)
    if job.status not in NARRATING_JOB:
        return False
    Slide.objects.filter(id=slide_id).update(
        audio=audio_name,
        audio_cached=cached,
        duration_seconds=duration_seconds,
        cues=cues,
        status=Slide.Status.NARRATED,
        error="",
    )
    rendered = job.status == Job.Status.SYNTHESIZING_AUDIO
    remaining = job.slides.exclude(status=Slide.Status.NARRATED).count()
    job.progress = _progress(job, rendered=rendered)
    job.error = ""  # a note about an earlier retry no longer applies
    if warning:
        job.warnings = [*job.warnings, warning]
    if remaining or not rendered:
        # Still rendering: recording the images will queue the assembly.
        job.save(update_fields=["progress", "error", "warnings"])
        return False
    job.status = Job.Status.ASSEMBLING_VIDEO
    job.save(update_fields=["progress", "error", "warnings", "status"])
    assembly_defer(job)
    return True


def job_start_assembly(*, job_id: str, claim: int) -> bool:
    """Claim the job's assembly for one queue job; False when another one holds it.

    The same queue job running again (a retry, a rescue) keeps its claim.
    """
    return (
        Job.objects.filter(id=job_id, status=Job.Status.ASSEMBLING_VIDEO)
        .filter(Q(assembly_claim__isnull=True) | Q(assembly_claim=claim))
        .update(assembly_claim=claim)
        == 1
    )


def job_complete(
    *,
    job_id: str,
    video_name: str,
    srt_name: str,
    vtt_name: str,
    duration_seconds: float,
    claim: int | None = None,
    chapters_name: str = "",
    slide_starts: Sequence[float] = (),
    stored_bytes: int = 0,
) -> bool:
    """Mark the job completed with its outputs; False when it was cancelled meanwhile.

    With a `claim`, only the assembly that holds the job's claim may complete it.
    `slide_starts` says when each slide (by index) appears in the video; each slide's
    duration becomes how long it shows there.
    """
    with transaction.atomic():
        assembling = Job.objects.filter(id=job_id, status=Job.Status.ASSEMBLING_VIDEO)
        if claim is not None:
            assembling = assembling.filter(assembly_claim=claim)
        completed = assembling.update(
            status=Job.Status.COMPLETED,
            progress=PROGRESS_DONE,
            video=video_name,
            captions_srt=srt_name,
            captions_vtt=vtt_name,
            chapters_vtt=chapters_name,
            duration_seconds=duration_seconds,
            stored_bytes=stored_bytes,
            finished_at=timezone.now(),
            error="",
            error_code="",
        )
        if completed and slide_starts:
            _slide_starts_store(job_id, slide_starts, duration_seconds)
        if completed:
            _job_event_enqueue(job_id=job_id, event_type="job.completed")
            if settings.SLIDECAST["AUTO_PREVIEW"]:
                # The media domain makes the poster, animated preview and storyboard. Just
                # below the job's own priority: jobs of that priority waiting for a worker
                # slot go first, so the preview never holds up the next narration.
                priority = Job.objects.filter(id=job_id).values_list("priority", flat=True)[0]
                queueing.defer(queueing.NARRATION_PREVIEW, priority=priority - 1, job_id=job_id)
            batch_advance_defer(job_id=job_id)
    return completed == 1


def batch_advance_defer(*, job_id: str) -> None:
    """A narration of a batch ended: the batch (jobs.media) takes it from there."""
    if Job.objects.filter(id=job_id, batch__isnull=False).exists():
        queueing.defer(queueing.BATCH_ADVANCE, job_id=job_id)


def _slide_starts_store(job_id: str, starts: Sequence[float], total: float) -> None:
    # What the video shows: the narration, padded to whole AAC blocks (at most 46 ms).
    ends = [*starts[1:], total]
    slides_update_by_index(
        job_id,
        range(1, len(starts) + 1),
        start_seconds=list(starts),
        duration_seconds=[round(end - start, 6) for start, end in zip(starts, ends, strict=True)],
    )


def job_fail(
    *,
    job_id: str,
    message: str,
    code: str,
    slide_id: int | None = None,
    assembly_claim: int | None = None,
) -> bool:
    """Store a readable reason and end the job as failed, unless it had already ended.

    An assembly task gives its `assembly_claim`: a stale one (the job was retried and a
    newer assembly holds it, or will) cannot fail the job.
    """
    with transaction.atomic():
        if slide_id is not None:
            Slide.objects.filter(id=slide_id).update(status=Slide.Status.FAILED, error=message)
        unfinished = Job.objects.filter(id=job_id).exclude(status__in=Job.FINISHED)
        if assembly_claim is not None:
            unfinished = unfinished.filter(
                ~Q(status=Job.Status.ASSEMBLING_VIDEO) | Q(assembly_claim=assembly_claim)
            )
        failed = unfinished.update(
            status=Job.Status.FAILED,
            error=message,
            error_code=code,
            finished_at=timezone.now(),
        )
        if failed:
            _job_event_enqueue(job_id=job_id, event_type="job.failed")
            batch_advance_defer(job_id=job_id)
    if failed:
        logger.warning("job %s failed (%s): %s", job_id, code, message)
    return failed == 1


def _job_event_enqueue(*, job_id: str, event_type: str) -> None:
    job = Job.objects.select_related("owner", "persona").get(id=job_id)
    if job.callback_url:
        webhook_event_enqueue(
            user=job.owner,
            job=job,
            url=job.callback_url,
            event_type=event_type,
            data={"job": job_api_payload(job=job)},
        )


def job_note_retry(*, job_id: str, message: str) -> None:
    """Show a transient problem on the job while the step waits to be retried."""
    Job.objects.filter(id=job_id).exclude(status__in=Job.FINISHED).update(
        error=f"Retrying after a temporary problem: {message}"
    )
