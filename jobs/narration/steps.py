"""The three steps of a narration job: they fetch inputs, call media_pipeline, store results.

Each step takes `check`, which raises when the step must stop (its job was cancelled, or
its time is nearly up); everything a step started is stopped and its temporary folder
removed on the way out.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from django.core.files.storage import default_storage

from jobs.narration import progress, slide_content
from jobs.narration.content_cache import assembly_stores
from jobs.narration.models import Job, Slide
from jobs.narration.pipeline_config import (
    deck_limits,
    job_temp_limit,
    narration_options,
    render_options,
    video_options,
)
from jobs.personas.selectors import voice_reference_get
from jobs.speech import speech_engines
from jobs.storage import storage_fetch, storage_put, work_root
from media_pipeline.archive import size_text
from media_pipeline.captions import Cue, place_cues, to_srt, to_webvtt
from media_pipeline.chapters import chapter_title, chapters_from, to_webvtt_chapters
from media_pipeline.deck_kinds import check_deck, removed_links, render_deck
from media_pipeline.errors import InvalidDeckError, PipelineError, VoiceUnavailableError
from media_pipeline.script import NarrationMarkupError, parse_script
from media_pipeline.tools import StopCheck, never_stop
from media_pipeline.tts import narrate, silent_narration
from media_pipeline.video import SlideClip, assemble_video

logger = logging.getLogger("slidecast.steps")

FALLBACK_SAMPLE_RATE = 22050


def _work_dir(job_id: str, step: str) -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix=f"slidecast-{step}-{job_id}-", dir=work_root())


def decompose_job(*, job_id: str, check: StopCheck = never_stop) -> None:
    """Read and check the deck, queue its narration, then render the slides the cache lacks.

    The slides and their narration tasks exist before LibreOffice starts, so other worker
    slots narrate while this one renders.
    """
    if not progress.job_start_decomposition(job_id=job_id):
        logger.info("job %s is not waiting for decomposition; skipped", job_id)
        return
    job = Job.objects.select_related("persona").get(id=job_id)
    with _work_dir(job_id, "decompose") as tmp:
        work = Path(tmp)
        # The stored name says what the upload looked like; its content decides again here.
        deck = storage_fetch(job.deck.name, work / "upload")
        notes_file = None
        if job.notes_sidecar:
            extension = Path(job.notes_sidecar.name).suffix
            notes_file = storage_fetch(job.notes_sidecar.name, work / f"notes{extension}")
        checked = check_deck(deck, deck_limits(), notes_file=notes_file)
        _check_markup(checked.slides)
        audio_keys = slide_content.narration_keys(job, [slide.notes for slide in checked.slides])
        narrations = slide_content.cached_narrations(job, audio_keys)
        read = [
            _read_slide(index, slide, narrations.get(key))
            for index, (slide, key) in enumerate(zip(checked.slides, audio_keys, strict=True), 1)
        ]
        # Narration starts now; hashing the slides' parts for the image cache can wait.
        if progress.job_slides_create(job_id=job_id, slides=read) is None:
            return
        keys = slide_content.image_keys(job, deck, checked)
        images = slide_content.cached_images(job, keys)
        if len(images) == len(set(keys)):
            removed = removed_links(deck, checked, work / "sanitized")
            slide_images = [
                progress.SlideImage(
                    images[key].file.name, chapter_title(images[key].metadata["text"], index), True
                )
                for index, key in enumerate(keys, 1)
            ]
        else:
            deck_render = render_deck(
                deck, checked, work / "render", render_options(job), check=check
            )
            check_temp_usage(work, what="Rendering the slides")
            removed = deck_render.removed_links
            slide_images = []
            for index, (slide, key) in enumerate(zip(deck_render.slides, keys, strict=True), 1):
                check()
                title = chapter_title(slide.title, index)
                # The text as written: the fallback title ("Slide 4") depends on the position.
                metadata = {"text": slide.title}
                name = slide_content.image_store(
                    job, key=key, index=index, local=slide.image, metadata=metadata
                )
                slide_images.append(progress.SlideImage(name, title, cached=False))
    progress.job_slides_rendered(
        job_id=job_id, images=slide_images, warnings=_link_warnings(removed)
    )


def _read_slide(index: int, slide, narration) -> progress.ReadSlide:
    # The title as the deck reads; rendering may name it better (job_slides_rendered).
    title = chapter_title(slide.title, index)
    if narration is None:
        return progress.ReadSlide(slide.number, slide.notes, title)
    return progress.ReadSlide(
        slide.number, slide.notes, title,
        narration.name, narration.duration_seconds, tuple(narration.cues),
    )  # fmt: skip


def _check_markup(slide_notes) -> None:
    # Before rendering: a typo in one slide's notes fails the job in seconds, not minutes.
    for notes in slide_notes:
        try:
            parse_script(notes.notes)
        except NarrationMarkupError as exc:
            raise NarrationMarkupError(f"Slide {notes.number} of the deck: {exc.message}") from exc


def _link_warnings(removed: tuple[str, ...]) -> list[str]:
    if not removed:
        return []
    shown = "; ".join(removed[:5]) + ("; …" if len(removed) > 5 else "")
    return [
        f"Linked content was left out: the deck refers to {len(removed)} linked item(s) "
        f"outside itself ({shown}). Slidecast never fetches linked content; embed pictures "
        "and objects in the deck instead of linking them."
    ]


def check_temp_usage(folder: Path, *, what: str) -> None:
    """Raise when a job's temporary files outgrow SLIDECAST_MAX_JOB_TEMP_MB."""
    used = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
    limit = job_temp_limit()
    if used > limit:
        raise InvalidDeckError(
            f"{what} needed {size_text(used, limit)} of temporary files; the limit per job is "
            f"{size_text(limit)} (SLIDECAST_MAX_JOB_TEMP_MB). Use fewer or smaller slides."
        )


def narrate_job_slide(*, slide_id: int, check: StopCheck = never_stop) -> None:
    """Speak one slide's notes with its persona's voice and record the audio and its cues."""
    if not progress.slide_start_narration(slide_id=slide_id):
        logger.info("slide %s is not waiting for narration; skipped", slide_id)
        return
    slide = Slide.objects.select_related("job__persona").get(id=slide_id)
    _narrate(slide, check=check)


def narrate_job_slide_silently(*, slide_id: int, reason: str) -> None:
    """Give a slide whose narration failed for good silence instead, and say so on the job.

    The silence is made without speaking, so it works when the voice itself is broken.
    """
    slide = Slide.objects.select_related("job__persona").get(id=slide_id)
    job = slide.job
    options = narration_options(job)
    with _work_dir(str(job.id), f"silence-{slide.index}") as tmp:
        narration = silent_narration(
            Path(tmp) / "silence.wav",
            seconds=job.empty_slide_seconds,
            sample_rate=_voice_sample_rate(job),
            fps=options.fps,
        )
        stored = slide_content.narration_store(
            job, key=None, index=slide.index, narration=narration
        )
        _record_narration(slide, stored, warning=(
            f"Slide {slide.index} is silent: its narration failed ({reason}). "
            "Retry the job to try it again."
        ))  # fmt: skip


def _voice_sample_rate(job: Job) -> int:
    # Every slide's audio must share one format to be joined; a voice that cannot even
    # load gets the rate Piper's voices use.
    try:
        return speech_engines().get(job.persona.tts_engine).sample_rate(job.persona.voice)
    except PipelineError:
        return FALLBACK_SAMPLE_RATE


def _narrate(slide: Slide, *, check: StopCheck) -> None:
    job = slide.job
    [key] = slide_content.narration_keys(job, [slide.notes])
    # Another job of the owner may have made it since this one looked.
    cached = slide_content.cached_narrations(job, [key]).get(key) if key else None
    if cached is not None:
        _record_narration(slide, cached)
        return
    engine = speech_engines().get(job.persona.tts_engine)
    with _work_dir(str(job.id), f"narrate-{slide.index}") as tmp:
        voice = _voice(job, engine, Path(tmp))
        narration = narrate(
            slide.notes,
            engine=engine,
            voice=voice,
            options=narration_options(job),
            out_wav=Path(tmp) / "narration.wav",
            check=check,
            # An edited slide: its unchanged sentences come from its earlier narration.
            spoken_before=slide_content.spoken_before(job, engine, voice) if key else None,
        )
        stored = slide_content.narration_store(job, key=key, index=slide.index, narration=narration)
        _record_narration(slide, stored)


def _record_narration(slide: Slide, stored, *, warning: str = "") -> None:
    progress.slide_narration_store(
        slide_id=slide.id,
        audio_name=stored.name,
        duration_seconds=stored.duration_seconds,
        cues=stored.cues,
        warning=warning,
        cached=stored.cached,
    )


def _voice(job: Job, engine, folder: Path) -> str:
    """The persona's voice name, or for a cloning engine its prepared recording, fetched here."""
    if not engine.clones_voice:
        return job.persona.voice
    reference = voice_reference_get(persona=job.persona)
    if reference is None or not reference.prepared:
        raise VoiceUnavailableError(
            f"The persona {job.persona.name!r} has no prepared reference recording to clone."
        )
    return str(storage_fetch(reference.prepared.name, folder / "reference.wav"))


def _own_input_bytes(job: Job, slides: list[Slide]) -> int:
    """Bytes of the job's own stored files besides its outputs (cached slides are the cache's)."""
    names = [job.deck.name, job.notes_sidecar.name]
    for slide in slides:
        names += [slide.image.name, slide.audio.name]
    own = [name for name in names if name and name.startswith(f"{job.storage_prefix()}/")]
    return sum(default_storage.size(name) for name in own)


def _outputs_unclaimed(job_id: str, claim: int, video_name: str) -> bool:
    """True when no other assembly holds the job and the job shows no video of these names."""
    job = Job.objects.filter(id=job_id).values("assembly_claim", "video").first()
    return (
        job is not None and job["assembly_claim"] in (None, claim) and (job["video"] != video_name)
    )


def assemble_job_video(*, job_id: str, claim: int, check: StopCheck = never_stop) -> bool:
    """Join every slide and its narration into the MP4, write the captions, complete the job.

    Returns False when another assemble task holds the job's assembly (nothing is encoded).
    """
    if not progress.job_start_assembly(job_id=job_id, claim=claim):
        logger.info("job %s is not waiting for this assembly; skipped", job_id)
        return False
    job = Job.objects.get(id=job_id)
    slides = list(job.slides.order_by("index"))
    prefix = f"{job.storage_prefix()}/output"
    with _work_dir(job_id, "assemble") as tmp:
        work = Path(tmp)
        clips = []
        for slide in slides:
            check()
            clips.append(
                SlideClip(
                    image=storage_fetch(slide.image.name, work / "in" / f"{slide.index:03d}.png"),
                    audio=storage_fetch(slide.audio.name, work / "in" / f"{slide.index:03d}.wav"),
                )
            )
        # Jobs from before titles were read have none: their slides are named by position.
        titles = [slide.title or chapter_title("", slide.index) for slide in slides]
        video = assemble_video(
            clips, work / "video.mp4", work / "encode", video_options(job), check=check,
            chapter_titles=titles, **assembly_stores(job.owner_id, work),
        )  # fmt: skip
        check_temp_usage(work, what="Assembling the video")
        cues = place_cues(
            ([Cue.from_dict(cue) for cue in slide.cues] for slide in slides), video.slide_starts
        )
        (work / "captions.srt").write_text(to_srt(cues), encoding="utf-8")
        (work / "captions.vtt").write_text(
            to_webvtt(cues, language=job.persona.language), encoding="utf-8"
        )
        chapters = chapters_from(titles, video.slide_starts, video.duration)
        (work / "chapters.vtt").write_text(to_webvtt_chapters(chapters), encoding="utf-8")
        names = {}
        for key, local, stored in (
            ("video_name", video.path, "video.mp4"),
            ("srt_name", work / "captions.srt", "captions.srt"),
            ("vtt_name", work / "captions.vtt", "captions.vtt"),
            ("chapters_name", work / "chapters.vtt", "chapters.vtt"),
        ):
            check()  # a cancelled assembly must not overwrite what a newer one stored
            names[key] = storage_put(f"{prefix}/{stored}", local)
        outputs = sum(
            local.stat().st_size
            for local in (video.path, *work.glob("*.vtt"), work / "captions.srt")
        )
    completed = progress.job_complete(
        job_id=job_id, duration_seconds=float(video.duration), claim=claim,
        slide_starts=video.slide_starts, stored_bytes=outputs + _own_input_bytes(job, slides),
        **names,
    )  # fmt: skip
    if not completed and _outputs_unclaimed(job_id, claim, names["video_name"]):
        for name in names.values():
            default_storage.delete(name)
        logger.info("job %s ended while its video was assembled; outputs dropped", job_id)
    return True
