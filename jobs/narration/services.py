"""What people ask of deck jobs: create, cancel, retry, re-render, delete.

The web form, the API, the CLI and the admin all call these, so they apply the same rules.
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import IntegrityError, transaction
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from jobs import queueing
from jobs.access.services import idempotency_key_record, idempotent_job
from jobs.integrations.webhooks import check_callback_url
from jobs.narration import progress
from jobs.narration.models import Job, Slide
from jobs.personas.models import Persona
from jobs.personas.selectors import persona_can_clone, persona_narration_refusal
from jobs.storage import storage_delete_tree
from media_pipeline.archive import size_text
from media_pipeline.deck_kinds import SNIFF_BYTES, sniff_deck_kind
from media_pipeline.notes_file import MAX_NOTES_FILE_BYTES, NOTES_FILE_SUFFIXES

logger = logging.getLogger("slidecast.services")


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
    notes: File | None = None,
    batch=None,
) -> Job:
    """Store the upload, create its job and queue its first step once the row is committed.

    The deck is stored as deck.pptx, deck.pdf or deck.odp by what its first bytes say it
    is, whatever its name. `notes` is an optional notes file (.txt or .json) read instead of
    the deck's own notes (see media_pipeline.notes_file).
    """
    refusal = persona_narration_refusal(persona=persona, user=owner)
    if refusal:
        raise ValidationError({"persona": refusal})
    if persona.tts_engine == Persona.Engine.XTTS and not persona_can_clone(persona=persona):
        raise ValidationError({"persona": (
            f"The persona {persona.name!r} speaks with a cloned voice but has no prepared "
            "reference recording with consent on record; upload one first."
        )})  # fmt: skip
    if callback_url:
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
        batch=batch,
    )
    notes_extension = _notes_extension(notes) if notes is not None else ""
    job.full_clean(exclude=["deck", "notes_sidecar"])
    with transaction.atomic():
        job.deck.save(f"deck.{_deck_kind(deck)}", deck, save=False)
        if notes is not None:
            job.notes_sidecar.save(f"notes.{notes_extension}", notes, save=False)
        job.save()
        progress.decompose_defer(job)
    logger.info("job %s created for %s", job.id, owner)
    return job


def _deck_kind(deck: File) -> str:
    deck.seek(0)
    head = deck.read(SNIFF_BYTES)
    deck.seek(0)
    return sniff_deck_kind(head)


def _notes_extension(notes: File) -> str:
    extension = Path(notes.name or "").suffix.lower()
    if extension not in NOTES_FILE_SUFFIXES:
        raise ValidationError({"notes": (
            "The notes file must be a .txt file (entries separated by lines holding only "
            '---) or a .json list; got '
            f"{extension or 'a file without an extension'}."
        )})  # fmt: skip
    if notes.size is not None and notes.size > MAX_NOTES_FILE_BYTES:
        raise ValidationError({"notes": (
            f"The notes file is {size_text(notes.size, MAX_NOTES_FILE_BYTES)}; the limit is "
            f"{size_text(MAX_NOTES_FILE_BYTES)}."
        )})  # fmt: skip
    return extension.lstrip(".")


def job_create_once(*, owner, idempotency_key: str, request_hash: str, **job_fields) -> Job:
    """Create a job, or return the one an earlier request with the same key created.

    `request_hash` identifies the request (deck and options): the same key with another
    request is refused, so a client cannot get an old job back for a new deck.
    """
    if not idempotency_key:
        return job_create(owner=owner, **job_fields)
    earlier = idempotent_job(user=owner, key=idempotency_key, request_hash=request_hash)
    if earlier is not None:
        return earlier
    try:
        with transaction.atomic():
            job = job_create(owner=owner, **job_fields)
            idempotency_key_record(
                user=owner, key=idempotency_key, request_hash=request_hash, job=job
            )
    except IntegrityError:
        # The same key arrived twice at once: the first one won.
        earlier = idempotent_job(user=owner, key=idempotency_key, request_hash=request_hash)
        if earlier is None:
            raise
        return earlier
    return job


def job_delete(*, job: Job) -> None:
    """Delete a finished job with every file it has; a running job must be cancelled first."""
    if not job.is_finished:
        # A step still running would write files after the delete.
        raise ValidationError(
            f"The job is still {job.status}; cancel it first, then delete it.", code="job_running"
        )
    storage_delete_tree(job.storage_prefix())
    job.delete()
    logger.info("job %s deleted with its files", job.id)


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
    progress.batch_advance_defer(job_id=str(job.id))
    logger.info("job %s cancelled", job.id)
    return True


def _cancel_queue_jobs(job: Job) -> None:
    pending = ProcrastinateJob.objects.filter(
        args__job_id=str(job.id), status__in=["todo", "doing"]
    )
    for queue_job_id in pending.values_list("id", flat=True):
        queueing.job_manager().cancel_job_by_id(queue_job_id, abort=True)


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
    if not slides or any(not slide.image for slide in slides):
        # Rendering did not finish: decomposing again keeps the slides and their narration.
        job.status, job.progress, step = Job.Status.PENDING, 0, "decompose"
        job.save()
        progress.decompose_defer(job)
    elif missing:
        Slide.objects.filter(id__in=missing).update(status=Slide.Status.PENDING, error="")
        job.status, step = Job.Status.SYNTHESIZING_AUDIO, "narrate"
        job.save()
        progress.narrations_defer(job, missing)
    else:
        job.status, job.progress, step = (
            Job.Status.ASSEMBLING_VIDEO,
            progress.PROGRESS_NARRATED,
            "assemble",
        )
        job.save()
        progress.assembly_defer(job)
    logger.info("job %s retried from %s", job.id, step)
    return step


def job_rerender(*, job: Job) -> None:
    """Start a finished job over from its deck: slides, narration and video are made anew."""
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
        job.warnings, job.stored_bytes = [], 0
        job.video = job.captions_srt = job.captions_vtt = job.chapters_vtt = ""
        job.save()
        progress.decompose_defer(job)
    logger.info("job %s re-rendered from its deck", job.id)
