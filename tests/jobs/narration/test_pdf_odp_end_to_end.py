"""PDF and OpenDocument decks narrated end to end through the API, the form and the CLI."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.urls import reverse

from jobs.access.services import api_token_create
from jobs.models import Job
from media_pipeline.asr import normalized_words
from tests.conftest import clear_queue
from tests.media import ffprobe
from tests.media_pipeline.deck_files import make_odp, make_picture_pdf, make_text_pdf

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

FPS = 25
# Each slide's narration is padded to whole AAC blocks in the video (media_pipeline.aac_segments).
AAC_BLOCK_SECONDS = 1024 / 22050
PDF_NOTES = [
    "Welcome to the tour of our new office.",
    "",
    "Thank you for coming along. The coffee machine is on the left, the meeting rooms are "
    "on the right, and the quiet room is at the very end of the hall.",
]


def _caption_words(job: Job) -> list[str]:
    vtt = default_storage.open(job.captions_vtt.name).read().decode()
    # The cues follow the header (WEBVTT, Kind, Language) and its blank line.
    cues = vtt.split("\n\n", 1)[1] if "\n\n" in vtt.strip() else ""
    text = " ".join(
        line for line in cues.splitlines() if line and "-->" not in line and not line.isdigit()
    )
    return normalized_words(text)


def _video_seconds(job: Job, tmp_path: Path) -> float:
    video = tmp_path / f"{job.id}.mp4"
    video.write_bytes(default_storage.open(job.video.name).read())
    return float(ffprobe(video)["format"]["duration"])


def test_pdf_with_a_text_notes_file_through_the_api(
    tmp_path: Path, client, user, persona, run_worker, work_dir
):
    pdf = make_text_pdf(tmp_path, [("Welcome", ""), ("Floor plan", ""), ("Goodbye", "")])
    notes = tmp_path / "notes.txt"
    notes.write_text("\n---\n".join(PDF_NOTES), encoding="utf-8")
    token = api_token_create(user=user, name="pdf")[1]
    with pdf.open("rb") as deck, notes.open("rb") as sidecar:
        created = client.post(
            "/api/jobs",
            {"deck": deck, "notes": sidecar, "persona_id": persona.id,
             "empty_slide_seconds": 2, "padding_seconds": 0.3},
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )  # fmt: skip
    assert created.status_code == 201, created.content
    job = Job.objects.get(id=created.json()["id"])
    assert job.deck.name == f"jobs/{job.id}/deck.pdf"
    assert job.notes_sidecar.name == f"jobs/{job.id}/notes.txt"

    [job] = run_worker([job.id], timeout=240)

    assert job.status == Job.Status.COMPLETED, job.error
    slides = list(job.slides.order_by("index"))
    assert [slide.notes for slide in slides] == PDF_NOTES
    assert [slide.title for slide in slides] == ["Welcome", "Floor plan", "Goodbye"]
    durations = [slide.duration_seconds for slide in slides]
    # The silent page lasts the configured time; the spoken ones as long as their notes.
    assert durations[1] == pytest.approx(2.0, abs=1 / FPS + AAC_BLOCK_SECONDS)
    assert 1.0 < durations[0] < durations[2]
    assert _caption_words(job) == normalized_words(" ".join(PDF_NOTES))
    assert _video_seconds(job, tmp_path) == pytest.approx(sum(durations), abs=1 / FPS)


def test_pdf_without_notes_through_the_form_shows_each_page_for_the_silence(
    tmp_path: Path, client, user, persona, run_worker, work_dir
):
    pdf = make_picture_pdf(tmp_path / "Photos.pdf", 3)
    client.force_login(user)
    with pdf.open("rb") as upload:
        response = client.post(
            reverse("jobs:list"),
            {"deck": upload, "persona": persona.id, "resolution": "1280x720",
             "padding_seconds": "0.5", "empty_slide_seconds": "1.2"},
        )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    job = Job.objects.get(owner=user)

    [job] = run_worker([job.id], timeout=180)

    assert job.status == Job.Status.COMPLETED, job.error
    slides = list(job.slides.order_by("index"))
    assert [s.duration_seconds for s in slides] == pytest.approx(
        [1.2] * 3, abs=1 / FPS + AAC_BLOCK_SECONDS
    )
    assert [s.title for s in slides] == ["Slide 1", "Slide 2", "Slide 3"]
    assert _caption_words(job) == []
    assert _video_seconds(job, tmp_path) == pytest.approx(3.6, abs=1 / FPS + 3 * AAC_BLOCK_SECONDS)


def test_odp_through_the_cli_narrates_its_own_notes(tmp_path: Path, persona, work_dir):
    clear_queue()
    slides = [
        ("Opening", "Hello from an OpenDocument presentation."),
        ("Skipped", "This hidden slide is never heard."),
        ("Closing", "That was all. Goodbye."),
    ]
    odp = make_odp(tmp_path, slides, name="Talk", hidden=[2])
    out = tmp_path / "out" / "talk.mp4"
    stdout = io.StringIO()

    call_command(
        "narrate", str(odp), "-o", str(out), "--padding", "0.2", stdout=stdout,
        stderr=io.StringIO(),
    )  # fmt: skip

    job = Job.objects.get()
    assert job.deck.name.endswith("/deck.odp")
    assert [s.title for s in job.slides.order_by("index")] == ["Opening", "Closing"]
    spoken = f"{slides[0][1]} {slides[2][1]}"
    assert normalized_words(out.with_suffix(".vtt").read_text()) != []
    assert _caption_words(job) == normalized_words(spoken)
    chapters = out.with_suffix(".chapters.vtt")
    assert f"Chapters: {chapters}" in stdout.getvalue()
    assert "Opening" in chapters.read_text() and "Closing" in chapters.read_text()


def test_pdf_through_the_cli_with_a_json_notes_file(tmp_path: Path, persona, work_dir):
    clear_queue()
    pdf = make_picture_pdf(tmp_path / "deck.pdf", 2)
    notes = tmp_path / "notes.json"
    notes.write_text(json.dumps([{"page": 2, "notes": "Only the second page speaks."}]))
    out = tmp_path / "deck.mp4"

    call_command(
        "narrate", str(pdf), "--notes", str(notes), "-o", str(out), "--empty-slide-seconds",
        "1", stdout=io.StringIO(), stderr=io.StringIO(),
    )  # fmt: skip

    job = Job.objects.get()
    assert [s.notes for s in job.slides.order_by("index")] == ["", "Only the second page speaks."]
    assert _caption_words(job) == normalized_words("Only the second page speaks.")
