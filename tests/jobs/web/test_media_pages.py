"""The media pages: upload and choose, follow the job, and owner-only access."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from jobs.media.models import MediaArtifact, MediaJob
from jobs.models import Job
from tests.conftest import clear_queue

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def empty_queue(transactional_db):
    clear_queue()


def test_the_media_pages_need_a_login(client):
    response = client.get(reverse("jobs:media-list"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_uploading_a_file_with_options_starts_a_job_and_shows_its_page(client, user):
    client.force_login(user)
    upload = SimpleUploadedFile("talk.mp4", b"\x00" * 4096, content_type="video/mp4")
    response = client.post(reverse("jobs:media-list"), {
        "file": upload, "operation": "transcode", "codec": "h265", "aspect": "9:16",
        "quality": "small",
    })  # fmt: skip
    job = MediaJob.objects.get(owner=user)
    assert response.status_code == 302
    assert response["Location"] == reverse("jobs:media-detail", args=[job.id])
    assert job.parameters["codec"] == "h265" and job.parameters["aspect"] == "9:16"
    page = client.get(response["Location"]).content.decode()
    assert "talk.mp4" in page and "Waiting for a worker" in page
    status = client.get(reverse("jobs:media-status", args=[job.id])).json()
    assert status["status"] == "pending" and status["finished"] is False
    listing = client.get(reverse("jobs:media-list")).content.decode()
    assert "talk.mp4" in listing and "Transcode" in listing


def test_an_empty_file_is_refused_on_the_form(client, user):
    client.force_login(user)
    upload = SimpleUploadedFile("empty.mp4", b"")
    response = client.post(reverse("jobs:media-list"), {"file": upload, "operation": "preview"})
    assert response.status_code == 400
    assert not MediaJob.objects.exists()


def test_another_user_gets_404_for_the_page_status_and_files(client, user, other_user):
    job = MediaJob.objects.create(owner=user, title="t.mp4", operation="preview",
                                  status="completed")  # fmt: skip
    MediaArtifact.objects.create(
        media_job=job,
        kind="poster",
        name="poster.jpg",
        file=f"media/{job.id}/out/poster.jpg",
        content_type="image/jpeg",
    )
    client.force_login(other_user)
    for name in ("jobs:media-detail", "jobs:media-status"):
        assert client.get(reverse(name, args=[job.id])).status_code == 404
    assert client.get(reverse("jobs:media-file", args=[job.id, "poster.jpg"])).status_code == 404


def test_a_narration_page_offers_media_jobs_and_uses_its_preview(client, user, persona,
                                                                 media_root):  # fmt: skip
    narration = Job.objects.create(owner=user, title="d.pptx", persona=persona,
                                   status="completed", video="jobs/x/video.mp4")  # fmt: skip
    preview = MediaJob.objects.create(owner=user, title="d.mp4", operation="preview",
                                      status="completed", source_job=narration)  # fmt: skip
    for kind, name in (("poster", "poster.jpg"), ("thumbnails_vtt", "storyboard/thumbnails.vtt")):
        MediaArtifact.objects.create(
            media_job=preview,
            kind=kind,
            name=name,
            file=f"media/{preview.id}/out/{name}",
            content_type="x",
        )
    client.force_login(user)
    page = client.get(reverse("jobs:detail", args=[narration.id])).content.decode()
    assert f'poster="/media/{preview.id}/files/poster.jpg"' in page
    assert f'data-thumbnails="/media/{preview.id}/files/storyboard/thumbnails.vtt"' in page
    response = client.post(
        reverse("jobs:media-from-job", args=[narration.id]),
        {"operation": "transcribe", "codec": "h264", "aspect": "16:9"},
    )
    transcription = MediaJob.objects.get(operation="transcribe")
    assert response["Location"] == reverse("jobs:media-detail", args=[transcription.id])
    assert transcription.source_job_id == narration.id and transcription.parameters == {
        "language": None, "check_script": True,
    }  # fmt: skip


def test_a_batch_is_started_from_the_form_and_followed_on_its_page(
    client, user, other_user, persona, deck_path
):
    client.force_login(user)
    decks = [deck_path([("A", "Hello.")], name=f"d{n}.pptx").open("rb") for n in range(2)]
    response = client.post(reverse("jobs:batch-list"), {
        "decks": decks, "personas": [persona.id], "presets": ["vertical-720", "square-720"],
    })  # fmt: skip
    for handle in decks:
        handle.close()
    assert response.status_code == 302, response.content.decode()[:2000]
    batch_id = response["Location"].rstrip("/").split("/")[-1]
    status = client.get(reverse("jobs:batch-status", args=[batch_id])).json()
    assert status["progress"]["expected"] == 6 and len(status["children"]) == 2
    assert client.get(response["Location"]).status_code == 200
    client.force_login(other_user)
    assert client.get(reverse("jobs:batch-status", args=[batch_id])).status_code == 404
