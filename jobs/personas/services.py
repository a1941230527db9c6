"""Every write to personas: create, update, delete."""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.db.models import ProtectedError

from jobs.errors import RequestRefused
from jobs.personas.models import Persona

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
