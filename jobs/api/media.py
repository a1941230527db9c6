"""The media endpoints: transcribe, preview, transcode or stream a file or a narration's video."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile

from jobs.api.errors import ERRORS
from jobs.api.fields import Text
from jobs.api.jobs import _decode_cursor, _encode_cursor
from jobs.errors import RequestRefused
from jobs.media import capabilities, selectors, services
from jobs.media.models import MediaJob
from jobs.narration.selectors import job_find_for
from jobs.web.files import media_file_response

Operation = Literal["transcribe", "preview", "transcode", "hls"]
MediaStatus = Literal["pending", "running", "completed", "failed", "cancelled"]


class MediaError(Schema):
    code: str
    message: str


class ArtifactOut(Schema):
    kind: str
    name: str
    url: str
    content_type: str
    size_bytes: int
    duration_seconds: float | None
    codec: str | None
    width: int | None
    height: int | None
    details: dict[str, Any]


class MediaJobOut(Schema):
    id: UUID
    title: str
    operation: Operation
    parameters: dict[str, Any]
    source_job_id: UUID | None
    status: MediaStatus
    progress: int
    stage: str | None = Field(None, description="What runs now.")
    error: MediaError | None
    retrying_after: str | None = Field(None, description="A transient error being retried.")
    media_info: dict[str, Any] | None = Field(None, description="What ffprobe read.")
    queue: str
    queue_reason: str
    word_error_rate: float | None = Field(
        None, description="Transcribing a narration: how far what was heard is from its notes."
    )
    script_check: dict[str, Any] | None
    artifacts: list[ArtifactOut]
    duration_seconds: float | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class MediaJobPage(Schema):
    items: list[MediaJobOut]
    next_cursor: str | None = None


class MediaJobCreateIn(Schema):
    operation: Operation
    parameters: Text = Field(
        "{}",
        max_length=10_000,
        description="The operation's options as a JSON object (see GET /api/media/capabilities).",
    )
    source_job_id: UUID | None = Field(
        None, description="A completed narration job whose video is the input (no file then)."
    )
    priority: Literal["high", "normal", "background"] = "normal"


class MediaFilters(Schema):
    operation: Operation | None = None
    status: MediaStatus | None = None
    limit: int = Field(20, ge=1, le=100)
    cursor: Text | None = Field(None, max_length=200)


media_router = Router(tags=["media"])
_PRIORITIES = {"high": 10, "normal": 0, "background": -10}


def file_url(media_job: MediaJob):
    def url_for(name: str) -> str:
        return reverse("api:media_file", args=[media_job.id, name])

    return url_for


def payload(media_job: MediaJob) -> dict:
    return selectors.media_job_payload(media_job=media_job, url_for=file_url(media_job))


def _own(request, media_job_id: UUID) -> MediaJob:
    job = selectors.media_job_find_for(user=request.auth, media_job_id=media_job_id)
    if job is None:
        raise RequestRefused(404, "not_found", f"No media job {media_job_id} among yours.")
    return job


@media_router.get("/capabilities", response={200: dict[str, Any], **ERRORS})
def media_capabilities(request):
    """Operations and their options, the codecs this deployment's ffmpeg can encode, and limits."""
    return capabilities.media_capabilities()


@media_router.post("", response={201: MediaJobOut, **ERRORS}, url_name="media_jobs")
def create_media_job(request, data: Form[MediaJobCreateIn], file: File[UploadedFile] = None):
    """Start a media job on an uploaded audio/video file or a narration job's video.

    The file is probed with ffprobe first: an empty, cut-short, over-long or non-media file
    ends the job as failed with the reason (`error`).
    """
    try:
        parameters = json.loads(data.parameters or "{}")
    except json.JSONDecodeError as exc:
        raise RequestRefused(
            422, "validation_error", "parameters must be a JSON object.",
            [{"field": "parameters", "message": str(exc)}],
        ) from exc  # fmt: skip
    if not isinstance(parameters, dict):
        raise RequestRefused(422, "validation_error", "parameters must be a JSON object.")
    source_job = None
    if data.source_job_id:
        source_job = job_find_for(user=request.auth, job_id=data.source_job_id)
        if source_job is None:
            raise RequestRefused(
                422, "validation_error", f"No narration job {data.source_job_id} among yours.",
                [{"field": "source_job_id", "message": "unknown job"}],
            )  # fmt: skip
    job = services.media_job_create(
        owner=request.auth,
        operation=data.operation,
        parameters=parameters,
        upload=file,
        title=file.name if file else "",
        source_job=source_job,
        priority=_PRIORITIES[data.priority],
    )
    return Status(201, payload(job))


@media_router.get("", response={200: MediaJobPage, **ERRORS})
def list_media_jobs(request, filters: Query[MediaFilters]):
    """Your media jobs, newest first, a page at a time (follow `next_cursor`)."""
    page, more = selectors.media_job_page_for(
        user=request.auth,
        limit=filters.limit,
        operation=filters.operation,
        status=filters.status,
        after=_decode_cursor(filters.cursor) if filters.cursor else None,
    )
    return {
        "items": [payload(job) for job in page],
        "next_cursor": _encode_cursor(page[-1]) if more else None,
    }


@media_router.get("/{uuid:media_job_id}", response={200: MediaJobOut, **ERRORS})
def get_media_job(request, media_job_id: UUID):
    return payload(_own(request, media_job_id))


@media_router.post("/{uuid:media_job_id}/cancel", response={200: MediaJobOut, **ERRORS})
def cancel_media_job(request, media_job_id: UUID):
    """Cancel: a waiting job never runs; a running one is stopped (its ffmpeg is killed)."""
    job = _own(request, media_job_id)
    if not services.media_job_cancel(media_job=job):
        raise RequestRefused(409, "already_finished", f"The job is already {job.status}.")
    job.refresh_from_db()
    return payload(job)


@media_router.post("/{uuid:media_job_id}/retry", response={200: MediaJobOut, **ERRORS})
def retry_media_job(request, media_job_id: UUID):
    job = _own(request, media_job_id)
    try:
        services.media_job_retry(media_job=job)
    except DjangoValidationError as exc:
        raise RequestRefused(409, "not_retryable", " ".join(exc.messages)) from exc
    job.refresh_from_db()
    return payload(job)


@media_router.delete("/{uuid:media_job_id}", response={204: None, **ERRORS})
def delete_media_job(request, media_job_id: UUID):
    try:
        services.media_job_delete(media_job=_own(request, media_job_id))
    except DjangoValidationError as exc:
        raise RequestRefused(409, "job_running", " ".join(exc.messages)) from exc
    return Status(204, None)


@media_router.get(
    "/{uuid:media_job_id}/files/{path:name}",
    response={200: bytes, 206: bytes, **ERRORS},
    url_name="media_file",
)
def media_file(request, media_job_id: UUID, name: str):
    """Download an output (`artifacts[].url`); videos support HTTP range requests."""
    job = _own(request, media_job_id)
    response = media_file_response(request, job, name)
    if response is None:
        raise RequestRefused(404, "not_found", f"The job has no file {name!r}.")
    return response
