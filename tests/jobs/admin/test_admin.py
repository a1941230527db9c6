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


def _persona_form(**fields) -> dict:
    return {
        "name": "Ava", "tts_engine": "piper", "voice": "", "speaking_rate": "1.0",
        "language": "en-US", "status": "active",
        "pronunciations-TOTAL_FORMS": "2", "pronunciations-INITIAL_FORMS": "0",
        "pronunciations-MIN_NUM_FORMS": "0", "pronunciations-MAX_NUM_FORMS": "1000",
        "pronunciations-0-phrase": "SQL", "pronunciations-0-say": "sequel",
        "pronunciations-1-phrase": "", "pronunciations-1-say": "",
        "reference-TOTAL_FORMS": "0", "reference-INITIAL_FORMS": "0",
        "reference-MIN_NUM_FORMS": "0", "reference-MAX_NUM_FORMS": "1",
        **fields,
    }  # fmt: skip


def test_admin_persona_goes_through_the_persona_rules(staff_client):
    from jobs.models import Persona

    url = "/admin/jobs/persona/add/"
    refused = staff_client.post(url, _persona_form(voice="fr_FR-siwis-low"))
    assert refused.status_code == 200
    assert "its voices: en_US-joe-medium" in refused.content.decode()
    assert not Persona.objects.filter(name="Ava").exists()

    twice = _persona_form(**{"pronunciations-1-phrase": "sql", "pronunciations-1-say": "s q l"})
    assert "Listed twice: sql" in staff_client.post(url, twice).content.decode()

    saved = staff_client.post(url, _persona_form(language="en-gb"))
    assert saved.status_code == 302
    ava = Persona.objects.get(name="Ava")
    assert (ava.language, ava.voice) == ("en-GB", "en_US-joe-medium")
    assert list(ava.pronunciations.values_list("phrase", "say")) == [("SQL", "sequel")]
