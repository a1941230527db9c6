"""Every change of a job's or slide's state goes through these functions."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from procrastinate.exceptions import AlreadyEnqueued

from jobs.models import Job, Persona, Slide, WebhookDelivery
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
    priority: int = Job.Priority.NORMAL,
    callback_url: str = "",
) -> Job:
    """Store the upload, create its job and queue its first step once the row is committed."""
    if persona.status != Persona.Status.ACTIVE:
        raise ValidationError({"persona": f"The persona {persona.name!r} is disabled."})
    if callback_url:
        from jobs.webhooks import check_callback_url

        try:
            check_callback_url(callback_url)
        except ValidationError as exc:
            raise ValidationError({"callback_url": exc.messages}) from exc
    job = Job(
        owner=owner,
        title=title[:255],
        persona=persona,
        resolution=resolution,
        padding_seconds=padding_seconds,
        empty_slide_seconds=empty_slide_seconds,
        priority=priority,
        callback_url=callback_url,
    )
    job.full_clean(exclude=["deck"])
    with transaction.atomic():
        job.deck.save("deck.pptx", deck, save=False)
        job.save()
        _defer_decompose(job)
    logger.info("job %s created for %s", job.id, owner)
    return job


def _defer_decompose(job: Job) -> None:
    from jobs.tasks import decompose

    deferrer(decompose, priority=job.priority).defer(job_id=str(job.id))


def _defer_narrations(job: Job, slide_ids: Sequence[int]) -> None:
    from jobs.tasks import narrate_slide

    queue = speech_engines().queue_for(job.persona.tts_engine)
    deferrer(narrate_slide, queue=queue, priority=job.priority).batch_defer(
        *({"job_id": str(job.id), "slide_id": slide_id} for slide_id in slide_ids)
    )


def _defer_assembly(job: Job) -> None:
    from jobs.tasks import assemble

    try:
        # The row lock is what makes this happen once; the queueing lock is a second guard.
        with transaction.atomic():
            deferrer(assemble, queueing_lock=f"assemble:{job.id}", priority=job.priority).defer(
                job_id=str(job.id)
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
def job_slides_create(
    *, job_id: str, slides: Sequence[RenderedSlide], warnings: Sequence[str] = ()
) -> bool:
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
    job.warnings = [*job.warnings, *warnings]
    job.save(update_fields=["slide_count", "status", "progress", "error", "warnings"])
    _defer_narrations(job, [slide.id for slide in created])
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
    *,
    slide_id: int,
    audio_name: str,
    duration_seconds: float,
    cues: list[dict],
    warning: str = "",
) -> bool:
    """Record a slide's narration; return True when it was the last one and assembly is queued.

    A `warning` says the narration is not what was asked for (a slide left silent).

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
    if warning:
        job.warnings = [*job.warnings, warning]
    if remaining:
        job.save(update_fields=["progress", "error", "warnings"])
        return False
    job.status = Job.Status.ASSEMBLING_VIDEO
    job.save(update_fields=["progress", "error", "warnings", "status"])
    _defer_assembly(job)
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
) -> bool:
    """Mark the job completed with its outputs; False when it was cancelled meanwhile.

    With a `claim`, only the assembly that holds the job's claim may complete it.
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
            duration_seconds=duration_seconds,
            finished_at=timezone.now(),
            error="",
            error_code="",
        )
        if completed:
            webhook_event_enqueue(job_id=job_id, event_type="job.completed")
    return completed == 1


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
            webhook_event_enqueue(job_id=job_id, event_type="job.failed")
    if failed:
        logger.warning("job %s failed (%s): %s", job_id, code, message)
    return failed == 1


def webhook_event_enqueue(*, job_id: str, event_type: str) -> WebhookDelivery | None:
    """Queue a signed event to the job's callback URL, if it has one."""
    from jobs.selectors import job_api_payload
    from jobs.tasks import deliver_webhook

    job = Job.objects.select_related("owner").get(id=job_id)
    if not job.callback_url:
        return None
    delivery = WebhookDelivery(job=job, user=job.owner, event_type=event_type, url=job.callback_url)
    event = {
        "id": str(delivery.event_id),
        "type": event_type,
        "created_at": timezone.now().isoformat(),
        "data": {"job": job_api_payload(job=job)},
    }
    delivery.payload = json.loads(json.dumps(event, cls=DjangoJSONEncoder))
    delivery.save()
    deferrer(deliver_webhook).defer(delivery_id=delivery.id)
    return delivery


def webhook_redeliver(*, delivery: WebhookDelivery) -> None:
    from jobs.tasks import deliver_webhook

    WebhookDelivery.objects.filter(id=delivery.id).update(
        status=WebhookDelivery.Status.PENDING, delivered_at=None
    )
    deferrer(deliver_webhook).defer(delivery_id=delivery.id)


def job_note_retry(*, job_id: str, message: str) -> None:
    """Show a transient problem on the job while the step waits to be retried."""
    Job.objects.filter(id=job_id).exclude(status__in=Job.FINISHED).update(
        error=f"Retrying after a temporary problem: {message}"
    )


def job_cancel(*, job: Job) -> bool:
    """Cancel the job: waiting steps are cancelled, running ones asked to abort.

    A running step that does not stop in time finds the job cancelled when it tries to
    record its result, and records nothing.
    """
    with transaction.atomic():
        cancelled = (
            Job.objects.filter(id=job.id)
            .exclude(status__in=Job.FINISHED)
            .update(status=Job.Status.CANCELLED, finished_at=timezone.now())
        )
        if not cancelled:
            return False
    _cancel_queue_jobs(job)
    logger.info("job %s cancelled", job.id)
    return True


def _cancel_queue_jobs(job: Job) -> None:
    from procrastinate.contrib.django import app
    from procrastinate.contrib.django.models import ProcrastinateJob

    pending = ProcrastinateJob.objects.filter(
        args__job_id=str(job.id), status__in=["todo", "doing"]
    )
    for queue_job_id in pending.values_list("id", flat=True):
        app.job_manager.cancel_job_by_id(queue_job_id, abort=True)


@transaction.atomic
def job_retry(*, job: Job) -> str:
    """Continue a failed or cancelled job from the step where it stopped; return that step.

    Slides already narrated are kept; only what is missing is queued again.
    """
    job = Job.objects.select_for_update().select_related("persona").get(id=job.id)
    if job.status not in (Job.Status.FAILED, Job.Status.CANCELLED):
        raise ValidationError(f"Only failed or cancelled jobs can be retried, not {job.status}.")
    if job.files_deleted_at:
        raise ValidationError("The job's files were removed by the retention cleanup.")
    job.error, job.error_code, job.finished_at = "", "", None
    job.assembly_claim = None
    slides = list(job.slides.all())
    missing = [slide.id for slide in slides if slide.status != Slide.Status.NARRATED]
    if not slides:
        job.status, job.progress, step = Job.Status.PENDING, 0, "decompose"
        job.save()
        _defer_decompose(job)
    elif missing:
        Slide.objects.filter(id__in=missing).update(status=Slide.Status.RENDERED, error="")
        job.status, step = Job.Status.SYNTHESIZING_AUDIO, "narrate"
        job.save()
        _defer_narrations(job, missing)
    else:
        job.status, job.progress, step = Job.Status.ASSEMBLING_VIDEO, PROGRESS_NARRATED, "assemble"
        job.save()
        _defer_assembly(job)
    logger.info("job %s retried from %s", job.id, step)
    return step


def job_rerender(*, job: Job) -> None:
    """Start a finished job over from its deck: slides, narration and video are made anew."""
    from jobs.storage import storage_delete_tree

    if job.files_deleted_at:
        raise ValidationError("The job's files were removed by the retention cleanup.")
    if job.status not in Job.FINISHED:
        # A step still running could write into the fresh start; cancel and wait for it.
        raise ValidationError("The job is still running: cancel it first, then re-render.")
    for folder in ("slides", "audio", "output"):
        storage_delete_tree(f"{job.storage_prefix()}/{folder}")
    with transaction.atomic():
        job = Job.objects.select_for_update().get(id=job.id)
        job.slides.all().delete()
        job.status, job.progress, job.error, job.error_code = Job.Status.PENDING, 0, "", ""
        job.finished_at = job.duration_seconds = job.slide_count = job.assembly_claim = None
        job.warnings = []
        job.video = job.captions_srt = job.captions_vtt = ""
        job.save()
        _defer_decompose(job)
    logger.info("job %s re-rendered from its deck", job.id)
