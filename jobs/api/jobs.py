"""The jobs endpoints: upload a deck, follow, cancel, retry, delete a job, fetch its files."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from pathlib import Path
from typing import Literal
from uuid import UUID

from django.core.exceptions import ValidationError as DjangoValidationError
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile

from jobs.api.errors import ERRORS
from jobs.api.fields import Moment, Text, request_fingerprint, utc_moment
from jobs.errors import RequestRefused
from jobs.narration import selectors, services
from jobs.narration.content_cache import cached_artifacts_clear
from jobs.narration.models import Job
from jobs.operations.monitoring import unserved_queue_notice
from jobs.personas.selectors import persona_get
from jobs.web.files import job_file_response, slide_image_response
from media_pipeline.deck_kinds import DECK_SUFFIXES
from media_pipeline.notes_file import NOTES_FILE_SUFFIXES

Resolution = Literal["1280x720", "1920x1080", "3840x2160"]
PriorityName = Literal["high", "normal", "background"]
JobStatus = Literal[
    "pending", "processing_slides", "synthesizing_audio", "assembling_video", "completed",
    "failed", "cancelled",
]  # fmt: skip


class JobError(Schema):
    code: str
    message: str


class SlideOut(Schema):
    index: int
    title: str = Field("", description="The slide's title: its chapter in the video.")
    status: str
    duration_seconds: float | None
    error: str | None
    image_url: str | None


class ChapterOut(Schema):
    index: int
    title: str
    start_seconds: float


class Artifacts(Schema):
    video: str | None
    srt: str | None
    vtt: str | None
    chapters: str | None = Field(None, description="A WebVTT chapters track, one cue per slide.")
    deck: str | None


class JobOut(Schema):
    id: UUID
    title: str
    status: JobStatus
    progress: int
    priority: PriorityName
    persona_id: int
    resolution: str
    padding_seconds: float
    empty_slide_seconds: float
    callback_url: str | None
    error: JobError | None
    warnings: list[str] = Field(
        default_factory=list,
        description="What was left out on the way to the video: dropped links, silent slides.",
    )
    slide_count: int | None
    duration_seconds: float | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    files_deleted_at: datetime | None
    slides: list[SlideOut]
    chapters: list[ChapterOut] = Field(
        default_factory=list,
        description="Once the video is made: where each slide's chapter starts in it.",
    )
    artifacts: Artifacts
    notice: str | None = Field(None, description="Why the job is waiting, when it is unusual.")


class JobPage(Schema):
    items: list[JobOut]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page.")


class JobCreateIn(Schema):
    persona_id: int = Field(..., ge=1, description="A persona from GET /api/personas.")
    resolution: Resolution = "1920x1080"
    padding_seconds: float = Field(0.5, ge=0, le=10)
    empty_slide_seconds: float = Field(3.0, ge=0.5, le=60)
    priority: PriorityName = "normal"
    callback_url: Text | None = Field(None, max_length=2000)


class JobFilters(Schema):
    status: JobStatus | None = None
    created_after: Moment | None = None
    created_before: Moment | None = None
    limit: int = Field(20, ge=1, le=100)
    cursor: Text | None = Field(None, max_length=200)


jobs_router = Router(tags=["jobs"])


def _own_job(request, job_id: UUID) -> Job:
    job = selectors.job_find_for(user=request.auth, job_id=job_id)
    if job is None:
        raise RequestRefused(404, "not_found", f"No job {job_id} among yours.")
    return job


def _suffix(upload: UploadedFile) -> str:
    name = upload.name or ""
    return "" if "\x00" in name else Path(name).suffix.lower()


@jobs_router.post("", response={201: JobOut, **ERRORS}, url_name="jobs")
def create_job(
    request,
    data: Form[JobCreateIn],
    deck: File[UploadedFile],
    notes: File[UploadedFile] = None,
):
    """Upload a deck (.pptx, .pdf or .odp) and start narrating it.

    The deck's content decides its kind: a PDF named *.pptx is read as a PDF. `notes` is an
    optional notes file read instead of the deck's own notes: a .txt file with one entry
    per slide (a PDF's page), separated by lines holding only `---`, or a .json list of
    strings or of `{"page": n, "notes": "..."}` objects.

    Send `Idempotency-Key: <your key>` to make retries safe: the same key with the same
    deck and options returns the job created first; with a different request it is a 409.
    """
    if _suffix(deck) not in DECK_SUFFIXES:
        raise RequestRefused(
            422, "validation_error",
            "The deck must be a PowerPoint (*.pptx), PDF (*.pdf) or OpenDocument (*.odp) file.",
            [{"field": "deck", "message": f"got {deck.name!r}"}],
        )  # fmt: skip
    if notes is not None and _suffix(notes) not in NOTES_FILE_SUFFIXES:
        raise RequestRefused(
            422, "validation_error", "The notes file must be named *.txt or *.json.",
            [{"field": "notes", "message": f"got {notes.name!r}"}],
        )  # fmt: skip
    persona = persona_get(persona_id=data.persona_id)
    if persona is None:
        raise RequestRefused(
            422, "validation_error", f"There is no persona {data.persona_id}.",
            [{"field": "persona_id", "message": "unknown persona"}],
        )  # fmt: skip
    key = request.headers.get("Idempotency-Key", "").strip()[:255]
    job = services.job_create_once(
        owner=request.auth,
        idempotency_key=key,
        request_hash=request_fingerprint([deck, notes], data) if key else "",
        deck=deck,
        title=deck.name,
        persona=persona,
        resolution=data.resolution,
        padding_seconds=data.padding_seconds,
        empty_slide_seconds=data.empty_slide_seconds,
        priority=Job.Priority[data.priority.upper()],
        callback_url=data.callback_url or "",
        notes=notes,
    )
    return Status(201, selectors.job_api_payload(job=job))


def _encode_cursor(job: Job) -> str:
    raw = f"{job.created_at.isoformat()}|{job.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        created, job_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return utc_moment(datetime.fromisoformat(created)), UUID(job_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise RequestRefused(
            422, "validation_error", "The cursor is not one this API gave out.",
            [{"field": "cursor", "message": "invalid cursor"}],
        ) from exc  # fmt: skip


@jobs_router.get("", response={200: JobPage, **ERRORS})
def list_jobs(request, filters: Query[JobFilters]):
    """Your jobs, newest first, a page at a time (follow `next_cursor`)."""
    page, more = selectors.job_page_for(
        user=request.auth,
        limit=filters.limit,
        status=filters.status,
        created_after=filters.created_after,
        created_before=filters.created_before,
        after=_decode_cursor(filters.cursor) if filters.cursor else None,
    )
    return {
        "items": [selectors.job_api_payload(job=job) for job in page],
        "next_cursor": _encode_cursor(page[-1]) if more else None,
    }


class StorageUseOut(Schema):
    jobs: int = Field(description="Bytes of your jobs' own files (decks, videos, captions).")
    cache: int = Field(description="Bytes of slides kept to make your next renders faster.")
    total: int


@jobs_router.get("/storage", response={200: StorageUseOut, **ERRORS})
def storage_use(request):
    """What your files take in storage; cached slides expire after their last use."""
    return selectors.storage_use_for(user=request.auth)


class CacheClearedOut(Schema):
    removed: int = Field(description="Cached slide files removed.")
    bytes: int


@jobs_router.delete("/storage/cache", response={200: CacheClearedOut, **ERRORS})
def clear_cache(request):
    """Remove your cached slides now (renders after this make them again)."""
    removed, size = cached_artifacts_clear(owner_id=request.auth.id)
    return {"removed": removed, "bytes": size}


@jobs_router.get("/{uuid:job_id}", response={200: JobOut, **ERRORS})
def get_job(request, job_id: UUID):
    """Status, progress, each slide's state, the error if any, and links to the files.

    `notice` says when the job waits on a queue no worker is serving now.
    """
    job = _own_job(request, job_id)
    queue = selectors.job_waiting_queue(job=job)
    return {**selectors.job_api_payload(job=job), "notice": unserved_queue_notice(queue) or None}


@jobs_router.post("/{uuid:job_id}/cancel", response={200: JobOut, **ERRORS})
def cancel_job(request, job_id: UUID):
    job = _own_job(request, job_id)
    if not services.job_cancel(job=job):
        raise RequestRefused(409, "already_finished", f"The job is already {job.status}.")
    job.refresh_from_db()
    return selectors.job_api_payload(job=job)


@jobs_router.post("/{uuid:job_id}/retry", response={200: JobOut, **ERRORS})
def retry_job(request, job_id: UUID):
    """Continue a failed or cancelled job from the step where it stopped."""
    job = _own_job(request, job_id)
    try:
        services.job_retry(job=job)
    except DjangoValidationError as exc:
        raise RequestRefused(409, "not_retryable", " ".join(exc.messages)) from exc
    job.refresh_from_db()
    return selectors.job_api_payload(job=job)


@jobs_router.delete("/{uuid:job_id}", response={204: None, **ERRORS})
def delete_job(request, job_id: UUID):
    """Delete a finished job and every file it has (cancel a running job first)."""
    try:
        services.job_delete(job=_own_job(request, job_id))
    except DjangoValidationError as exc:
        raise RequestRefused(409, "job_running", " ".join(exc.messages)) from exc
    return Status(204, None)


@jobs_router.get(
    "/{uuid:job_id}/artifacts/{kind}",
    response={200: bytes, 206: bytes, **ERRORS},
    url_name="job_artifact",
)
def job_artifact(request, job_id: UUID, kind: Literal["video", "srt", "vtt", "chapters", "deck"]):
    """Download a file of the job. The video supports HTTP range requests (`Range: bytes=…`)."""
    job = _own_job(request, job_id)
    response = job_file_response(request, job, kind)
    if response is None:
        raise RequestRefused(404, "not_ready", f"The job has no {kind} (status: {job.status}).")
    return response


@jobs_router.get(
    "/{uuid:job_id}/slides/{int:index}/image",
    response={200: bytes, **ERRORS},
    url_name="slide_image",
)
def slide_image(request, job_id: UUID, index: int):
    response = slide_image_response(request, _own_job(request, job_id), index)
    if response is None:
        raise RequestRefused(404, "not_found", f"The job has no image for slide {index}.")
    return response
