"""The REST API (django-ninja): jobs, personas, webhooks and system figures.

Every error is answered as {"error": {"code", "message", "details"}}. Authentication is a
personal token in `Authorization: Bearer …`; every endpoint sees only the token user's jobs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, Q
from django.http import Http404, HttpRequest
from django.http.multipartparser import MultiPartParserError
from ninja import Field, File, Form, NinjaAPI, Query, Router, Schema, Status
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.files import UploadedFile
from ninja.security import HttpBearer
from pydantic import AfterValidator

from jobs import dashboard, inbound, services
from jobs.api_auth import ApiError, api_token_authenticate, rate_limit_check
from jobs.files import job_file_response, slide_image_response
from jobs.forms import oversized_upload_message
from jobs.models import IdempotencyKey, Job, Persona
from jobs.selectors import job_api_payload
from jobs.storage import storage_delete_tree
from jobs.webhooks import webhook_secret_for

DESCRIPTION = """
Turn PowerPoint decks into narrated, captioned videos.

**Authentication**: send a personal token as `Authorization: Bearer sc_…`. Create one in the
admin (API tokens) or with `python manage.py create_api_token USERNAME`; it is shown once.
Each token may make a limited number of requests a minute; over it the answer is 429 with
`Retry-After`.

**Errors** always have the shape `{"error": {"code": "...", "message": "...", "details": [...]}}`.

**Webhooks**: a job created with a `callback_url` gets a POST when it completes or fails.
The body is `{"id", "type": "job.completed" | "job.failed", "created_at", "data": {"job"}}`
and the header `Slidecast-Signature: t=<unix seconds>,v1=<hex>`, where the hex is the
HMAC-SHA256 of `<t>.<raw body>` keyed with your secret (`GET /api/webhooks/secret`). Check
that the HMAC matches (constant-time) and that `t` is within 5 minutes of now.
"""


class ErrorBody(Schema):
    code: str
    message: str
    details: list[dict] = []


class ErrorOut(Schema):
    error: ErrorBody


def _error(request, status: int, code: str, message: str, details=None, headers=None):
    response = api.create_response(
        request,
        {"error": {"code": code, "message": message, "details": details or []}},
        status=status,
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str):
        record = api_token_authenticate(token)
        if record is None:
            return None
        rate_limit_check(record)
        _refuse_oversized_upload(request)
        request.user = record.user
        return record.user


class StaffTokenAuth(TokenAuth):
    def authenticate(self, request: HttpRequest, token: str):
        user = super().authenticate(request, token)
        if user is not None and not user.is_staff:
            raise ApiError(403, "staff_only", "This endpoint is for staff tokens only.")
        return user


def _refuse_oversized_upload(request: HttpRequest) -> None:
    too_large = oversized_upload_message(request)
    if too_large:
        raise ApiError(413, "upload_too_large", too_large)


api = NinjaAPI(
    title="Slidecast API",
    version="1.0",
    description=DESCRIPTION,
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
    auth=TokenAuth(),
)


@api.exception_handler(ApiError)
def _api_error(request, exc: ApiError):
    return _error(request, exc.status, exc.code, exc.message, exc.details, exc.headers)


@api.exception_handler(NinjaValidationError)
def _validation_error(request, exc: NinjaValidationError):
    details = [
        {
            "field": _field_name(error.get("loc", [])),
            "message": error.get("msg", "invalid"),
            "type": error.get("type", ""),
        }
        for error in exc.errors
    ]
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
    return _error(request, 422, "validation_error", f"The request is not valid: {summary}", details)


def _field_name(location) -> str:
    # ("body", "data", "language") -> "language"; ("query", "limit") -> "limit"
    parts = [str(part) for part in location[1:]]
    if len(parts) > 1 and parts[0] == "data":
        parts = parts[1:]
    return ".".join(parts) or "request"


@api.exception_handler(DjangoValidationError)
def _model_validation_error(request, exc: DjangoValidationError):
    if hasattr(exc, "message_dict"):
        details = [
            {"field": field, "message": " ".join(messages)}
            for field, messages in exc.message_dict.items()
        ]
    else:
        details = [{"field": "request", "message": message} for message in exc.messages]
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details)
    return _error(request, 422, "validation_error", f"The request is not valid: {summary}", details)


@api.exception_handler(AuthenticationError)
def _authentication_error(request, exc):
    return _error(
        request, 401, "unauthorized",
        "Send a valid API token as 'Authorization: Bearer <token>'.",
        headers={"WWW-Authenticate": "Bearer"},
    )  # fmt: skip


@api.exception_handler(Http404)
def _not_found(request, exc):
    return _error(request, 404, "not_found", str(exc) or "Not found.")


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    return _error(request, exc.status_code, "http_error", str(exc))


@api.exception_handler(MultiPartParserError)
def _malformed_body(request, exc):
    return _error(
        request, 400, "malformed_request",
        "The request body is not valid multipart/form-data (a missing or broken boundary, "
        "or a truncated part). Send the deck as a multipart form field named 'deck'.",
    )  # fmt: skip


@api.exception_handler(RequestDataTooBig)
def _body_too_big(request, exc):
    return _error(request, 413, "upload_too_large", "The request's form fields are too large.")


@api.exception_handler(SuspiciousOperation)
def _suspicious_request(request, exc):
    # Too many fields or files, or a malformed header: Django refuses these on purpose.
    return _error(request, 400, "malformed_request", "The request is malformed or too complex.")


# Schemas -------------------------------------------------------------------------------


def _storable(value: str) -> str:
    # PostgreSQL text cannot hold NUL, and UTF-8 cannot hold lone surrogates.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode text") from exc
    return value


Text = Annotated[str, AfterValidator(_storable)]

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
    status: str
    duration_seconds: float | None
    error: str | None
    image_url: str | None


class Artifacts(Schema):
    video: str | None
    srt: str | None
    vtt: str | None
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
    artifacts: Artifacts


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


def _utc(value: datetime) -> datetime:
    # PostgreSQL accepts UTC offsets up to 15:59 only; convert whatever arrives to UTC.
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("is out of the supported range of dates") from exc


Moment = Annotated[datetime, AfterValidator(_utc)]


class JobFilters(Schema):
    status: JobStatus | None = None
    created_after: Moment | None = None
    created_before: Moment | None = None
    limit: int = Field(20, ge=1, le=100)
    cursor: Text | None = Field(None, max_length=200)


class PersonaOut(Schema):
    id: int
    name: str
    tts_engine: Literal["piper"]
    voice: str
    speaking_rate: float
    language: str
    status: Literal["active", "disabled"]


class PersonaIn(Schema):
    name: Text = Field(..., min_length=1, max_length=100)
    tts_engine: Literal["piper"] = "piper"
    voice: Text = Field("en_US-joe-medium", min_length=1, max_length=200)
    speaking_rate: float = Field(1.0, ge=0.5, le=2.0)
    language: Text = Field("en-US", min_length=2, max_length=20)
    status: Literal["active", "disabled"] = "active"


class PersonaPatch(Schema):
    name: Text | None = Field(None, min_length=1, max_length=100)
    voice: Text | None = Field(None, min_length=1, max_length=200)
    speaking_rate: float | None = Field(None, ge=0.5, le=2.0)
    language: Text | None = Field(None, min_length=2, max_length=20)
    status: Literal["active", "disabled"] | None = None


class SecretOut(Schema):
    secret: str
    header: str = "Slidecast-Signature"
    scheme: str = "t=<unix seconds>,v1=<hex HMAC-SHA256 of '<t>.<raw body>'>"


class InboundOut(Schema):
    status: Literal["accepted", "duplicate"]
    event_id: str


ERRORS = {400: ErrorOut, 401: ErrorOut, 404: ErrorOut, 409: ErrorOut, 413: ErrorOut,
          422: ErrorOut, 429: ErrorOut}  # fmt: skip


# Jobs ----------------------------------------------------------------------------------

jobs_router = Router(tags=["jobs"])


def _own_job(request, job_id: UUID) -> Job:
    job = Job.objects.filter(owner=request.auth, id=job_id).select_related("persona").first()
    if job is None:
        raise ApiError(404, "not_found", f"No job {job_id} among yours.")
    return job


def _request_hash(deck: UploadedFile, fields: JobCreateIn) -> str:
    digest = hashlib.sha256()
    for chunk in deck.chunks():
        digest.update(chunk)
    deck.seek(0)
    digest.update(json.dumps(fields.model_dump(mode="json"), sort_keys=True).encode())
    return digest.hexdigest()


@jobs_router.post("", response={201: JobOut, **ERRORS}, url_name="jobs")
def create_job(request, data: Form[JobCreateIn], deck: File[UploadedFile]):
    """Upload a .pptx and start narrating it.

    Send `Idempotency-Key: <your key>` to make retries safe: the same key with the same
    deck and options returns the job created first; with a different request it is a 409.
    """
    if not (deck.name or "").lower().endswith(".pptx") or "\x00" in deck.name:
        raise ApiError(
            422, "validation_error", "The deck must be a PowerPoint file named *.pptx.",
            [{"field": "deck", "message": f"got {deck.name!r}"}],
        )  # fmt: skip
    persona = Persona.objects.filter(id=data.persona_id).first()
    if persona is None:
        raise ApiError(
            422, "validation_error", f"There is no persona {data.persona_id}.",
            [{"field": "persona_id", "message": "unknown persona"}],
        )  # fmt: skip
    key = request.headers.get("Idempotency-Key", "").strip()[:255]
    request_hash = _request_hash(deck, data) if key else ""
    if key:
        replay = _idempotent_replay(request, key, request_hash)
        if replay is not None:
            return replay
    try:
        with transaction.atomic():
            job = services.job_create(
                owner=request.auth,
                deck=deck,
                title=deck.name,
                persona=persona,
                resolution=data.resolution,
                padding_seconds=data.padding_seconds,
                empty_slide_seconds=data.empty_slide_seconds,
                priority=Job.Priority[data.priority.upper()],
                callback_url=data.callback_url or "",
            )
            if key:
                IdempotencyKey.objects.create(
                    user=request.auth, key=key, request_hash=request_hash, job=job
                )
    except IntegrityError:
        # The same key arrived twice at once: the first one won.
        replay = _idempotent_replay(request, key, request_hash)
        if replay is not None:
            return replay
        raise
    return Status(201, job_api_payload(job=job))


def _idempotent_replay(request, key: str, request_hash: str):
    previous = IdempotencyKey.objects.filter(user=request.auth, key=key).select_related("job")
    previous = previous.first()
    if previous is None:
        return None
    if previous.request_hash != request_hash:
        raise ApiError(
            409, "idempotency_key_reused",
            "This Idempotency-Key was used with a different deck or options. "
            "Use a new key for a new request.",
            [{"field": "Idempotency-Key", "message": "already used for another request"}],
        )  # fmt: skip
    return Status(201, job_api_payload(job=previous.job))


def _encode_cursor(job: Job) -> str:
    raw = f"{job.created_at.isoformat()}|{job.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        created, job_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return _utc(datetime.fromisoformat(created)), UUID(job_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ApiError(
            422, "validation_error", "The cursor is not one this API gave out.",
            [{"field": "cursor", "message": "invalid cursor"}],
        ) from exc  # fmt: skip


@jobs_router.get("", response={200: JobPage, **ERRORS})
def list_jobs(request, filters: Query[JobFilters]):
    """Your jobs, newest first, a page at a time (follow `next_cursor`)."""
    jobs = Job.objects.filter(owner=request.auth).select_related("persona")
    if filters.status:
        jobs = jobs.filter(status=filters.status)
    if filters.created_after:
        jobs = jobs.filter(created_at__gte=filters.created_after)
    if filters.created_before:
        jobs = jobs.filter(created_at__lt=filters.created_before)
    if filters.cursor:
        created, job_id = _decode_cursor(filters.cursor)
        jobs = jobs.filter(Q(created_at__lt=created) | Q(created_at=created, id__lt=job_id))
    page = list(jobs.order_by("-created_at", "-id")[: filters.limit + 1])
    more = len(page) > filters.limit
    page = page[: filters.limit]
    return {
        "items": [job_api_payload(job=job) for job in page],
        "next_cursor": _encode_cursor(page[-1]) if more else None,
    }


@jobs_router.get("/{uuid:job_id}", response={200: JobOut, **ERRORS})
def get_job(request, job_id: UUID):
    """Status, progress, each slide's state, the error if any, and links to the files."""
    return job_api_payload(job=_own_job(request, job_id))


@jobs_router.post("/{uuid:job_id}/cancel", response={200: JobOut, **ERRORS})
def cancel_job(request, job_id: UUID):
    job = _own_job(request, job_id)
    if not services.job_cancel(job=job):
        raise ApiError(409, "already_finished", f"The job is already {job.status}.")
    job.refresh_from_db()
    return job_api_payload(job=job)


@jobs_router.post("/{uuid:job_id}/retry", response={200: JobOut, **ERRORS})
def retry_job(request, job_id: UUID):
    """Continue a failed or cancelled job from the step where it stopped."""
    job = _own_job(request, job_id)
    try:
        services.job_retry(job=job)
    except DjangoValidationError as exc:
        raise ApiError(409, "not_retryable", " ".join(exc.messages)) from exc
    job.refresh_from_db()
    return job_api_payload(job=job)


@jobs_router.delete("/{uuid:job_id}", response={204: None, **ERRORS})
def delete_job(request, job_id: UUID):
    """Delete a finished job and every file it has (cancel a running job first)."""
    job = _own_job(request, job_id)
    if not job.is_finished:
        # A step still running would write files after the delete: cancel, then delete.
        raise ApiError(
            409, "job_running", f"The job is still {job.status}; cancel it first, then delete it."
        )
    storage_delete_tree(job.storage_prefix())
    job.delete()
    return Status(204, None)


@jobs_router.get(
    "/{uuid:job_id}/artifacts/{kind}",
    response={200: bytes, 206: bytes, **ERRORS},
    url_name="job_artifact",
)
def job_artifact(request, job_id: UUID, kind: Literal["video", "srt", "vtt", "deck"]):
    """Download a file of the job. The video supports HTTP range requests (`Range: bytes=…`)."""
    job = _own_job(request, job_id)
    response = job_file_response(request, job, kind)
    if response is None:
        raise ApiError(404, "not_ready", f"The job has no {kind} (status: {job.status}).")
    return response


@jobs_router.get(
    "/{uuid:job_id}/slides/{int:index}/image",
    response={200: bytes, **ERRORS},
    url_name="slide_image",
)
def slide_image(request, job_id: UUID, index: int):
    response = slide_image_response(request, _own_job(request, job_id), index)
    if response is None:
        raise ApiError(404, "not_found", f"The job has no image for slide {index}.")
    return response


# Personas ------------------------------------------------------------------------------

personas_router = Router(tags=["personas"])


@personas_router.get("", response={200: list[PersonaOut], **ERRORS})
def list_personas(request):
    """The voices jobs can use. Staff tokens also see disabled personas."""
    personas = Persona.objects.order_by("name")
    if not request.auth.is_staff:
        personas = personas.filter(status=Persona.Status.ACTIVE)
    return list(personas)


def _persona(persona_id: int) -> Persona:
    persona = Persona.objects.filter(id=persona_id).first()
    if persona is None:
        raise ApiError(404, "not_found", f"There is no persona {persona_id}.")
    return persona


def _save_persona(persona: Persona) -> Persona:
    try:
        persona.full_clean()
    except DjangoValidationError as exc:
        if "name" in getattr(exc, "message_dict", {}):
            raise ApiError(409, "name_taken", f"A persona named {persona.name!r} exists.") from exc
        raise
    persona.save()
    return persona


@personas_router.post(
    "", response={201: PersonaOut, 403: ErrorOut, **ERRORS}, auth=StaffTokenAuth(),
    summary="Create a persona (staff only)",
)  # fmt: skip
def create_persona(request, data: PersonaIn):
    return Status(201, _save_persona(Persona(**data.model_dump())))


@personas_router.patch(
    "/{int:persona_id}", response={200: PersonaOut, 403: ErrorOut, **ERRORS},
    auth=StaffTokenAuth(), summary="Update a persona (staff only)",
)  # fmt: skip
def update_persona(request, persona_id: int, data: PersonaPatch):
    persona = _persona(persona_id)
    for field, value in data.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(persona, field, value)
    return _save_persona(persona)


@personas_router.delete(
    "/{int:persona_id}", response={204: None, 403: ErrorOut, **ERRORS},
    auth=StaffTokenAuth(), summary="Delete a persona (staff only)",
)  # fmt: skip
def delete_persona(request, persona_id: int):
    persona = _persona(persona_id)
    try:
        persona.delete()
    except ProtectedError as exc:
        in_use = persona.jobs.count()
        raise ApiError(
            409, "persona_in_use",
            f"The persona {persona.name!r} is used by {in_use} jobs; disable it instead "
            "(PATCH status=disabled).",
        ) from exc  # fmt: skip
    return Status(204, None)


# Webhooks ------------------------------------------------------------------------------

webhooks_router = Router(tags=["webhooks"])


@webhooks_router.get("/secret", response={200: SecretOut, **ERRORS})
def webhook_secret(request):
    """The secret that signs the webhooks of your jobs."""
    return {"secret": webhook_secret_for(request.auth)}


@webhooks_router.post(
    "/{source}", auth=None, response={200: InboundOut, 202: InboundOut, **ERRORS},
    summary="Receive an event from an outside system (signed, no token)",
)  # fmt: skip
def receive_event(request, source: str):
    """Events from outside systems, verified with the source's secret.

    HubSpot: its v3 signature headers. Other sources: `Slidecast-Signature` as for outbound
    webhooks. The event is stored and answered 202 at once; a replay of an event id is
    answered 200 and ignored.
    """
    event, new = inbound.inbound_event_receive(source=source, request=request)
    if not new:
        return Status(200, {"status": "duplicate", "event_id": event.event_id})
    return Status(202, {"status": "accepted", "event_id": event.event_id})


# System (staff) ------------------------------------------------------------------------

system_router = Router(tags=["system (staff only)"], auth=StaffTokenAuth())


@system_router.get("/queues", response={200: dict, 403: ErrorOut, **ERRORS})
def system_queues(request):
    """Per queue: jobs per status, latency, throughput, paused state (as the dashboard)."""
    return {"queues": [queue.as_dict() for queue in dashboard.queue_overview()]}


@system_router.get("/workers", response={200: dict, 403: ErrorOut, **ERRORS})
def system_workers(request):
    """Every worker: host, queues, start, heartbeat, running jobs (as the dashboard)."""
    return {"workers": [worker.as_dict() for worker in dashboard.worker_overview()]}


api.add_router("/jobs", jobs_router)
api.add_router("/personas", personas_router)
api.add_router("/webhooks", webhooks_router)
api.add_router("/system", system_router)
