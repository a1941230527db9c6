"""Reads of deck jobs for the pages, the API, the CLI and the admin."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from django.db.models import Q, QuerySet, Sum
from django.shortcuts import get_object_or_404
from django.urls import reverse

from jobs import queueing
from jobs.narration.models import CachedArtifact, Job, Slide
from jobs.speech import speech_engines
from media_pipeline.errors import PipelineError


def job_list_for(*, user) -> QuerySet[Job]:
    return Job.objects.filter(owner=user).select_related("persona")


def storage_use_for(*, user) -> dict[str, int]:
    """Bytes the user's files take: each job's own files, and the slides cached for reuse."""
    jobs = Job.objects.filter(owner=user, files_deleted_at__isnull=True).aggregate(
        total=Sum("stored_bytes")
    )["total"]
    cache = CachedArtifact.objects.filter(owner=user).aggregate(total=Sum("size_bytes"))["total"]
    jobs, cache = jobs or 0, cache or 0
    return {"jobs": jobs, "cache": cache, "total": jobs + cache}


def job_page_for(
    *,
    user,
    limit: int,
    status: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    after: tuple[datetime, UUID] | None = None,
) -> tuple[list[Job], bool]:
    """Return up to `limit` of the user's jobs, newest first, and whether more follow.

    `after` is the (created_at, id) of the last job of the previous page: paging by it stays
    right while new jobs arrive, where an offset would shift.
    """
    jobs = job_list_for(user=user)
    if status:
        jobs = jobs.filter(status=status)
    if created_after:
        jobs = jobs.filter(created_at__gte=created_after)
    if created_before:
        jobs = jobs.filter(created_at__lt=created_before)
    if after:
        created, job_id = after
        jobs = jobs.filter(Q(created_at__lt=created) | Q(created_at=created, id__lt=job_id))
    page = list(jobs.order_by("-created_at", "-id")[: limit + 1])
    return page[:limit], len(page) > limit


def job_find_for(*, user, job_id) -> Job | None:
    """Return the user's job, or None for a job that is not theirs or does not exist."""
    return job_list_for(user=user).filter(id=job_id).first()


def job_get_for(*, user, job_id) -> Job:
    """Return the user's job, or 404 for anyone else's: whether it exists is not revealed."""
    return get_object_or_404(job_list_for(user=user), id=job_id)


def _title(slide: Slide) -> str:
    # Slides of jobs made before titles were read are named by their position.
    return slide.title or f"Slide {slide.index}"


def job_chapters(*, job: Job, slides: list[Slide] | None = None) -> list[dict]:
    """Return the video's chapters (one per slide: index, title, start_seconds), once made."""
    if job.status != Job.Status.COMPLETED:
        return []
    slides = slides if slides is not None else list(job.slides.order_by("index"))
    if not slides or any(slide.start_seconds is None for slide in slides):
        return []
    return [
        {"index": slide.index, "title": _title(slide), "start_seconds": slide.start_seconds}
        for slide in slides
    ]


def job_status_payload(*, job: Job) -> dict:
    """Return what the job page shows, as JSON-ready data."""
    job_slides = list(job.slides.order_by("index"))
    slides = [
        {
            "index": slide.index,
            "title": _title(slide),
            "status": slide.status,
            "status_display": slide.get_status_display(),
            "duration_seconds": slide.duration_seconds,
            "error": slide.error,
            "image_url": reverse("jobs:slide-image", args=[job.id, slide.index])
            if slide.image
            else None,
        }
        for slide in job_slides
    ]
    files = {}
    if job.status == Job.Status.COMPLETED:
        kinds = ("video", "srt", "vtt", "chapters") if job.chapters_vtt else ("video", "srt", "vtt")
        files = {kind: reverse("jobs:file", args=[job.id, kind]) for kind in kinds}
    return {
        "id": str(job.id),
        "title": job.title,
        "status": job.status,
        "status_display": job.get_status_display(),
        "progress": job.progress,
        "finished": job.is_finished,
        "error": job.error,
        "error_code": job.error_code,
        "warnings": job.warnings,
        "slide_count": job.slide_count,
        "duration_seconds": job.duration_seconds,
        "slides": slides,
        "chapters": job_chapters(job=job, slides=job_slides),
        "files": files,
    }


def job_api_payload(*, job: Job) -> dict:
    """Return a job as the REST API and the webhooks show it."""

    def artifact(kind: str, present) -> str | None:
        return (
            reverse("api:job_artifact", kwargs={"job_id": job.id, "kind": kind})
            if present
            else None
        )

    job_slides = list(job.slides.order_by("index"))
    return {
        "id": str(job.id),
        "title": job.title,
        "status": job.status,
        "progress": job.progress,
        "priority": Job.Priority(job.priority).name.lower(),
        "persona_id": job.persona_id,
        "resolution": job.resolution,
        "padding_seconds": job.padding_seconds,
        "empty_slide_seconds": job.empty_slide_seconds,
        "callback_url": job.callback_url or None,
        "error": {"code": job.error_code, "message": job.error} if job.error else None,
        "warnings": job.warnings,
        "slide_count": job.slide_count,
        "duration_seconds": job.duration_seconds,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "files_deleted_at": job.files_deleted_at,
        "slides": [
            {
                "index": slide.index,
                "title": _title(slide),
                "status": slide.status,
                "duration_seconds": slide.duration_seconds,
                "error": slide.error or None,
                "image_url": reverse(
                    "api:slide_image", kwargs={"job_id": job.id, "index": slide.index}
                )
                if slide.image
                else None,
            }
            for slide in job_slides
        ],
        "chapters": job_chapters(job=job, slides=job_slides),
        "artifacts": {
            "video": artifact("video", job.video),
            "srt": artifact("srt", job.captions_srt),
            "vtt": artifact("vtt", job.captions_vtt),
            "chapters": artifact("chapters", job.chapters_vtt),
            "deck": artifact("deck", job.deck),
        },
    }


def job_waiting_queue(*, job: Job) -> str | None:
    """The queue the job's next step waits on, or None when it is finished."""
    if job.is_finished:
        return None
    if job.status == Job.Status.SYNTHESIZING_AUDIO:
        try:
            return speech_engines().queue_for(job.persona.tts_engine)
        except PipelineError:
            return None
    return queueing.TASK_QUEUES[queueing.DECOMPOSE]
