"""media_pipeline options built from Django settings and a job's own options."""

from __future__ import annotations

from pathlib import Path

import langcodes
from django.conf import settings

from jobs.narration.models import Job
from jobs.personas.selectors import persona_lexicon
from jobs.storage import work_root
from media_pipeline.deck import DeckLimits
from media_pipeline.render import RenderOptions
from media_pipeline.sandbox import SandboxOptions
from media_pipeline.tts import NarrationOptions
from media_pipeline.video import VideoOptions


def _config(key: str):
    return settings.SLIDECAST[key]


def deck_limits() -> DeckLimits:
    return DeckLimits(
        max_file_bytes=_config("MAX_UPLOAD_BYTES"),
        max_uncompressed_bytes=_config("MAX_UNCOMPRESSED_BYTES"),
        max_slides=_config("MAX_SLIDES"),
        max_entries=_config("MAX_ZIP_ENTRIES"),
        max_notes_chars_per_slide=_config("MAX_NOTES_CHARS_PER_SLIDE"),
        max_notes_chars_per_deck=_config("MAX_NOTES_CHARS_PER_DECK"),
        max_word_chars=_config("MAX_NOTES_WORD_CHARS"),
        max_image_pixels=_config("MAX_IMAGE_MEGAPIXELS") * 1_000_000,
    )


def render_options(job: Job) -> RenderOptions:
    width, height = job.frame_size
    return RenderOptions(
        width=width,
        height=height,
        timeout_seconds=_config("RENDER_TIMEOUT_SECONDS"),
        soffice_binary=_config("SOFFICE_BINARY"),
        pdftoppm_binary=_config("PDFTOPPM_BINARY"),
        profile_root=Path(work_root()) / "libreoffice-profiles",
        sandbox=SandboxOptions(
            mode=_config("RENDER_SANDBOX"),
            memory_bytes=_config("RENDER_MEMORY_BYTES"),
            # No single file a renderer writes may exceed the job's whole temp allowance.
            max_file_bytes=_config("MAX_JOB_TEMP_BYTES"),
        ),
    )


def narration_options(job: Job) -> NarrationOptions:
    return NarrationOptions(
        speaking_rate=job.persona.speaking_rate,
        padding_seconds=job.padding_seconds,
        empty_slide_seconds=job.empty_slide_seconds,
        fps=_config("VIDEO_FPS"),
        lexicon=persona_lexicon(persona=job.persona),
        language=job.persona.language,
    )


def _audio_language(tag: str) -> str:
    # MP4 tracks carry ISO 639-2 (eng, deu); a persona saved before tags were checked may
    # hold something else, which leaves the track unlabelled rather than failing the job.
    try:
        return langcodes.Language.get(tag).to_alpha3()
    except (LookupError, ValueError):
        return ""


def video_options(job: Job) -> VideoOptions:
    width, height = job.frame_size
    return VideoOptions(
        width=width,
        height=height,
        fps=_config("VIDEO_FPS"),
        timeout_seconds=_config("FFMPEG_TIMEOUT_SECONDS"),
        ffmpeg_binary=_config("FFMPEG_BINARY"),
        x264_preset=_config("X264_PRESET"),
        audio_language=_audio_language(job.persona.language),
    )


def job_temp_limit() -> int:
    return _config("MAX_JOB_TEMP_BYTES")
