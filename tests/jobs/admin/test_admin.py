from __future__ import annotations

import pytest
from django.urls import reverse

from jobs.models import Job, Slide

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser("ops", "ops@example.com", "ops-pass-1")
    client.force_login(admin)
    return client


def test_operators_filter_and_search_jobs_and_see_slides_inline(staff_client, user, persona):
    Job.objects.create(
        owner=user, title="broken.pptx", persona=persona, status=Job.Status.FAILED,
        error="The deck has no slides.",
    )  # fmt: skip
    done = Job.objects.create(
        owner=user, title="quarterly.pptx", persona=persona, status=Job.Status.COMPLETED
    )
    Slide.objects.create(job=done, index=1, source_number=1, notes="Hello there.")
    changelist = reverse("admin:jobs_job_changelist")

    page = staff_client.get(changelist, {"status__exact": "failed"}).content.decode()
    assert "broken.pptx" in page and "quarterly.pptx" not in page
    page = staff_client.get(changelist, {"q": "no slides"}).content.decode()
    assert "broken.pptx" in page and "quarterly.pptx" not in page

    detail = staff_client.get(reverse("admin:jobs_job_change", args=[done.id])).content.decode()
    assert "Hello there." in detail
    assert staff_client.get(reverse("admin:jobs_job_add")).status_code == 403


def test_persona_and_slide_lists_open(staff_client, persona):
    personas = staff_client.get(reverse("admin:jobs_persona_changelist")).content.decode()
    assert "Joe (US English)" in personas
    assert staff_client.get(reverse("admin:jobs_slide_changelist")).status_code == 200
