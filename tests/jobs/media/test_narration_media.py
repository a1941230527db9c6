"""A finished narration gets its preview, and its own transcript checked against its notes."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from jobs.media import services
from jobs.media.models import MediaJob
from jobs.models import Job
from jobs.worker.inprocess import in_process_worker
from tests.conftest import clear_queue, submit_deck, wait_for_jobs
from tests.jobs.media.conftest import wait_for_media

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

NOTES = [
    ("Welcome", "Welcome to the quarterly review. We will look at sales and hiring."),
    ("Hiring", "We hired seven engineers and two designers. Thank you for listening."),
]


def test_a_narration_is_previewed_and_its_transcript_checked_against_its_notes(
    user, persona, deck_path, settings, work_dir, client
):
    settings.SLIDECAST = {**settings.SLIDECAST, "AUTO_PREVIEW": True}
    clear_queue()
    job = submit_deck(deck_path(NOTES), user, persona, resolution="1280x720")
    with in_process_worker(queues=["cpu", "gpu"]):
        [job] = wait_for_jobs([job.id], timeout=240)
        assert job.status == Job.Status.COMPLETED, job.error
        preview = wait_for_media([_preview_id(job)], timeout=120)[0]
        assert preview.status == MediaJob.Status.COMPLETED, preview.error
        check = services.media_job_create(owner=user, operation="transcribe", source_job=job)
        vertical = services.media_job_create(
            owner=user, operation="transcode", source_job=job,
            parameters={"aspect": "9:16", "resolution": "720p", "burn_captions": True},
        )  # fmt: skip
        check, vertical = wait_for_media([check.id, vertical.id], timeout=120)
    assert vertical.status == MediaJob.Status.COMPLETED, vertical.error
    video = vertical.artifacts.get(kind="video")
    assert (video.width, video.height) == (720, 1280) and video.details["burn_captions"]
    assert check.status == MediaJob.Status.COMPLETED, check.error
    assert check.word_error_rate is not None and check.word_error_rate < 0.15
    assert check.script_check["reference_words"] == 23

    kinds = set(preview.artifacts.values_list("kind", flat=True))
    assert {"poster", "animated_preview", "storyboard", "thumbnails_vtt"} <= kinds
    client.force_login(user)
    page = client.get(reverse("jobs:detail", args=[job.id])).content.decode()
    assert "storyboard/thumbnails.vtt" in page and "poster.jpg" in page
    assert "word error rate" in page


def _preview_id(job: Job) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        preview = MediaJob.objects.filter(source_job=job, operation="preview").first()
        if preview is not None:
            return str(preview.id)
        time.sleep(0.2)
    raise AssertionError("no preview was queued for the finished narration")
