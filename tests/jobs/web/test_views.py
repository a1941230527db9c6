from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.urls import reverse
from procrastinate.contrib.django.models import ProcrastinateJob

from jobs.models import Job, Persona
from jobs.narration import services
from tests.conftest import submit_deck

pytestmark = pytest.mark.django_db


def post_upload(client, persona, deck):
    """Submit the upload form as a browser would, with the form's defaults."""
    return client.post(
        reverse("jobs:list"),
        {"deck": deck, "persona": persona.id, "resolution": "1920x1080",
         "padding_seconds": 0.5, "empty_slide_seconds": 3},
    )  # fmt: skip


def test_pages_need_login(client):
    response = client.get(reverse("jobs:list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_admin_needs_staff(client, user):
    client.force_login(user)
    response = client.get(reverse("admin:jobs_job_changelist"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_upload_form_refuses_other_extensions(client, user, persona):
    client.force_login(user)
    upload = ContentFile(b"PK\x03\x04keynote", name="talk.key")
    response = post_upload(client, persona, upload)
    assert response.status_code == 400
    assert "Upload a PowerPoint deck (.pptx), a PDF or an OpenDocument presentation" in (
        response.content.decode()
    )
    assert not Job.objects.exists()


def test_upload_form_refuses_files_over_the_limit_at_once(client, user, persona, settings):
    settings.SLIDECAST = {**settings.SLIDECAST, "MAX_UPLOAD_BYTES": 1024}
    client.force_login(user)
    upload = ContentFile(b"x" * 4096, name="big.pptx")
    response = post_upload(client, persona, upload)
    assert response.status_code == 400
    assert "The file is 4 KB; the limit is 1 KB." in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_upload_queues_decomposition_on_the_cpu_queue(client, user, persona, deck_path):
    client.force_login(user)
    with deck_path([("One", "Hello.")]).open("rb") as upload:
        post_upload(client, persona, upload)
    job = Job.objects.get()
    assert job.status == Job.Status.PENDING and job.owner == user
    queued = ProcrastinateJob.objects.get(args__job_id=str(job.id))
    assert (queued.task_name, queued.queue_name, queued.status) == (
        "slidecast.decompose",
        "cpu",
        "todo",
    )
    page = client.get(reverse("jobs:detail", args=[job.id])).content.decode()
    assert "Waiting for a worker" in page and 'role="progressbar"' in page


@pytest.mark.django_db(transaction=True)
def test_cancel_drops_queued_steps(client, user, persona, deck_path):
    job = submit_deck(deck_path([("One", "Hello.")]), user, persona)
    client.force_login(user)
    response = client.post(reverse("jobs:cancel", args=[job.id]), follow=True)
    assert "The job was cancelled." in response.content.decode()
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED and job.finished_at
    assert ProcrastinateJob.objects.get(args__job_id=str(job.id)).status == "cancelled"


@pytest.mark.parametrize(
    ("status", "reason"),
    [("archived", "is archived"), ("draft", "is a draft: start its ingestion"),
     ("ingesting", "is ingesting its knowledge"), ("failed", "failed its ingestion")],
)  # fmt: skip
def test_only_an_active_persona_narrates(user, persona, status, reason):
    persona.status = status
    persona.save()
    with pytest.raises(ValidationError, match=reason):
        services.job_create(
            owner=user, deck=ContentFile(b"x", name="d.pptx"), title="d.pptx", persona=persona
        )


def test_nobody_narrates_with_another_users_persona(user, other_user):
    theirs = Persona.objects.create(name="Mallory's", owner=other_user, status="active")
    with pytest.raises(ValidationError, match="no such persona"):
        services.job_create(
            owner=user, deck=ContentFile(b"x", name="d.pptx"), title="d.pptx", persona=theirs
        )


def test_unsatisfiable_range_is_416(client, user, persona, media_root):
    job = Job.objects.create(
        owner=user,
        title="t.pptx",
        persona=persona,
        status=Job.Status.COMPLETED,
        video="jobs/t/output/video.mp4",
    )
    target = media_root / "jobs/t/output/video.mp4"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"0123456789")
    client.force_login(user)
    url = reverse("jobs:file", args=[job.id, "video"])
    assert client.get(url, HTTP_RANGE="bytes=20-").status_code == 416
    tail = client.get(url, HTTP_RANGE="bytes=-3")
    assert tail.status_code == 206 and b"".join(tail.streaming_content) == b"789"


def test_upload_declared_larger_than_the_limit_is_refused_before_reading(client, user, settings):
    settings.SLIDECAST = {**settings.SLIDECAST, "MAX_UPLOAD_BYTES": 1024}
    client.force_login(user)
    response = client.post(
        reverse("jobs:list"),
        data=b"x" * 200_000,
        content_type="multipart/form-data; boundary=BoUnDaRy",
    )
    assert response.status_code == 413
    assert "larger than the limit of 1 KB (195.31 KB)" in response.content.decode()


def test_persona_disabled_after_the_form_was_shown_is_a_form_error(
    client, user, persona, deck_path, monkeypatch
):
    client.force_login(user)

    def disabled(**kwargs):
        raise ValidationError({"persona": "The persona 'Joe (US English)' is disabled."})

    monkeypatch.setattr(services, "job_create", disabled)
    with deck_path([("One", "Hello.")]).open("rb") as upload:
        response = post_upload(client, persona, upload)
    assert response.status_code == 400
    assert "is disabled" in response.content.decode()


def test_job_warnings_are_shown_on_its_page_in_its_status_and_in_the_api(client, user, persona):
    from jobs.access.services import api_token_create

    warning = "Slide 2 is silent: its narration failed (<voice> broke). Retry the job."
    job = Job.objects.create(
        owner=user, title="t.pptx", persona=persona, status="completed", warnings=[warning]
    )
    client.force_login(user)
    page = client.get(reverse("jobs:detail", args=[job.id])).content.decode()
    assert '<ul id="job-warnings" class="warning" >' in page
    assert "narration failed (&lt;voice&gt; broke)" in page  # shown as text, never markup
    assert client.get(reverse("jobs:status", args=[job.id])).json()["warnings"] == [warning]
    token = api_token_create(user=user, name="warnings")[1]
    shown = client.get(f"/api/jobs/{job.id}", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert shown["warnings"] == [warning]


def test_the_list_shows_storage_use_and_clears_the_cache(client, user, other_user, persona):
    from django.core.files.storage import default_storage

    from jobs.models import CachedArtifact

    Job.objects.create(owner=user, title="a", deck="d", persona=persona, stored_bytes=2_000_000)
    name = default_storage.save("cache/web/a.png", ContentFile(b"p" * 1_000_000))
    CachedArtifact.objects.create(
        owner=user, kind="image", key="b" * 64, file=name, size_bytes=10**6
    )
    CachedArtifact.objects.create(
        owner=other_user, kind="image", key="b" * 64, file="x", size_bytes=5
    )
    client.force_login(user)
    page = client.get(reverse("jobs:list")).content.decode()
    assert "Storage used: 2.9\xa0MB" in page and "976.6\xa0KB\n    of slides kept" in page
    response = client.post(reverse("jobs:cache-clear"), follow=True)
    assert "Removed 1 cached slide files (976.6\xa0KB)." in response.content.decode()
    assert not default_storage.exists(name)
    assert CachedArtifact.objects.filter(owner=other_user).exists()
    assert "Clear cached slides" not in client.get(reverse("jobs:list")).content.decode()
