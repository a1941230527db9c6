"""Media jobs and batches in the admin: outputs inline, retry and cancel with confirmation."""

from __future__ import annotations

import pytest
from django.urls import reverse

from jobs.media.models import MediaArtifact, MediaBatch, MediaJob
from tests.conftest import clear_queue

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser("ops", "ops@example.com", "ops-pass-1")
    client.force_login(admin)
    return client


def test_operators_see_media_jobs_with_their_outputs_and_retry_failed_ones(staff_client, user):
    clear_queue()
    done = MediaJob.objects.create(
        owner=user,
        title="talk.mp4",
        operation="transcode",
        status="completed",
        queue="cpu",
        queue_reason="no gpu worker",
    )
    MediaArtifact.objects.create(
        media_job=done,
        kind="video",
        name="video.webm",
        file=f"media/{done.id}/out/video.webm",
        content_type="video/webm",
        size_bytes=1234,
        codec="vp9",
        width=1080,
        height=1920,
    )
    failed = MediaJob.objects.create(owner=user, title="cut.mp4", operation="transcribe",
                                     status="failed", error="cut.mp4 is incomplete")  # fmt: skip
    listing = staff_client.get(reverse("admin:jobs_mediajob_changelist") + "?status__exact=failed")
    assert "cut.mp4" in listing.content.decode() and "talk.mp4" not in listing.content.decode()
    page = staff_client.get(reverse("admin:jobs_mediajob_change", args=[done.id])).content.decode()
    assert f"/media/{done.id}/files/video.webm" in page and "no gpu worker" in page

    url = reverse("admin:jobs_mediajob_changelist")
    asked = staff_client.post(url, {"action": "retry_media_jobs",
                                    "_selected_action": [failed.id, done.id]})  # fmt: skip
    assert "Retry media jobs" in asked.content.decode()
    staff_client.post(url, {"action": "retry_media_jobs", "confirmed": "yes",
                            "_selected_action": [failed.id, done.id]}, follow=True)  # fmt: skip
    failed.refresh_from_db()
    done.refresh_from_db()
    assert failed.status == "pending" and done.status == "completed"


def test_the_batch_admin_shows_progress(staff_client, user):
    batch = MediaBatch.objects.create(owner=user, title="Launch", expected_children=3)
    MediaJob.objects.create(owner=user, title="a.mp4", operation="transcode", status="failed",
                            batch=batch)  # fmt: skip
    page = staff_client.get(reverse("admin:jobs_mediabatch_change", args=[batch.id]))
    assert "1 of 3 ended: 0 completed, 1 failed, 0 cancelled" in page.content.decode()
