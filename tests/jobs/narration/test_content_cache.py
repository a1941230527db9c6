"""Re-rendering an edited deck reuses the owner's unchanged slides, through real workers."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from jobs.models import CachedArtifact, CachedPiece, Job, Persona, Slide
from jobs.narration.selectors import storage_use_for
from jobs.operations.cleanup import cleanup_run
from media_pipeline.asr import transcribe, word_error_rate
from media_pipeline.audio import read_wav
from media_pipeline.tts import PiperEngine
from tests.conftest import submit_deck
from tests.media import ffprobe

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SLIDES = [
    ("Welcome", "Welcome to the review."),
    ("Sales", "Sales grew in every region."),
    ("Hiring", "We hired seven engineers."),
]
EDITED = [
    SLIDES[0],
    ("Sales", "Sales grew in the north, and fell a little in the south."),
    SLIDES[2],
]


def _render(deck: Path, user, persona, run_worker) -> Job:
    job = submit_deck(deck, user, persona, resolution="1280x720")
    [job] = run_worker([job.id], timeout=240)
    assert job.status == Job.Status.COMPLETED, job.error
    return job


def _flags(job: Job) -> list[tuple[bool, bool]]:
    return [(s.image_cached, s.audio_cached) for s in job.slides.order_by("index")]


def _video_seconds(job: Job, folder: Path) -> float:
    local = folder / f"{job.id}.mp4"
    with default_storage.open(job.video.name, "rb") as stored:
        local.write_bytes(stored.read())
    return float(ffprobe(local)["format"]["duration"])


def test_an_edit_of_one_slides_notes_narrates_only_that_slide(
    user, persona, deck_path, run_worker, tmp_path, work_dir
):
    first = _render(deck_path(SLIDES, name="review.pptx"), user, persona, run_worker)
    assert _flags(first) == [(False, False)] * 3
    first_slides = list(first.slides.order_by("index"))

    edited = _render(deck_path(EDITED, name="review-2.pptx"), user, persona, run_worker)
    slides = list(edited.slides.order_by("index"))
    # Every image from the cache (LibreOffice never ran), one narration made anew.
    assert _flags(edited) == [(True, True), (True, False), (True, True)]
    assert [s.image.name for s in slides] == [s.image.name for s in first_slides]
    assert slides[0].audio.name == first_slides[0].audio.name
    assert slides[1].audio.name != first_slides[1].audio.name
    assert "north" in " ".join(cue["text"] for cue in slides[1].cues)
    assert slides[1].duration_seconds > first_slides[1].duration_seconds + 1
    # The video is made of the new narration: longer by the longer slide.
    grown = _video_seconds(edited, tmp_path) - _video_seconds(first, tmp_path)
    assert grown == pytest.approx(
        slides[1].duration_seconds - first_slides[1].duration_seconds, abs=0.1
    )

    entries = CachedArtifact.objects.filter(owner=user)
    assert entries.filter(kind="audio").count() == 4
    assert entries.filter(kind="image").count() == 3
    # The unchanged slides' keyframes and encoded narration were not encoded again.
    assert entries.filter(kind="keyframe").count() == 3
    assert sum(entries.filter(kind="keyframe").values_list("hits", flat=True)) == 3
    assert entries.filter(kind="aac").count() == 4
    assert sum(entries.filter(kind="aac").values_list("hits", flat=True)) == 2
    for entry in entries:
        assert entry.file.name.startswith(f"cache/{user.id}/")
        assert default_storage.size(entry.file.name) == entry.size_bytes > 0
    # Storage use counts the cached slides once, and each job's own files.
    video_and_deck = default_storage.size(first.video.name) + default_storage.size(first.deck.name)
    assert video_and_deck < first.stored_bytes < video_and_deck + 100_000
    assert storage_use_for(user=user) == {
        "jobs": first.stored_bytes + edited.stored_bytes,
        "cache": sum(entry.size_bytes for entry in entries),
        "total": first.stored_bytes + edited.stored_bytes + sum(e.size_bytes for e in entries),
    }


def test_an_edited_slide_speaks_only_its_new_sentence(
    user, persona, deck_path, run_worker, monkeypatch, tmp_path, work_dir
):
    first = _render(deck_path(SLIDES, name="review.pptx"), user, persona, run_worker)
    spoken = []
    speak = PiperEngine.speak

    def counted(self, text, **kwargs):
        spoken.append(text)
        return speak(self, text, **kwargs)

    monkeypatch.setattr(PiperEngine, "speak", counted)
    added = "Hiring went well this year."
    edited_notes = [SLIDES[0], ("Sales", f"{SLIDES[1][1]} {added}"), SLIDES[2]]
    edited = _render(deck_path(edited_notes, name="review-2.pptx"), user, persona, run_worker)
    assert spoken == [added]
    before, after = (job.slides.get(index=2) for job in (first, edited))
    assert after.audio.name != before.audio.name
    old, rate = read_wav(_fetch(before.audio.name, tmp_path / "old.wav"))
    new, _ = read_wav(_fetch(after.audio.name, tmp_path / "new.wav"))
    # The unchanged sentence is the very audio heard before, then the new one follows.
    [old_cue] = before.cues
    [kept, new_cue] = after.cues
    assert (kept["text"], new_cue["text"]) == (SLIDES[1][1], added)
    end = round(old_cue["end"] * rate)
    assert kept["end"] == pytest.approx(old_cue["end"], abs=1 / rate)
    assert (new[:end] == old[:end]).all()
    heard = transcribe(tmp_path / "new.wav").text
    assert word_error_rate(f"{SLIDES[1][1]} {added}", heard) < 0.2, heard
    # Each narration records its pieces; the edited one its two.
    assert CachedPiece.objects.filter(artifact__file=after.audio.name).count() == 2
    assert CachedPiece.objects.filter(owner=user).count() == 3 + 2


def _fetch(name: str, local: Path) -> Path:
    with default_storage.open(name, "rb") as stored:
        local.write_bytes(stored.read())
    return local


def test_a_cached_file_removed_by_hand_is_made_again(
    user, persona, deck_path, run_worker, work_dir
):
    first = _render(deck_path(SLIDES, name="a.pptx"), user, persona, run_worker)
    removed = first.slides.get(index=3).audio.name
    default_storage.delete(removed)
    again = _render(deck_path(SLIDES, name="b.pptx"), user, persona, run_worker)
    assert _flags(again) == [(True, True), (True, True), (True, False)]
    remade = CachedArtifact.objects.get(owner=user, file=again.slides.get(index=3).audio.name)
    assert remade.file.name != removed and default_storage.exists(remade.file.name)
    assert CachedArtifact.objects.filter(owner=user, kind="audio").count() == 3


def test_another_owner_never_gets_the_cached_slides(
    user, other_user, persona, deck_path, run_worker, work_dir
):
    _render(deck_path(SLIDES, name="a.pptx"), user, persona, run_worker)
    theirs = _render(deck_path(SLIDES, name="b.pptx"), other_user, persona, run_worker)
    assert _flags(theirs) == [(False, False)] * 3
    assert CachedArtifact.objects.filter(owner=other_user, kind="audio").count() == 3
    mine = set(CachedArtifact.objects.filter(owner=user).values_list("file", flat=True))
    assert not mine & {s.audio.name for s in theirs.slides.all()}


def test_a_new_voice_model_or_speaking_rate_misses_the_audio_cache(
    user, persona, deck_path, run_worker, monkeypatch, work_dir
):
    _render(deck_path(SLIDES, name="a.pptx"), user, persona, run_worker)
    original = PiperEngine.model_version
    monkeypatch.setattr(PiperEngine, "model_version", lambda self, v: original(self, v) + " new")
    upgraded = _render(deck_path(SLIDES, name="b.pptx"), user, persona, run_worker)
    assert _flags(upgraded) == [(True, False)] * 3

    faster = Persona.objects.create(
        name="Joe, faster", tts_engine="piper", voice=persona.voice, speaking_rate=1.3,
        status="active",
    )  # fmt: skip
    quick = _render(deck_path(SLIDES, name="c.pptx"), user, faster, run_worker)
    assert _flags(quick) == [(True, False)] * 3
    assert quick.duration_seconds < upgraded.duration_seconds


def test_cached_slides_expire_with_the_output_retention(
    user, persona, deck_path, run_worker, settings, work_dir
):
    job = _render(deck_path(SLIDES, name="a.pptx"), user, persona, run_worker)
    entries = CachedArtifact.objects.filter(owner=user)
    names = list(entries.values_list("file", flat=True))
    days = settings.OVERSIGHT["OUTPUT_RETENTION_DAYS"]
    entries.update(last_used_at=timezone.now() - timedelta(days=days + 1))
    fresh = entries.filter(kind="audio").first()
    CachedArtifact.objects.filter(id=fresh.id).update(last_used_at=timezone.now())

    report = cleanup_run()
    assert report.cache_entries == len(names) - 1 and report.cache_bytes > 0
    assert list(CachedArtifact.objects.filter(owner=user)) == [fresh]
    # The expired narrations' spoken pieces went with them.
    assert set(CachedPiece.objects.filter(owner=user).values_list("artifact", flat=True)) == {
        fresh.id
    }
    assert [n for n in names if default_storage.exists(n)] == [fresh.file.name]
    # The next render of the deck makes the expired slides again.
    again = _render(deck_path(SLIDES, name="b.pptx"), user, persona, run_worker)
    assert sum(audio for _, audio in _flags(again)) == 1
    assert job.slides.count() == Slide.objects.filter(job=again).count() == 3


def test_with_the_cache_off_every_render_does_everything(
    user, persona, deck_path, run_worker, settings, work_dir
):
    settings.SLIDECAST = {**settings.SLIDECAST, "CONTENT_CACHE": False}
    _render(deck_path(SLIDES, name="a.pptx"), user, persona, run_worker)
    again = _render(deck_path(SLIDES, name="b.pptx"), user, persona, run_worker)
    assert _flags(again) == [(False, False)] * 3
    assert not CachedArtifact.objects.exists()
    assert all(s.audio.name.startswith(f"jobs/{again.id}/") for s in again.slides.all())
    slide_bytes = sum(default_storage.size(s.audio.name) for s in again.slides.all())
    assert again.stored_bytes > slide_bytes + default_storage.size(again.video.name)
