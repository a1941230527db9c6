"""Removing a user's account with everything they stored.

Deleting the user row cascades to their jobs, media jobs, batches, personas, tokens and
cache entries, but not to the files those rows name: decks, videos, slide images and
narration, media sources and outputs, voice recordings and knowledge documents, cached
slides. Left alone they stay in the storage backend for good (the cleanup walks rows, and
there are none left). This removes them with the account.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from jobs import queueing
from jobs.media.models import MediaBatch, MediaJob
from jobs.media.services import media_job_cancel
from jobs.narration.models import Job
from jobs.narration.services import job_cancel
from jobs.personas.models import Persona
from jobs.storage import storage_delete_tree

logger = logging.getLogger("slidecast.accounts")

# After the time limit, a step still running has been stopped by its worker.
SWEEP_GRACE_SECONDS = 60


@dataclass(frozen=True)
class AccountRemoval:
    jobs_cancelled: int
    # Storage folders the user's files were under, removed once the rows were gone.
    folders: tuple[str, ...]


def user_delete(*, user) -> AccountRemoval:
    """Delete the user, their rows and every file they stored.

    Their unfinished jobs are cancelled first. A step that was running may still store a
    file after its folder went (it writes before it looks at its job again), so the same
    folders are swept once more when any such step must have ended
    (SLIDECAST_TASK_TIME_LIMIT_SECONDS and a minute later).
    """
    running = Job.objects.filter(owner=user).exclude(status__in=Job.FINISHED)
    cancelled = sum(job_cancel(job=job) for job in running)
    running_media = MediaJob.objects.filter(owner=user).exclude(status__in=MediaJob.FINISHED)
    cancelled += sum(media_job_cancel(media_job=media_job) for media_job in running_media)
    folders = (
        *(job.storage_prefix() for job in Job.objects.filter(owner=user)),
        *(media_job.storage_prefix() for media_job in MediaJob.objects.filter(owner=user)),
        *(batch.storage_prefix() for batch in MediaBatch.objects.filter(owner=user)),
        # Shared personas have no owner: a user's own are theirs alone.
        *(f"personas/{persona.id}" for persona in Persona.objects.filter(owner=user)),
        f"cache/{user.id}",
    )
    user_id = user.id
    with transaction.atomic():
        user.delete()
        # The files go only once the rows naming them are surely gone.
        transaction.on_commit(lambda: _folders_delete_now_and_later(user_id, folders))
    return AccountRemoval(cancelled, folders)


def _folders_delete_now_and_later(user_id: int, folders: tuple[str, ...]) -> None:
    account_folders_delete(user_id=user_id, folders=folders)
    queueing.defer(
        queueing.ACCOUNT_FILES_SWEEP,
        priority=queueing.PRIORITY_MAINTENANCE,
        schedule_in_seconds=settings.WORKER_LIMITS["TASK_TIME_LIMIT_SECONDS"] + SWEEP_GRACE_SECONDS,
        user_id=user_id,
        folders=list(folders),
    )


def account_folders_delete(*, user_id: int, folders: Sequence[str]) -> int:
    """Delete every file under the folders; return how many there were."""
    files = sum(storage_delete_tree(folder) for folder in folders)
    logger.info("user %s: %d files in %d folders deleted", user_id, files, len(folders))
    return files
