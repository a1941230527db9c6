"""The personas endpoints: everyone lists the voices; staff create, change and delete them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Field, File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from jobs.api.auth import StaffTokenAuth
from jobs.api.errors import ERRORS, ErrorOut
from jobs.api.fields import Moment, Text
from jobs.errors import RequestRefused
from jobs.personas import services, voice
from jobs.personas.models import Persona
from jobs.personas.selectors import (
    persona_can_clone,
    persona_get,
    persona_lexicon,
    persona_list_for,
    voice_reference_get,
)


class PersonaOut(Schema):
    id: int
    name: str
    tts_engine: Literal["piper", "xtts"]
    voice: str
    speaking_rate: float
    language: str
    status: Literal["active", "disabled"]


class PersonaIn(Schema):
    name: Text = Field(..., min_length=1, max_length=100)
    tts_engine: Literal["piper", "xtts"] = "piper"
    voice: Text | None = Field(
        None, min_length=1, max_length=200,
        description="One of the engine's voices; by default its voice for the language.",
    )  # fmt: skip
    speaking_rate: float = Field(1.0, ge=0.5, le=2.0)
    language: Text = Field("en-US", min_length=2, max_length=20, description="BCP 47 tag.")
    status: Literal["active", "disabled"] = "active"


class PersonaPatch(Schema):
    name: Text | None = Field(None, min_length=1, max_length=100)
    voice: Text | None = Field(None, min_length=1, max_length=200)
    speaking_rate: float | None = Field(None, ge=0.5, le=2.0)
    language: Text | None = Field(None, min_length=2, max_length=20)
    status: Literal["active", "disabled"] | None = None


personas_router = Router(tags=["personas"])


@personas_router.get("", response={200: list[PersonaOut], **ERRORS})
def list_personas(request):
    """The voices jobs can use. Staff tokens also see disabled personas."""
    return list(persona_list_for(user=request.auth))


def _persona(persona_id: int) -> Persona:
    persona = persona_get(persona_id=persona_id)
    if persona is None:
        raise RequestRefused(404, "not_found", f"There is no persona {persona_id}.")
    return persona


@personas_router.post(
    "", response={201: PersonaOut, 403: ErrorOut, **ERRORS}, auth=StaffTokenAuth(),
    summary="Create a persona (staff only)",
)  # fmt: skip
def create_persona(request, data: PersonaIn):
    return Status(201, services.persona_create(**data.model_dump()))


@personas_router.patch(
    "/{int:persona_id}", response={200: PersonaOut, 403: ErrorOut, **ERRORS},
    auth=StaffTokenAuth(), summary="Update a persona (staff only)",
)  # fmt: skip
def update_persona(request, persona_id: int, data: PersonaPatch):
    return services.persona_update(
        persona=_persona(persona_id), **data.model_dump(exclude_unset=True)
    )


@personas_router.delete(
    "/{int:persona_id}", response={204: None, 403: ErrorOut, **ERRORS},
    auth=StaffTokenAuth(), summary="Delete a persona (staff only)",
)  # fmt: skip
def delete_persona(request, persona_id: int):
    services.persona_delete(persona=_persona(persona_id))
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
    return _lexicon_out(_persona(persona_id))


@personas_router.put(
    "/{int:persona_id}/lexicon", response={200: LexiconIO, 403: ErrorOut, **ERRORS},
    auth=StaffTokenAuth(), summary="Replace a persona's lexicon (staff only)",
)  # fmt: skip
def put_lexicon(request, persona_id: int, data: LexiconIO):
    persona = _persona(persona_id)
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
    auth=StaffTokenAuth(), summary="Upload a reference recording for voice cloning (staff only)",
)  # fmt: skip
def upload_reference(
    request, persona_id: int, data: Form[ConsentIn], recording: File[UploadedFile]
):
    """A WAV, MP3, M4A or OGG of 6 to 60 s of one voice, with the consent it was given under.

    It is prepared on the queue (mono, trimmed, -23 LUFS); follow `status` with GET.
    """
    persona = _persona(persona_id)
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
    return _reference_out(_persona(persona_id))
