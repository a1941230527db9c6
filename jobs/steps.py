"""The three steps of a narration job: they fetch inputs, call media_pipeline, store results."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from django.core.files.storage import default_storage

from jobs import services
from jobs.models import Job, Slide
from jobs.pipeline_config import (
    deck_limits,
    narration_options,
    render_options,
    speech_engines,
    video_options,
    work_root,
)
from jobs.storage import storage_fetch, storage_put
from media_pipeline.captions import Cue, place_cues, to_srt, to_webvtt
from media_pipeline.deck import read_speaker_notes, validate_deck
from media_pipeline.errors import SlideCountMismatchError
from media_pipeline.render import render_slides
from media_pipeline.tts import narrate
from media_pipeline.video import SlideClip, assemble_video

logger = logging.getLogger("slidecast.steps")


def _work_dir(job_id: str, step: str) -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix=f"slidecast-{step}-{job_id}-", dir=work_root())


def decompose_job(*, job_id: str) -> None:
    """Validate the deck, read its notes, render its slides, then queue their narration."""
    if not services.job_start_decomposition(job_id=job_id):
        logger.info("job %s is not waiting for decomposition; skipped", job_id)
        return
    job = Job.objects.get(id=job_id)
    with _work_dir(job_id, "decompose") as tmp:
        work = Path(tmp)
        deck = storage_fetch(job.deck.name, work / "deck.pptx")
        validate_deck(deck, deck_limits())
        slide_notes = read_speaker_notes(deck)
        images = render_slides(deck, work / "slides", render_options(job))
        if len(images) != len(slide_notes):
            raise SlideCountMismatchError(
                f"The deck shows {len(slide_notes)} slides but LibreOffice rendered "
                f"{len(images)}. Open and save the deck again, then upload it once more."
            )
        rendered = [
            services.RenderedSlide(
                source_number=notes.number,
                notes=notes.notes,
                image_name=storage_put(
                    f"{job.storage_prefix()}/slides/slide-{index:03d}.png", image
                ),
            )
            for index, (notes, image) in enumerate(zip(slide_notes, images, strict=True), 1)
        ]
    services.job_slides_create(job_id=job_id, slides=rendered)


def narrate_job_slide(*, slide_id: int) -> None:
    """Speak one slide's notes with its persona's voice and record the audio and its cues."""
    if not services.slide_start_narration(slide_id=slide_id):
        logger.info("slide %s is not waiting for narration; skipped", slide_id)
        return
    slide = Slide.objects.select_related("job__persona").get(id=slide_id)
    job = slide.job
    engine = speech_engines().get(job.persona.tts_engine)
    with _work_dir(str(job.id), f"narrate-{slide.index}") as tmp:
        narration = narrate(
            slide.notes,
            engine=engine,
            voice=job.persona.voice,
            options=narration_options(job),
            out_wav=Path(tmp) / "narration.wav",
        )
        audio_name = storage_put(
            f"{job.storage_prefix()}/audio/slide-{slide.index:03d}.wav", narration.wav_path
        )
    services.slide_narration_store(
        slide_id=slide_id,
        audio_name=audio_name,
        duration_seconds=narration.duration,
        cues=[cue.as_dict() for cue in narration.cues],
    )


def assemble_job_video(*, job_id: str) -> None:
    """Join every slide and its narration into the MP4, write the captions, complete the job."""
    if not services.job_start_assembly(job_id=job_id):
        logger.info("job %s is not waiting for assembly; skipped", job_id)
        return
    job = Job.objects.get(id=job_id)
    slides = list(job.slides.order_by("index"))
    prefix = f"{job.storage_prefix()}/output"
    with _work_dir(job_id, "assemble") as tmp:
        work = Path(tmp)
        clips = [
            SlideClip(
                image=storage_fetch(slide.image.name, work / "in" / f"{slide.index:03d}.png"),
                audio=storage_fetch(slide.audio.name, work / "in" / f"{slide.index:03d}.wav"),
            )
            for slide in slides
        ]
        video = assemble_video(clips, work / "video.mp4", work / "encode", video_options(job))
        cues = place_cues(
            ([Cue.from_dict(cue) for cue in slide.cues] for slide in slides), video.slide_starts
        )
        (work / "captions.srt").write_text(to_srt(cues), encoding="utf-8")
        (work / "captions.vtt").write_text(to_webvtt(cues), encoding="utf-8")
        names = {
            "video_name": storage_put(f"{prefix}/video.mp4", video.path),
            "srt_name": storage_put(f"{prefix}/captions.srt", work / "captions.srt"),
            "vtt_name": storage_put(f"{prefix}/captions.vtt", work / "captions.vtt"),
        }
    if not services.job_complete(job_id=job_id, duration_seconds=video.duration, **names):
        for name in names.values():
            default_storage.delete(name)
        logger.info("job %s ended while its video was assembled; outputs removed", job_id)
