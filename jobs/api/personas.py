"""The personas endpoints: a user's own personas and the shared ones (staff change those)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Field, File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from jobs.api.errors import ERRORS, ErrorOut
from jobs.api.fields import Moment, Text
from jobs.errors import RequestRefused
from jobs.personas import services, voice
from jobs.personas.models import Persona
from jobs.personas.selectors import (
    persona_can_clone,
    persona_get_for,
    persona_lexicon,
    persona_list_for,
    voice_reference_get,
)

PersonaStatus = Literal["draft", "ingesting", "active", "failed", "archived"]


class PersonaOut(Schema):
    id: int
    name: str
    tts_engine: Literal["piper", "xtts"]
    voice: str
    speaking_rate: float
    language: str
    status: PersonaStatus = Field(
        description="draft → ingesting → active (or failed: see ingestion_error); archived."
    )
    ingestion_error: str
    shared: bool = Field(description="Made by the operators for every user.")

    @staticmethod
    def resolve_shared(persona: Persona) -> bool:
        return persona.owner_id is None


class PersonaIn(Schema):
    name: Text = Field(..., min_length=1, max_length=100)
    tts_engine: Literal["piper", "xtts"] = "piper"
    voice: Text | None = Field(
        None, min_length=1, max_length=200,
        description="One of the engine's voices; by default its voice for the language.",
    )  # fmt: skip
    speaking_rate: float = Field(1.0, ge=0.5, le=2.0)
    language: Text = Field("en-US", min_length=2, max_length=20, description="BCP 47 tag.")
    shared: bool = Field(False, description="Staff only: a persona for every user.")


class PersonaPatch(Schema):
    name: Text | None = Field(None, min_length=1, max_length=100)
    voice: Text | None = Field(None, min_length=1, max_length=200)
    speaking_rate: float | None = Field(None, ge=0.5, le=2.0)
    language: Text | None = Field(None, min_length=2, max_length=20)


personas_router = Router(tags=["personas"])


@personas_router.get("", response={200: list[PersonaOut], **ERRORS})
def list_personas(request):
    """Your personas (any status) and the active shared ones; staff see every persona."""
    return list(persona_list_for(user=request.auth))


def persona_for(request, persona_id: int, *, manage: bool = False) -> Persona:
    """The persona the caller may see (or change, with `manage`); 404 for any other."""
    persona = persona_get_for(user=request.auth, persona_id=persona_id, manage=manage)
    if persona is not None:
        return persona
    if manage and persona_get_for(user=request.auth, persona_id=persona_id) is not None:
        raise RequestRefused(403, "staff_only", "Shared personas are changed by staff only.")
    raise RequestRefused(404, "not_found", f"There is no persona {persona_id}.")


@personas_router.post(
    "", response={201: PersonaOut, 403: ErrorOut, **ERRORS}, summary="Create a persona"
)
def create_persona(request, data: PersonaIn):
    """A new persona is a draft: upload its knowledge, then `POST …/ingest` to make it active
    (with no knowledge to ingest, that is immediate)."""
    fields = data.model_dump(exclude={"shared"})
    if data.shared and not request.auth.is_staff:
        raise RequestRefused(403, "staff_only", "Only staff make shared personas.")
    return Status(201, services.persona_create(owner=None if data.shared else request.auth,
                                               **fields))  # fmt: skip


@personas_router.get("/{int:persona_id}", response={200: PersonaOut, **ERRORS})
def get_persona(request, persona_id: int):
    return persona_for(request, persona_id)


@personas_router.patch(
    "/{int:persona_id}", response={200: PersonaOut, 403: ErrorOut, **ERRORS},
    summary="Update a persona",
)  # fmt: skip
def update_persona(request, persona_id: int, data: PersonaPatch):
    return services.persona_update(
        persona=persona_for(request, persona_id, manage=True),
        **data.model_dump(exclude_unset=True),
    )


@personas_router.delete(
    "/{int:persona_id}", response={204: None, 403: ErrorOut, **ERRORS},
    summary="Delete a persona no job uses (archive one that is used)",
)  # fmt: skip
def delete_persona(request, persona_id: int):
    services.persona_delete(persona=persona_for(request, persona_id, manage=True))
    return Status(204, None)


class PronunciationIO(Schema):
    phrase: Text = Field(..., min_length=1, max_length=100, description="As written in notes.")
    say: Text = Field(..., min_length=1, max_length=200, description="How to say it.")


class LexiconIO(Schema):
    entries: list[PronunciationIO] = Field(..., max_length=2000)


def _lexicon_out(persona: Persona) -> dict:
    entries = persona_lexicon(persona=persona).entries
    return {"entries": [{"phrase": phrase, "say": say} for phrase, say in entries]}


@personas_router.get("/{int:persona_id}/lexicon", response={200: LexiconIO, **ERRORS})
def get_lexicon(request, persona_id: int):
    """How the persona says particular words (applied to speech, never to captions)."""
    return _lexicon_out(persona_for(request, persona_id))


@personas_router.put(
    "/{int:persona_id}/lexicon", response={200: LexiconIO, 403: ErrorOut, **ERRORS},
    summary="Replace a persona's lexicon",
)  # fmt: skip
def put_lexicon(request, persona_id: int, data: LexiconIO):
    persona = persona_for(request, persona_id, manage=True)
    services.persona_lexicon_replace(
        persona=persona, entries=[(entry.phrase, entry.say) for entry in data.entries]
    )
    return _lexicon_out(persona)


class ReferenceOut(Schema):
    status: Literal["preparing", "ready", "failed"]
    error: str
    duration_seconds: float | None
    peak_dbfs: float | None
    snr_db: float | None
    loudness_lufs: float | None
    consent_given_by: str
    consent_given_at: datetime
    consent_statement: str
    uploaded_at: datetime
    can_clone: bool


class ConsentIn(Schema):
    consent_given_by: Text = Field(..., min_length=1, max_length=200)
    consent_given_at: Moment
    consent_statement: Text = Field(..., min_length=1, max_length=5000)


def _reference_out(persona: Persona) -> dict:
    reference = voice_reference_get(persona=persona)
    if reference is None:
        raise RequestRefused(404, "not_found", f"The persona {persona.name!r} has no recording.")
    fields = {
        name: getattr(reference, name) for name in ReferenceOut.model_fields if name != "can_clone"
    }
    return {**fields, "can_clone": persona_can_clone(persona=persona)}


@personas_router.post(
    "/{int:persona_id}/reference", response={202: ReferenceOut, 403: ErrorOut, **ERRORS},
    summary="Upload a reference recording for voice cloning",
)  # fmt: skip
def upload_reference(
    request, persona_id: int, data: Form[ConsentIn], recording: File[UploadedFile]
):
    """A WAV, MP3, M4A or OGG of 6 to 60 s of one voice, with the consent it was given under.

    It is prepared on the queue (mono, trimmed, -23 LUFS); follow `status` with GET.
    """
    persona = persona_for(request, persona_id, manage=True)
    consent = voice.Consent(
        given_by=data.consent_given_by,
        given_at=data.consent_given_at,
        statement=data.consent_statement,
    )
    voice.voice_reference_upload(
        persona=persona, recording=recording, consent=consent, uploaded_by=request.auth
    )
    return Status(202, _reference_out(persona))


@personas_router.get("/{int:persona_id}/reference", response={200: ReferenceOut, **ERRORS})
def get_reference(request, persona_id: int):
    """The recording's preparation: status, why it was refused, its measures, the consent."""
    return _reference_out(persona_for(request, persona_id))
