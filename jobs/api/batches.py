"""The batch endpoints: many decks or variants in one call, followed and downloaded as one."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from django.urls import reverse
from ninja import Field, File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from jobs.api.errors import ERRORS
from jobs.api.fields import Text, request_fingerprint
from jobs.errors import RequestRefused
from jobs.media import batches
from jobs.media.models import MediaBatch
from jobs.personas.selectors import persona_get
from jobs.web.files import stored_file_response


class BatchChild(Schema):
    kind: Literal["narration", "transcode"]
    id: UUID
    title: str
    persona: str | None
    preset: dict[str, Any] | None
    status: str
    error: str | None


class BatchOut(Schema):
    id: UUID
    title: str
    status: Literal["running", "completed", "partial", "failed", "cancelled"]
    progress: dict[str, Any] = Field(
        ..., description="expected, ended, completed, failed, cancelled, not_made, percent"
    )
    presets: list[dict[str, Any]]
    children: list[BatchChild]
    archive_url: str | None = Field(None, description="The ZIP of every output, once ended.")
    archive_size_bytes: int | None
    created_at: datetime
    finished_at: datetime | None


class BatchCreateIn(Schema):
    persona_ids: Text = Field(
        ..., max_length=2000, description='JSON list of persona ids, e.g. "[1, 4]".'
    )
    presets: Text = Field(
        "[]",
        max_length=20_000,
        description="JSON list of transcode options (see GET /api/media/capabilities), one "
        "output per preset and narration; [] for the narrations only.",
    )
    resolution: Literal["1280x720", "1920x1080", "3840x2160"] = "1920x1080"
    title: Text | None = Field(None, max_length=255)


batches_router = Router(tags=["batches"])


def _json_list(text: str, field: str) -> list:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RequestRefused(
            422, "validation_error", f"{field} must be a JSON list.",
            [{"field": field, "message": str(exc)}],
        ) from exc  # fmt: skip
    if not isinstance(value, list):
        raise RequestRefused(422, "validation_error", f"{field} must be a JSON list.")
    return value


def _own(request, batch_id: UUID) -> MediaBatch:
    batch = MediaBatch.objects.filter(owner=request.auth, id=batch_id).first()
    if batch is None:
        raise RequestRefused(404, "not_found", f"No batch {batch_id} among yours.")
    return batch


def payload(batch: MediaBatch) -> dict:
    children = [
        {"kind": "narration", "id": job.id, "title": job.title, "persona": job.persona.name,
         "preset": None, "status": job.status, "error": job.error or None}
        for job in batch.jobs.select_related("persona").order_by("created_at")
    ] + [
        {"kind": "transcode", "id": media.id, "title": media.title, "persona": None,
         "preset": media.parameters, "status": media.status, "error": media.error or None}
        for media in batch.media_jobs.order_by("created_at")
    ]  # fmt: skip
    return {
        "id": batch.id,
        "title": batch.title,
        "status": batch.status,
        "progress": batches.batch_progress(batch),
        "presets": batch.presets,
        "children": children,
        "archive_url": reverse("api:batch_archive", args=[batch.id]) if batch.archive else None,
        "archive_size_bytes": batch.archive_size_bytes,
        "created_at": batch.created_at,
        "finished_at": batch.finished_at,
    }


@batches_router.post("", response={201: BatchOut, 200: BatchOut, **ERRORS}, url_name="batches")
def create_batch(request, data: Form[BatchCreateIn], decks: File[list[UploadedFile]]):
    """Narrate each deck with each persona, then transcode each narration to each preset.

    Send `Idempotency-Key`: the same key with the same request returns the first batch (200);
    with a different request it is a 409.
    """
    for deck in decks:
        if not (deck.name or "").lower().endswith(".pptx") or "\x00" in deck.name:
            raise RequestRefused(422, "validation_error", f"{deck.name!r} is not a .pptx deck.")
    personas = []
    for persona_id in _json_list(data.persona_ids, "persona_ids"):
        persona = persona_get(persona_id=persona_id) if isinstance(persona_id, int) else None
        if persona is None:
            raise RequestRefused(422, "validation_error", f"There is no persona {persona_id!r}.")
        personas.append(persona)
    presets = _json_list(data.presets, "presets")
    if not all(isinstance(preset, dict) for preset in presets):
        raise RequestRefused(422, "validation_error", "Each preset must be a JSON object.")
    key = request.headers.get("Idempotency-Key", "").strip()[:255]
    request_hash = request_fingerprint(decks, data) if key else ""
    earlier = MediaBatch.objects.filter(owner=request.auth, idempotency_key=key).first()
    if key and earlier is not None:
        if earlier.request_hash != request_hash:
            raise RequestRefused(
                409, "idempotency_conflict",
                "This Idempotency-Key was used for a different request; use a new key.",
            )  # fmt: skip
        return Status(200, payload(earlier))
    batch = batches.batch_create(
        owner=request.auth, decks=decks, personas=personas, presets=presets,
        resolution=data.resolution, title=data.title or "", idempotency_key=key,
        request_hash=request_hash,
    )  # fmt: skip
    return Status(201, payload(batch))


@batches_router.get("/{uuid:batch_id}", response={200: BatchOut, **ERRORS})
def get_batch(request, batch_id: UUID):
    return payload(_own(request, batch_id))


@batches_router.get("", response={200: list[BatchOut], **ERRORS})
def list_batches(request):
    """Your 50 newest batches."""
    return [payload(b) for b in MediaBatch.objects.filter(owner=request.auth)[:50]]


@batches_router.post("/{uuid:batch_id}/cancel", response={200: BatchOut, **ERRORS})
def cancel_batch(request, batch_id: UUID):
    """Cancel every child still waiting or running; finished outputs still go in the ZIP."""
    batch = _own(request, batch_id)
    if not batches.batch_cancel(batch=batch):
        raise RequestRefused(409, "already_finished", f"The batch is already {batch.status}.")
    batch.refresh_from_db()
    return payload(batch)


@batches_router.get(
    "/{uuid:batch_id}/archive", response={200: bytes, 206: bytes, **ERRORS},
    url_name="batch_archive",
)  # fmt: skip
def batch_archive(request, batch_id: UUID):
    """The ZIP of every output (and manifest.json saying how each child ended)."""
    batch = _own(request, batch_id)
    if not batch.archive:
        raise RequestRefused(404, "not_ready", f"The batch has no ZIP yet ({batch.status}).")
    return stored_file_response(
        request, batch.archive.name, content_type="application/zip",
        download_name=f"batch-{batch.id}.zip", inline=False,
    )  # fmt: skip
