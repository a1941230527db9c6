"""The persona page's knowledge panel: upload, ingest, live progress, retry, archive, search."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from jobs.models import Persona
from jobs.personas import ingestion

pytestmark = pytest.mark.django_db

BEES = " ".join(f"Honeybees pollinate the orchard, hive {n}." for n in range(40))


@pytest.fixture
def staff_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser("ops", "ops@example.com", "ops-pass-1")
    client.force_login(admin)
    return client


def _run_queued_ingestion(persona: Persona) -> None:
    """What the workers would do, in this process: profile, each work, the quotes."""
    persona.refresh_from_db()
    run = persona.ingestion_run
    ingestion.ingest_profile(persona_id=persona.id, run=run)
    for document in persona.knowledge_documents.filter(part__kind="works"):
        ingestion.ingest_work(document_id=document.id, run=run)
    ingestion.ingest_quotes(persona_id=persona.id, run=run)


def test_an_operator_uploads_ingests_follows_and_searches_from_the_persona_page(
    staff_client, persona
):
    page_url = reverse("admin:jobs_persona_change", args=[persona.id])
    page = staff_client.get(page_url).content.decode()
    assert 'id="knowledge"' in page and "Upload documents" in page and "Retry failed parts" in page

    upload = reverse("admin:persona_knowledge_upload", args=[persona.id])
    files = [SimpleUploadedFile("bees.txt", BEES.encode()),
             SimpleUploadedFile("junk.txt", b"\x00\xff" * 100)]  # fmt: skip
    answer = staff_client.post(upload, {"part": "works", "files": files}, follow=True)
    assert "Stored for ingestion (works): bees.txt, junk.txt." in answer.content.decode()
    refused = staff_client.post(
        upload, {"part": "works", "files": [SimpleUploadedFile("x.exe", b"MZ")]}, follow=True
    ).content.decode()
    assert "x.exe: works take .txt" in refused.lower()

    action = reverse("admin:persona_knowledge_action", args=[persona.id])
    started = staff_client.post(action, {"action": "ingest"}, follow=True).content.decode()
    assert "Ingestion started." in started
    status = staff_client.get(reverse("admin:persona_knowledge", args=[persona.id])).json()
    assert status["status"] == "ingesting"
    assert {d["name"]: d["status"] for p in status["parts"] for d in p["documents"]} == {
        "bees.txt": "queued", "junk.txt": "queued"}  # fmt: skip
    _run_queued_ingestion(persona)

    panel = staff_client.get(reverse("admin:persona_knowledge", args=[persona.id]),
                             {"panel": "1"}).content.decode()  # fmt: skip
    assert 'data-busy="0"' in panel and "failed" in panel and "junk.txt" in panel
    persona.refresh_from_db()
    assert persona.status == "failed" and "works: junk.txt: is not text" in persona.ingestion_error

    search = reverse("admin:persona_knowledge_search", args=[persona.id])
    results = staff_client.get(search, {"q": "orchard pollination"}).content.decode()
    assert "Honeybees pollinate the orchard" in results and "bees.txt" in results

    retried = staff_client.post(action, {"action": "retry"}, follow=True).content.decode()
    assert "Retrying the failed parts." in retried
    archived = staff_client.post(action, {"action": "archive"}, follow=True).content.decode()
    assert "Archived." in archived
    persona.refresh_from_db()
    assert persona.status == "archived"
    again = staff_client.post(action, {"action": "ingest"}, follow=True).content.decode()
    assert "is archived; restore it first" in again


def test_the_knowledge_views_are_for_staff_only(client, user, persona):
    client.force_login(user)
    url = reverse("admin:persona_knowledge", args=[persona.id])
    assert client.get(url).status_code == 302  # to the admin login
