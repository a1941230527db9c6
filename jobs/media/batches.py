"""Batches: one request that makes many outputs, followed and gathered as one.

A batch narrates each deck with each persona (narration jobs), then transcodes each
narration to each preset (media jobs). Children run in parallel across workers; a failed
child does not stop the others. When every child has ended, one ZIP gathers the outputs.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import IntegrityError, transaction
from django.utils import timezone
from procrastinate.exceptions import AlreadyEnqueued

from jobs import queueing
from jobs.media import services
from jobs.media.models import MediaBatch, MediaJob
from jobs.media.parameters import OptionsInvalid, options_stored
from jobs.narration import services as narration_services
from jobs.narration.models import Job
from jobs.personas.models import Persona

logger = logging.getLogger("slidecast.media")

MAX_CHILDREN = 200


def batch_create(
    *,
    owner,
    decks: Sequence[File],
    personas: Sequence[Persona],
    presets: Sequence[dict] = (),
    resolution: str = Job.Resolution.FULL_HD,
    title: str = "",
    idempotency_key: str = "",
    request_hash: str = "",
) -> MediaBatch:
    """Create the batch and its narrations in one transaction; the same key returns it again.

    The same Idempotency-Key with another request is refused, so a client never gets an old
    batch back for new decks.
    """
    if idempotency_key:
        earlier = MediaBatch.objects.filter(owner=owner, idempotency_key=idempotency_key).first()
        if earlier is not None:
            if earlier.request_hash != request_hash:
                raise ValidationError(
                    {"idempotency_key": "This key was used for a different request."},
                    code="idempotency_conflict",
                )
            return earlier
    if not decks:
        raise ValidationError({"decks": "Give at least one deck."})
    if not personas:
        raise ValidationError({"personas": "Give at least one persona."})
    stored_presets = []
    for number, preset in enumerate(presets, start=1):
        try:
            stored_presets.append(options_stored(MediaJob.Operation.TRANSCODE, preset))
        except OptionsInvalid as exc:
            raise ValidationError({"presets": f"preset {number}: {exc}"}) from exc
    expected = len(decks) * len(personas) * (1 + len(stored_presets))
    if expected > MAX_CHILDREN:
        raise ValidationError({"presets": (
            f"The batch would make {expected} outputs; the limit is {MAX_CHILDREN}. "
            "Split it into several batches."
        )})  # fmt: skip
    try:
        with transaction.atomic():
            batch = MediaBatch.objects.create(
                owner=owner,
                title=(title or (decks[0].name if len(decks) == 1 else f"{len(decks)} decks"))[
                    :255
                ],
                presets=stored_presets,
                expected_children=expected,
                idempotency_key=idempotency_key,
                request_hash=request_hash,
            )
            for deck in decks:
                for persona in personas:
                    deck.seek(0)
                    narration_services.job_create(
                        owner=owner, deck=deck, title=deck.name, persona=persona,
                        resolution=resolution, batch=batch,
                    )  # fmt: skip
    except IntegrityError:
        # The same key arrived twice at once: the first one won.
        earlier = MediaBatch.objects.filter(owner=owner, idempotency_key=idempotency_key).first()
        if earlier is None:
            raise
        return earlier
    logger.info("batch %s created: %d outputs expected", batch.id, expected)
    return batch


def _default_title(decks: Sequence[File]) -> str:
    return decks[0].name if len(decks) == 1 else f"{len(decks)} decks"


def batch_narration_ended(*, job_id: str) -> None:
    """A narration of a batch ended: transcode it to each preset (once), then check the batch."""
    job = Job.objects.select_related("owner").filter(id=job_id).first()
    if job is None or job.batch_id is None:
        return
    batch = MediaBatch.objects.get(id=job.batch_id)
    if job.status == Job.Status.COMPLETED and batch.status == MediaBatch.Status.RUNNING:
        with transaction.atomic():
            MediaBatch.objects.select_for_update().get(id=batch.id)
            # Under the batch's row lock: a repeated run of this task finds them made.
            existing = MediaJob.objects.filter(batch=batch, source_job=job).count()
            for preset in batch.presets[existing:]:
                services.media_job_create(
                    owner=job.owner, operation=MediaJob.Operation.TRANSCODE, parameters=preset,
                    source_job=job, batch=batch,
                )  # fmt: skip
    batch_check(batch_id=str(batch.id))


def batch_progress(batch: MediaBatch) -> dict:
    """How many children have ended, of how many, and how they ended."""
    narrations = list(Job.objects.filter(batch=batch).values_list("status", flat=True))
    media = list(MediaJob.objects.filter(batch=batch).values_list("status", flat=True))
    presets = len(batch.presets)
    unmade = sum(
        presets for status in narrations if status in (Job.Status.FAILED, Job.Status.CANCELLED)
    )
    completed = narrations.count(Job.Status.COMPLETED) + media.count(MediaJob.Status.COMPLETED)
    failed = sum(s == Job.Status.FAILED for s in narrations) + media.count(MediaJob.Status.FAILED)
    cancelled = sum(s == Job.Status.CANCELLED for s in narrations) + media.count(
        MediaJob.Status.CANCELLED
    )
    ended = completed + failed + cancelled + unmade
    return {
        "expected": batch.expected_children,
        "ended": ended,
        "completed": completed,
        "failed": failed,
        "cancelled": cancelled,
        "not_made": unmade,
        "percent": round(100 * ended / batch.expected_children) if batch.expected_children else 0,
        "done": ended >= batch.expected_children,
    }


def batch_check(*, batch_id: str) -> None:
    """Queue the batch's ZIP once every child has ended."""
    batch = MediaBatch.objects.get(id=batch_id)
    if batch.archive or not batch_progress(batch)["done"]:
        return
    # A batch's last children may end together: the queueing lock keeps it to one ZIP.
    with contextlib.suppress(AlreadyEnqueued):
        queueing.defer(
            queueing.BATCH_ARCHIVE, queueing_lock=f"batch-archive:{batch.id}",
            batch_id=str(batch.id),
        )  # fmt: skip


def batch_finish(*, batch_id: str, archive_name: str, archive_size: int) -> None:
    """Store the ZIP and the batch's end state from how its children ended."""
    with transaction.atomic():
        batch = MediaBatch.objects.select_for_update().get(id=batch_id)
        progress = batch_progress(batch)
        if batch.status == MediaBatch.Status.RUNNING:
            if progress["completed"] == batch.expected_children:
                batch.status = MediaBatch.Status.COMPLETED
            elif progress["completed"]:
                batch.status = MediaBatch.Status.PARTIAL
            else:
                batch.status = MediaBatch.Status.FAILED
        batch.archive = archive_name
        batch.archive_size_bytes = archive_size
        batch.finished_at = batch.finished_at or timezone.now()
        batch.save()
    logger.info("batch %s ended %s: %s", batch_id, batch.status, progress)


def batch_cancel(*, batch: MediaBatch) -> bool:
    """Cancel every child still waiting or running; what has finished stays in the ZIP."""
    with transaction.atomic():
        cancelled = MediaBatch.objects.filter(id=batch.id, status=MediaBatch.Status.RUNNING).update(
            status=MediaBatch.Status.CANCELLED, finished_at=timezone.now()
        )
    if not cancelled:
        return False
    for job in Job.objects.filter(batch=batch).exclude(status__in=Job.FINISHED):
        narration_services.job_cancel(job=job)
    for media_job in MediaJob.objects.filter(batch=batch).exclude(status__in=MediaJob.FINISHED):
        services.media_job_cancel(media_job=media_job)
    batch_check(batch_id=str(batch.id))
    logger.info("batch %s cancelled", batch.id)
    return True
