"""A narrated deck's slides become chapters: in the MP4, in chapters.vtt, the API and the page."""

from __future__ import annotations

import html
import json
import subprocess
from pathlib import Path

import pytest
import webvtt
from django.core.files.storage import default_storage
from django.urls import reverse
from pptx import Presentation
from pptx.util import Inches

from jobs.access.services import api_token_create
from jobs.models import Job
from jobs.narration import services
from media_pipeline.tools import find_ffmpeg
from tests.conftest import submit_deck

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# What each slide of the deck below is called in the video, in order (the hidden slide is
# not in it, so the untitled slide is the third).
EXPECTED_TITLES = ["Welcome aboard", "Q&A: <costs> & more", "Slide 3", "First line wins"]
TOLERANCE = 0.05


def _deck(path: Path) -> Path:
    presentation = Presentation()
    layouts = presentation.slide_layouts

    def slide(layout: int, title: str | None, notes: str):
        added = presentation.slides.add_slide(layouts[layout])
        if title is not None:
            added.shapes.title.text = title
        if notes:
            added.notes_slide.notes_text_frame.text = notes
        return added

    slide(0, "Welcome  aboard", "Welcome to the tour. It is a short one.")
    slide(1, "Q&A: <costs> & more", "")  # silent: a chapter all the same
    slide(6, None, "This slide has no text at all, only narration.")
    slide(1, "Hidden", "Nobody hears this.")._element.set("show", "0")
    untitled = slide(6, None, "Thank you for watching.")
    box = untitled.shapes.add_textbox(Inches(1), Inches(1), Inches(6), Inches(2))
    box.text_frame.text = "\nFirst line wins\nnot this one"
    presentation.save(path)
    return path


@pytest.fixture
def completed_job(tmp_path: Path, user, persona, run_worker, work_dir) -> Job:
    job = submit_deck(
        _deck(tmp_path / "Tour.pptx"), user, persona,
        resolution="1280x720", padding_seconds=0.3, empty_slide_seconds=1.5,
    )  # fmt: skip
    [job] = run_worker([job.id], timeout=240)
    assert job.status == Job.Status.COMPLETED, job.error
    return job


def _stored(name: str, path: Path) -> Path:
    path.write_bytes(default_storage.open(name).read())
    return path


def _seconds(timestamp: str) -> float:
    hours, minutes, seconds = timestamp.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _ffprobe_chapters(video: Path) -> list[dict]:
    ffprobe = str(Path(find_ffmpeg()).with_name("ffprobe"))
    out = subprocess.run(
        [ffprobe, "-v", "error", "-show_chapters", "-of", "json", str(video)],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return json.loads(out)["chapters"]


def test_mp4_and_chapters_track_name_every_slide_at_its_start(completed_job: Job, tmp_path):
    job = completed_job
    slides = list(job.slides.order_by("index"))
    assert [slide.title for slide in slides] == EXPECTED_TITLES
    # Each slide starts where the ones before it end (their narration, to the frame).
    expected_starts, elapsed = [], 0.0
    for slide in slides:
        expected_starts.append(elapsed)
        elapsed += slide.duration_seconds
    assert [s.start_seconds for s in slides] == pytest.approx(expected_starts, abs=TOLERANCE)

    chapters = _ffprobe_chapters(_stored(job.video.name, tmp_path / "video.mp4"))
    assert [chapter["tags"]["title"] for chapter in chapters] == EXPECTED_TITLES
    assert [float(c["start_time"]) for c in chapters] == pytest.approx(
        expected_starts, abs=TOLERANCE
    )
    assert float(chapters[-1]["end_time"]) == pytest.approx(job.duration_seconds, abs=TOLERANCE)

    cues = webvtt.read(str(_stored(job.chapters_vtt.name, tmp_path / "chapters.vtt")))
    assert [html.unescape(cue.text) for cue in cues] == EXPECTED_TITLES
    assert [_seconds(cue.start) for cue in cues] == pytest.approx(expected_starts, abs=TOLERANCE)
    assert job.chapters_vtt.name == f"jobs/{job.id}/output/chapters.vtt"


def test_job_page_lists_the_chapters_and_gives_the_player_their_track(
    completed_job: Job, client, user
):
    job = completed_job
    client.force_login(user)
    chapters_url = reverse("jobs:file", args=[job.id, "chapters"])

    page = client.get(reverse("jobs:detail", args=[job.id])).content.decode()

    track = f'kind="chapters" srclang="en" label="Chapters" src="{chapters_url}">'
    assert f'<track id="chapters-track" {track}' in page
    assert 'kind="captions"' in page and 'id="media-actions"' in page  # kept as they were
    starts = [f'data-start="{slide.start_seconds:.3f}"' for slide in job.slides.order_by("index")]
    assert all(start in page for start in starts)
    assert page.count('class="chapter"') == 4
    assert "Q&amp;A: &lt;costs&gt; &amp; more" in page  # escaped, shown as written


def test_status_api_and_downloads_offer_the_chapters(completed_job: Job, client, user):
    job = completed_job
    client.force_login(user)
    chapters_url = reverse("jobs:file", args=[job.id, "chapters"])

    status = client.get(reverse("jobs:status", args=[job.id])).json()
    assert [c["title"] for c in status["chapters"]] == EXPECTED_TITLES
    assert [c["index"] for c in status["chapters"]] == [1, 2, 3, 4]
    assert status["chapters"][0]["start_seconds"] == 0.0
    assert status["files"]["chapters"] == chapters_url

    download = client.get(chapters_url)
    assert download.status_code == 200
    assert download["Content-Type"] == "text/vtt; charset=utf-8"
    assert 'filename="tour.chapters.vtt"' in download["Content-Disposition"]
    assert b"".join(download.streaming_content).startswith(b"WEBVTT\nKind: chapters")

    token = api_token_create(user=user, name="chapters")[1]
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    api = client.get(f"/api/jobs/{job.id}", **headers).json()
    assert api["chapters"] == status["chapters"]
    assert [slide["title"] for slide in api["slides"]] == EXPECTED_TITLES
    artifact = api["artifacts"]["chapters"]
    assert artifact == f"/api/jobs/{job.id}/artifacts/chapters"
    fetched = client.get(artifact, **headers)
    assert fetched.status_code == 200
    assert b"Welcome aboard" in b"".join(fetched.streaming_content)


def test_rerender_drops_the_old_chapters(completed_job: Job):
    services.job_rerender(job=completed_job)
    completed_job.refresh_from_db()
    assert not completed_job.chapters_vtt and not completed_job.slides.exists()
