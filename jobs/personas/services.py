"""Every write to personas: create, update, delete."""

from __future__ import annotations

import logging

import langcodes
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError

from jobs.errors import RequestRefused
from jobs.personas.models import Persona, PronunciationEntry
from jobs.speech import speech_engines
from media_pipeline.script import Lexicon, NarrationMarkupError, duplicate_phrases

logger = logging.getLogger("slidecast.personas")


def _persona_save(persona: Persona) -> Persona:
    # Names are unique per owner, and among the shared personas.
    namesakes = Persona.objects.filter(name=persona.name, owner=persona.owner).exclude(
        id=persona.id
    )
    if namesakes.exists():
        raise RequestRefused(409, "name_taken", f"A persona named {persona.name!r} exists.")
    persona.full_clean(validate_constraints=False)
    persona.save()
    return persona


VOICE_FIELDS = ("tts_engine", "language", "voice")


def persona_voice_check(*, tts_engine: str, language: str, voice: str | None) -> tuple[str, str]:
    """Return the language as a standard BCP 47 tag and the voice to speak it with.

    No voice means the engine's voice for the language. A tag that is not BCP 47, an engine
    that is not here, or a voice the engine does not have raises ValidationError naming the
    field, with the voices there are.
    """
    if not language or not langcodes.tag_is_valid(language):
        raise ValidationError(
            {"language": f"{language!r} is not a BCP 47 language tag such as en-US or de-DE."}
        )
    language = langcodes.standardize_tag(language)
    engines = speech_engines()
    if tts_engine not in engines.names():
        choices = ", ".join(engines.names())
        raise ValidationError(
            {"tts_engine": f"There is no engine {tts_engine!r}; choose {choices}."}
        )
    voices = engines.get(tts_engine).voices()
    listed = ", ".join(voices) or "none installed"
    if not voice:
        voice = engines.default_voice(tts_engine, language)
        if voice is None:
            raise ValidationError(
                {"voice": f"The {tts_engine} engine has no voice for {language} here ({listed})."}
            )
    elif voice not in voices:
        raise ValidationError(
            {"voice": f"The {tts_engine} engine has no voice {voice!r} here; its voices: {listed}."}
        )
    return language, voice


def persona_create(**fields) -> Persona:
    """Create a persona, a draft until its ingestion (which may have nothing to ingest) ends.

    A name in use is refused (409), other bad values raise ValidationError. No `owner`
    makes a shared persona, which every user may narrate with.
    """
    fields.setdefault("status", Persona.Status.DRAFT)
    persona = Persona(**fields)
    persona.language, persona.voice = persona_voice_check(
        tts_engine=persona.tts_engine, language=persona.language, voice=fields.get("voice")
    )
    persona = _persona_save(persona)
    logger.info("persona %s created", persona.name)
    return persona


def persona_update(*, persona: Persona, **fields) -> Persona:
    """Change the given fields (None leaves one as it is) and save, checked like a new one."""
    for field, value in fields.items():
        if value is not None:
            setattr(persona, field, value)
    if any(fields.get(field) is not None for field in VOICE_FIELDS):
        persona.language, persona.voice = persona_voice_check(
            tts_engine=persona.tts_engine, language=persona.language, voice=persona.voice
        )
    return _persona_save(persona)


def persona_delete(*, persona: Persona) -> None:
    """Delete a persona no job uses; one in use is refused (409): archive it instead."""
    try:
        persona.delete()
    except ProtectedError as exc:
        in_use = persona.jobs.count()
        raise RequestRefused(
            409, "persona_in_use",
            f"The persona {persona.name!r} is used by {in_use} jobs; archive it instead "
            f"(POST /api/personas/{persona.id}/archive).",
        ) from exc  # fmt: skip
    logger.info("persona %s deleted", persona.name)


@transaction.atomic
def persona_lexicon_replace(*, persona: Persona, entries: list[tuple[str, str]]) -> int:
    """Make `entries` (phrase, how to say it) the persona's whole lexicon; return its size.

    A phrase listed twice (in any case) or beyond the limits is refused as a whole, so a
    lexicon is never left half replaced.
    """
    cleaned = [(" ".join(phrase.split()), " ".join(say.split())) for phrase, say in entries]
    twice = duplicate_phrases(phrase for phrase, _ in cleaned)
    if twice:
        raise ValidationError({"lexicon": f"The phrase {twice[0]!r} is listed twice."})
    try:
        Lexicon.of(cleaned)
    except NarrationMarkupError as exc:
        raise ValidationError({"lexicon": exc.message}) from exc
    persona.pronunciations.all().delete()
    PronunciationEntry.objects.bulk_create(
        PronunciationEntry(persona=persona, phrase=phrase, say=say) for phrase, say in cleaned
    )
    logger.info("persona %s lexicon replaced: %d entries", persona.name, len(cleaned))
    return len(cleaned)
