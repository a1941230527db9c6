"""Pause markup and a persona's lexicon through a real worker: heard, never captioned."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from procrastinate.contrib.django.models import ProcrastinateJob

from jobs.models import Job
from jobs.personas.services import persona_lexicon_replace
from media_pipeline.asr import transcribe
from tests.conftest import submit_deck
from tests.media import ffprobe

pytestmark = pytest.mark.slow


def test_bad_pause_markup_fails_the_job_at_once_naming_the_slide(
    user, persona, deck_path, run_worker
):
    deck = deck_path([("One", "Fine."), ("Two", "Wait [pause:abc] here.")])
    job = submit_deck(deck, user, persona)
    [job] = run_worker([job.id], timeout=120)
    assert job.status == Job.Status.FAILED
    assert job.error_code == "invalid_markup"
    assert job.error.startswith("Slide 2 of the deck: '[pause:abc]' is not a pause")
    assert job.slides.count() == 0, "nothing was rendered after the notes were found wrong"
    decompose = ProcrastinateJob.objects.get(args__job_id=str(job.id))
    assert decompose.attempts == 1, "bad markup is not retried"


def test_pauses_and_the_lexicon_are_heard_while_the_captions_keep_the_notes(
    user, persona, deck_path, run_worker, tmp_path
):
    persona_lexicon_replace(persona=persona, entries=[("Slidecast", "banana bread")])
    notes = "Welcome to Slidecast. [pause:1.5] Thanks for watching."
    job = submit_deck(deck_path([("One", notes)]), user, persona)
    [job] = run_worker([job.id], timeout=180)
    assert job.status == Job.Status.COMPLETED, job.error

    captions = default_storage.open(job.captions_vtt.name).read().decode()
    assert captions.startswith("WEBVTT\nKind: captions\nLanguage: en-US\n")
    video = tmp_path / "video.mp4"
    video.write_bytes(default_storage.open(job.video.name).read())
    [audio_stream] = [s for s in ffprobe(video)["streams"] if s["codec_type"] == "audio"]
    assert audio_stream["tags"]["language"] == "eng"
    assert "Welcome to Slidecast." in captions and "Thanks for watching." in captions
    assert "pause" not in captions and "banana" not in captions
    [first, second] = job.slides.get().cues
    assert second["start"] - first["end"] == pytest.approx(1.5, abs=0.02)

    audio = tmp_path / "slide.wav"
    audio.write_bytes(default_storage.open(job.slides.get().audio.name).read())
    heard = transcribe(audio).text.lower()
    assert "banana" in heard and "pause" not in heard, heard
