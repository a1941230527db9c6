"""A deck job's slide content and the owner's cache: keys, reuse, and storing what was made.

The steps ask here which slides' images and narrations the owner already has, and store
what they made under its key, so the next job of the same owner (an edit of one slide's
notes, say) does only what changed. With SLIDECAST_CONTENT_CACHE off, nothing is reused
and files are stored in the job's own folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from django.core.files.storage import default_storage

from jobs.narration.content_cache import (
    Kind,
    cached_artifact_store,
    cached_artifacts_use,
    content_cache_enabled,
)
from jobs.narration.models import Job
from jobs.narration.pipeline_config import narration_options, render_options
from jobs.narration.spoken_pieces import CachedPieceSource, spoken_pieces_record
from jobs.personas.selectors import voice_reference_get
from jobs.speech import speech_engines
from jobs.storage import storage_put
from media_pipeline.content_keys import audio_key, program_stamp, slide_image_keys
from media_pipeline.deck_kinds import CheckedDeck
from media_pipeline.errors import ModelNotFoundError
from media_pipeline.tools import find_program
from media_pipeline.tts import Narration


@dataclass(frozen=True)
class StoredAudio:
    name: str
    duration_seconds: float
    cues: list[dict]
    cached: bool


def image_keys(job: Job, deck: Path, checked: CheckedDeck) -> list[str]:
    """One key per shown slide, for the job's render settings and the renderers installed."""
    options = render_options(job)
    programs = []
    for binary, setting in (
        (options.soffice_binary, "SLIDECAST_SOFFICE_BINARY"),
        (options.pdftoppm_binary, "SLIDECAST_PDFTOPPM_BINARY"),
    ):
        programs.append(program_stamp(find_program(binary, setting=setting)))
    settings = {"width": options.width, "height": options.height, "programs": programs}
    return slide_image_keys(
        deck, checked.kind, [slide.number for slide in checked.slides], settings
    )


def cached_images(job: Job, keys: Sequence[str]) -> dict:
    return cached_artifacts_use(owner_id=job.owner_id, kind=Kind.IMAGE, keys=keys)


def image_store(job: Job, *, key: str, index: int, local: Path, metadata: dict) -> str:
    """Store a rendered slide image; return its stored name (in the cache when it is on)."""
    if content_cache_enabled():
        entry = cached_artifact_store(
            owner_id=job.owner_id, kind=Kind.IMAGE, key=key, local_path=local, metadata=metadata
        )
        return entry.file.name
    return storage_put(f"{job.storage_prefix()}/slides/slide-{index:03d}.png", local)


def narration_keys(job: Job, notes: Sequence[str]) -> list[str | None]:
    """The key of each slide's narration, or None where this host cannot tell the model's version.

    A speech model that lives only on other hosts (XTTS on the gpu queue, say) is judged
    by the worker that speaks: the narration task looks the key up there.
    """
    engine = speech_engines().get(job.persona.tts_engine)
    voice = _voice_versions(job, engine)
    if voice is None:
        return [None] * len(notes)
    identity, version = voice
    options = narration_options(job)
    return [
        audio_key(
            text,
            engine=engine.name,
            voice_identity=identity,
            model_version=version,
            options=options,
        )
        for text in notes
    ]


def spoken_before(job: Job, engine, voice: str) -> CachedPieceSource | None:
    """The sentences the owner's cached narrations hold in this voice, or None (cache off)."""
    voice_versions = _voice_versions(job, engine) if content_cache_enabled() else None
    if voice_versions is None:
        return None
    identity, version = voice_versions
    options = narration_options(job)
    return CachedPieceSource(
        owner_id=job.owner_id,
        engine=engine.name,
        voice_identity=identity,
        model_version=version,
        speaking_rate=options.speaking_rate,
        language=options.language,
        sample_rate=engine.sample_rate(voice),
    )


def _voice_versions(job: Job, engine) -> tuple[str, str] | None:
    """What names the persona's voice and its model version, or None where the model is absent."""
    try:
        version = engine.model_version(job.persona.voice)
    except ModelNotFoundError:
        return None
    return _voice_identity(job, engine), version


def _voice_identity(job: Job, engine) -> str:
    if not engine.clones_voice:
        return job.persona.voice
    reference = voice_reference_get(persona=job.persona)
    if reference is None or not reference.prepared:
        return "no reference"
    # A recording uploaded again is prepared under the same name, maybe to the same size:
    # when it was prepared tells the two apart.
    name = reference.prepared.name
    prepared_at = reference.prepared_at.isoformat() if reference.prepared_at else ""
    return f"{reference.id}:{prepared_at}:{name}:{default_storage.size(name)}"


def cached_narrations(job: Job, keys: Sequence[str | None]) -> dict[str, StoredAudio]:
    entries = cached_artifacts_use(
        owner_id=job.owner_id, kind=Kind.AUDIO, keys=[key for key in keys if key]
    )
    return {key: _stored_audio(entry, cached=True) for key, entry in entries.items()}


def narration_store(job: Job, *, key: str | None, index: int, narration: Narration) -> StoredAudio:
    """Store a slide's narration; return where it is (in the cache when it is on)."""
    cues = [cue.as_dict() for cue in narration.cues]
    if key and content_cache_enabled():
        entry = cached_artifact_store(
            owner_id=job.owner_id,
            kind=Kind.AUDIO,
            key=key,
            local_path=narration.wav_path,
            metadata={"duration_seconds": narration.duration, "cues": cues},
            on_stored=lambda entry: spoken_pieces_record(entry, narration.pieces),
        )
        return _stored_audio(entry, cached=False)
    name = storage_put(f"{job.storage_prefix()}/audio/slide-{index:03d}.wav", narration.wav_path)
    return StoredAudio(name, narration.duration, cues, cached=False)


def _stored_audio(entry, *, cached: bool) -> StoredAudio:
    return StoredAudio(
        name=entry.file.name,
        duration_seconds=entry.metadata["duration_seconds"],
        cues=entry.metadata["cues"],
        cached=cached,
    )
