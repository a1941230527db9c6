"""Every write to personas: create, update, delete."""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError

from jobs.errors import RequestRefused
from jobs.personas.models import Persona, PronunciationEntry
from media_pipeline.script import Lexicon, NarrationMarkupError

logger = logging.getLogger("slidecast.personas")


def _persona_save(persona: Persona) -> Persona:
    try:
        persona.full_clean()
    except ValidationError as exc:
        if "name" in getattr(exc, "message_dict", {}):
            raise RequestRefused(
                409, "name_taken", f"A persona named {persona.name!r} exists."
            ) from exc
        raise
    persona.save()
    return persona


def persona_create(**fields) -> Persona:
    """Create a persona; a name in use is refused (409), other bad values raise ValidationError."""
    persona = _persona_save(Persona(**fields))
    logger.info("persona %s created", persona.name)
    return persona


def persona_update(*, persona: Persona, **fields) -> Persona:
    """Change the given fields (None leaves one as it is) and save, checked like a new one."""
    for field, value in fields.items():
        if value is not None:
            setattr(persona, field, value)
    return _persona_save(persona)


def persona_delete(*, persona: Persona) -> None:
    """Delete a persona no job uses; one in use is refused (409): disable it instead."""
    try:
        persona.delete()
    except ProtectedError as exc:
        in_use = persona.jobs.count()
        raise RequestRefused(
            409, "persona_in_use",
            f"The persona {persona.name!r} is used by {in_use} jobs; disable it instead "
            "(PATCH status=disabled).",
        ) from exc  # fmt: skip
    logger.info("persona %s deleted", persona.name)


@transaction.atomic
def persona_lexicon_replace(*, persona: Persona, entries: list[tuple[str, str]]) -> int:
    """Make `entries` (phrase, how to say it) the persona's whole lexicon; return its size.

    A phrase listed twice (in any case) or beyond the limits is refused as a whole, so a
    lexicon is never left half replaced.
    """
    cleaned = [(" ".join(phrase.split()), " ".join(say.split())) for phrase, say in entries]
    try:
        Lexicon.of(cleaned)
    except NarrationMarkupError as exc:
        raise ValidationError({"lexicon": exc.message}) from exc
    seen: set[str] = set()
    for phrase, say in cleaned:
        if not say or len(say) > 200:
            raise ValidationError({"lexicon": f"Say {phrase!r} with 1 to 200 characters."})
        if phrase.lower() in seen:
            raise ValidationError({"lexicon": f"The phrase {phrase!r} is listed twice."})
        seen.add(phrase.lower())
    persona.pronunciations.all().delete()
    PronunciationEntry.objects.bulk_create(
        PronunciationEntry(persona=persona, phrase=phrase, say=say) for phrase, say in cleaned
    )
    logger.info("persona %s lexicon replaced: %d entries", persona.name, len(cleaned))
    return len(cleaned)
