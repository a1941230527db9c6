"""A deck uploaded through the web form becomes a narrated, captioned MP4 via real workers."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from jobs.models import Job, Slide
from media_pipeline.asr import normalized_words, transcribe, word_error_rate
from tests.media import ffprobe

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

FPS = 25
NOTES = [
    ("Welcome", "Welcome to the quarterly review. We will look at sales and hiring."),
    ("Sales", "Sales grew in every region this quarter. The north grew fastest."),
    ("Quiet", ""),
    ("Hiring", "We hired seven engineers and two designers. Thank you for listening."),
]
# Whisper tiny.en transcribes clean read English at about five percent word error rate
# (LibriSpeech test-clean); Piper's speech is clean, so a quarter of that budget again
# for names and the voice's accent still flags a broken narration (wrong text, silence,
# cut audio) while tolerating a misheard word or two.
MAX_WORD_ERROR_RATE = 0.15
# Each slide's narration is padded to whole AAC blocks in the video (media_pipeline.aac_segments).
AAC_BLOCK_SECONDS = 1024 / 22050


@pytest.fixture
def completed_job(client, user, persona, deck_path, run_worker, work_dir) -> Job:
    client.force_login(user)
    deck = deck_path(NOTES, name="Quarterly Review.pptx")
    with deck.open("rb") as upload:
        response = client.post(
            reverse("jobs:list"),
            {
                "deck": upload,
                "persona": persona.id,
                "resolution": "1280x720",
                "padding_seconds": "0.5",
                "empty_slide_seconds": "2",
            },
        )
    assert response.status_code == 302
    job = Job.objects.get(owner=user)
    assert response["Location"] == reverse("jobs:detail", args=[job.id])
    [job] = run_worker([job.id], timeout=240)
    assert job.status == Job.Status.COMPLETED, job.error
    return job


def test_upload_becomes_a_narrated_captioned_video(completed_job: Job, tmp_path: Path, work_dir):
    job = completed_job
    slides = list(job.slides.order_by("index"))
    assert [s.status for s in slides] == [Slide.Status.NARRATED] * 4
    assert job.progress == 100 and job.started_at and job.finished_at

    video = tmp_path / "video.mp4"
    video.write_bytes(default_storage.open(job.video.name).read())
    info = ffprobe(video)
    kinds = {stream["codec_type"]: stream for stream in info["streams"]}
    assert kinds["video"]["codec_name"] == "h264"
    assert kinds["audio"]["codec_name"] == "aac"
    assert (kinds["video"]["width"], kinds["video"]["height"]) == (1280, 720)
    assert kinds["video"]["avg_frame_rate"] == "25/1"

    slide_total = sum(s.duration_seconds for s in slides)
    assert float(info["format"]["duration"]) == pytest.approx(slide_total, abs=1 / FPS)
    assert int(kinds["video"]["nb_read_frames"]) == round(slide_total * FPS)
    assert job.duration_seconds == pytest.approx(slide_total, abs=1 / FPS)
    # The quiet slide stays on screen for the configured silence (to a frame, plus the
    # padding to whole AAC blocks).
    assert slides[2].duration_seconds == pytest.approx(2.0, abs=1 / FPS + AAC_BLOCK_SECONDS)

    # Captions hold the notes' exact words, in order, timed inside the video.
    srt = default_storage.open(job.captions_srt.name).read().decode()
    vtt = default_storage.open(job.captions_vtt.name).read().decode()
    script = " ".join(notes for _, notes in NOTES if notes)
    assert normalized_words(srt) and vtt.startswith("WEBVTT")
    caption_text = " ".join(
        # The cues follow the header (WEBVTT, Kind, Language) and its blank line.
        line
        for line in vtt.split("\n\n", 1)[1].splitlines()
        if line and "-->" not in line and not line.isdigit()
    )
    assert normalized_words(caption_text) == normalized_words(script)
    last_cue_end = vtt.strip().splitlines()[-2].split(" --> ")[1]
    h, m, s = last_cue_end.split(":")
    assert int(h) * 3600 + int(m) * 60 + float(s) <= slide_total

    # A listener hears the notes.
    heard = transcribe(video).text
    assert word_error_rate(script, heard) < MAX_WORD_ERROR_RATE, heard

    # Nothing is left behind in the work folder but LibreOffice's reusable profiles.
    assert [p.name for p in work_dir.iterdir()] in ([], ["libreoffice-profiles"])


def test_owner_sees_player_and_downloads_and_others_get_404(completed_job: Job, client, other_user):
    job = completed_job
    detail = client.get(reverse("jobs:detail", args=[job.id]))
    assert detail.status_code == 200
    page = detail.content.decode()
    assert "<video" in page and 'kind="captions"' in page
    assert reverse("jobs:file", args=[job.id, "vtt"]) in page

    status = client.get(reverse("jobs:status", args=[job.id])).json()
    assert status["status"] == "completed" and status["progress"] == 100
    assert [s["status"] for s in status["slides"]] == ["narrated"] * 4

    video = client.get(reverse("jobs:file", args=[job.id, "video"]))
    assert video.status_code == 200 and video["Content-Type"] == "video/mp4"
    assert b"".join(video.streaming_content)[4:8] == b"ftyp"
    partial = client.get(reverse("jobs:file", args=[job.id, "video"]), HTTP_RANGE="bytes=0-99")
    assert partial.status_code == 206
    assert partial["Content-Range"].startswith("bytes 0-99/")
    assert len(b"".join(partial.streaming_content)) == 100
    srt = client.get(reverse("jobs:file", args=[job.id, "srt"]))
    assert 'filename="quarterly-review.srt"' in srt["Content-Disposition"]

    client.force_login(other_user)
    for url in (
        reverse("jobs:detail", args=[job.id]),
        reverse("jobs:status", args=[job.id]),
        reverse("jobs:file", args=[job.id, "video"]),
        reverse("jobs:file", args=[job.id, "deck"]),
        reverse("jobs:slide-image", args=[job.id, 1]),
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("jobs:cancel", args=[job.id])).status_code == 404
    assert job.title not in client.get(reverse("jobs:list")).content.decode()
