"""The personas endpoints: everyone lists the voices; staff create, change and delete them."""

from __future__ import annotations

from typing import Literal

from ninja import Field, Router, Schema, Status

from jobs.api.auth import StaffTokenAuth
from jobs.api.errors import ERRORS, ErrorOut
from jobs.api.fields import Text
from jobs.errors import RequestRefused
from jobs.personas import services
from jobs.personas.models import Persona
from jobs.personas.selectors import persona_get, persona_lexicon, persona_list_for


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
