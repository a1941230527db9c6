"""Reads of personas."""

from __future__ import annotations

from django.db.models import QuerySet

from jobs.personas.models import Persona, VoiceReference
from media_pipeline.script import Lexicon


def persona_choices() -> QuerySet[Persona]:
    """The personas a new job may use."""
    return Persona.objects.filter(status=Persona.Status.ACTIVE)


def persona_list_for(*, user) -> QuerySet[Persona]:
    """Every persona for staff; the active ones for everyone else."""
    personas = Persona.objects.order_by("name")
    return personas if user.is_staff else personas.filter(status=Persona.Status.ACTIVE)


def persona_get(*, persona_id: int) -> Persona | None:
    return Persona.objects.filter(id=persona_id).first()


def persona_lexicon(*, persona: Persona) -> Lexicon:
    """How the persona says particular words, ready for the speech step."""
    return Lexicon.of(persona.pronunciations.values_list("phrase", "say"))


def voice_reference_get(*, persona: Persona) -> VoiceReference | None:
    return VoiceReference.objects.filter(persona=persona).first()


def persona_can_clone(*, persona: Persona) -> bool:
    """Whether the persona has a prepared reference recording with consent on record."""
    return (
        VoiceReference.objects.filter(persona=persona, status=VoiceReference.Status.READY)
        .exclude(consent_given_by="")
        .exists()
    )
