"""A deck that links outside itself becomes a video with the links left out, in a real worker:
no request reaches the canary listener and none of the canary file's pixels reach the video."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from django.core.files.storage import default_storage

from jobs.models import Job
from media_pipeline.tools import find_ffmpeg
from tests.conftest import submit_deck
from tests.linked_decks import (
    magenta_png,
    magenta_share,
    make_linked_ole_deck,
    make_linked_picture_deck,
    make_svg_reference_deck,
)
from tests.media_pipeline.test_sandbox import Canary

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _frame(video_name: str, folder: Path) -> Path:
    video, frame = folder / "video.mp4", folder / "frame.png"
    with default_storage.open(video_name, "rb") as stored:
        video.write_bytes(stored.read())
    subprocess.run(
        [find_ffmpeg(), "-v", "error", "-y", "-ss", "1", "-i", str(video), "-frames:v", "1",
         str(frame)],
        check=True,
    )  # fmt: skip
    return frame


def test_linked_content_is_left_out_of_the_video_with_a_warning(
    tmp_path, user, persona, run_worker, work_dir
):
    secret = magenta_png(tmp_path / "secret.png")
    canary = Canary(secret)
    try:
        decks = {
            "http": make_linked_picture_deck(tmp_path / "a.pptx", f"{canary.url}/pic.png"),
            "file": make_linked_picture_deck(tmp_path / "b.pptx", secret.as_uri()),
            "ole": make_linked_ole_deck(tmp_path / "c.pptx", f"{canary.url}/book.xlsx"),
            "svg": make_svg_reference_deck(tmp_path / "d.pptx", secret.as_uri()),
        }
        jobs = {name: submit_deck(deck, user, persona) for name, deck in decks.items()}
        finished = run_worker([job.id for job in jobs.values()], timeout=240)
    finally:
        canary.server.shutdown()
    assert canary.requests == []
    for name, job in zip(jobs, finished, strict=True):
        assert job.status == Job.Status.COMPLETED, (name, job.error)
        assert len(job.warnings) == 1 and job.warnings[0].startswith(
            "Linked content was left out"
        ), (name, job.warnings)
        folder = tmp_path / f"out-{name}"
        folder.mkdir()
        assert magenta_share(_frame(job.video.name, folder)) == 0, name
