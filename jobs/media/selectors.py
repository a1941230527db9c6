"""Reads of media jobs for the pages, the API, the CLI and the admin."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from uuid import UUID

from django.core.files.storage import default_storage
from django.db.models import Avg, Count, F, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from jobs.media.models import MediaArtifact, MediaJob

# Output paths as the job stores them: folders and file names of letters, digits, - _ .
_OUTPUT_NAME = re.compile(r"^(?:[A-Za-z0-9_-]+/)*[A-Za-z0-9_-][A-Za-z0-9_.-]{0,120}$")


def media_job_list_for(*, user) -> QuerySet[MediaJob]:
    return MediaJob.objects.filter(owner=user)


def media_job_page_for(
    *,
    user,
    limit: int,
    operation: str | None = None,
    status: str | None = None,
    after: tuple[datetime, UUID] | None = None,
) -> tuple[list[MediaJob], bool]:
    """Up to `limit` of the user's media jobs, newest first, and whether more follow."""
    jobs = media_job_list_for(user=user)
    if operation:
        jobs = jobs.filter(operation=operation)
    if status:
        jobs = jobs.filter(status=status)
    if after:
        created, job_id = after
        jobs = jobs.filter(Q(created_at__lt=created) | Q(created_at=created, id__lt=job_id))
    page = list(jobs.order_by("-created_at", "-id").prefetch_related("artifacts")[: limit + 1])
    return page[:limit], len(page) > limit


def media_job_find_for(*, user, media_job_id) -> MediaJob | None:
    """The user's media job, or None for one that is not theirs or does not exist."""
    return media_job_list_for(user=user).filter(id=media_job_id).first()


def media_job_get_for(*, user, media_job_id) -> MediaJob:
    """The user's media job, or 404 for anyone else's: whether it exists is not revealed."""
    return get_object_or_404(media_job_list_for(user=user), id=media_job_id)


def media_output_name(*, media_job: MediaJob, name: str) -> str | None:
    """The stored file behind an output path of a completed job; None when it has none.

    Artifacts are listed by name; the files beside one (HLS playlists and segments under
    hls/) are served from the same folder, never from outside the job's output folder.
    """
    if media_job.status != MediaJob.Status.COMPLETED or media_job.files_deleted_at:
        return None
    if not _OUTPUT_NAME.match(name) or ".." in name:
        return None
    artifact = media_job.artifacts.filter(name=name).first()
    if artifact is not None:
        return artifact.file.name
    folder = name.split("/", 1)[0]
    if "/" in name and media_job.artifacts.filter(name__startswith=f"{folder}/").exists():
        stored = f"{media_job.output_prefix()}/{name}"
        return stored if default_storage.exists(stored) else None
    return None


def narration_preview(*, job) -> MediaJob | None:
    """The newest completed preview of a narration job (poster, storyboard), if any."""
    return (
        MediaJob.objects.filter(
            source_job=job,
            operation=MediaJob.Operation.PREVIEW,
            status=MediaJob.Status.COMPLETED,
            files_deleted_at__isnull=True,
        )
        .order_by("-created_at")
        .first()
    )


def artifact_by_kind(media_job: MediaJob, kind: str) -> MediaArtifact | None:
    return next((a for a in media_job.artifacts.all() if a.kind == kind), None)


def media_job_payload(*, media_job: MediaJob, url_for) -> dict:
    """The job as the API and the status endpoint give it; `url_for(name)` makes file URLs."""
    error = (
        {"code": media_job.error_code or "failed", "message": media_job.error}
        if media_job.status == MediaJob.Status.FAILED
        else None
    )
    artifacts = (
        [
            {
                "kind": artifact.kind,
                "name": artifact.name,
                "url": url_for(artifact.name),
                "content_type": artifact.content_type,
                "size_bytes": artifact.size_bytes,
                "duration_seconds": artifact.duration_seconds,
                "codec": artifact.codec or None,
                "width": artifact.width,
                "height": artifact.height,
                "details": artifact.details,
            }
            for artifact in media_job.artifacts.all()
        ]
        if media_job.status == MediaJob.Status.COMPLETED and not media_job.files_deleted_at
        else []
    )
    return {
        "id": media_job.id,
        "title": media_job.title,
        "operation": media_job.operation,
        "parameters": media_job.parameters,
        "source_job_id": media_job.source_job_id,
        "status": media_job.status,
        "progress": media_job.progress,
        "stage": media_job.stage or None,
        "error": error,
        "retrying_after": media_job.error
        if media_job.error and media_job.status == MediaJob.Status.RUNNING
        else None,
        "media_info": media_job.media_info or None,
        "queue": media_job.queue,
        "queue_reason": media_job.queue_reason,
        "word_error_rate": media_job.word_error_rate,
        "script_check": media_job.script_check or None,
        "artifacts": artifacts,
        "created_at": media_job.created_at,
        "started_at": media_job.started_at,
        "finished_at": media_job.finished_at,
        "duration_seconds": (media_job.media_info or {}).get("duration"),
    }


def media_job_overview(*, hours: int = 24) -> list[dict]:
    """Per operation: jobs waiting and running now, and how the last `hours` ended, by queue."""
    since = timezone.now() - timedelta(hours=hours)
    rows = (
        MediaJob.objects.filter(Q(finished_at__gte=since) | Q(finished_at__isnull=True))
        .values("operation")
        .annotate(
            pending=Count("id", filter=Q(status=MediaJob.Status.PENDING)),
            running=Count("id", filter=Q(status=MediaJob.Status.RUNNING)),
            completed=Count("id", filter=Q(status=MediaJob.Status.COMPLETED)),
            failed=Count("id", filter=Q(status=MediaJob.Status.FAILED)),
            on_gpu=Count("id", filter=Q(queue="gpu")),
            on_cpu=Count("id", filter=Q(queue="cpu")),
            seconds=Avg(
                F("finished_at") - F("started_at"), filter=Q(status=MediaJob.Status.COMPLETED)
            ),
        )
        .order_by("operation")
    )
    labels = dict(MediaJob.Operation.choices)
    return [
        {**row, "label": labels.get(row["operation"], row["operation"]),
         "seconds": row["seconds"].total_seconds() if row["seconds"] else None}
        for row in rows
    ]  # fmt: skip
