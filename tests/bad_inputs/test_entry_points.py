"""The web form, the API and the CLI give the same message for the same bad file."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from jobs.access.services import api_token_create
from jobs.models import Job
from tests.bad_inputs.corpus import CASES
from tests.conftest import wait_for_jobs

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
CASE_NAMES = ["password_protected_ooxml", "pdf_zip_polyglot", "notes_over_limit_on_slide_2"]


def _newest_job_id() -> str:
    return str(Job.objects.order_by("-created_at").values_list("id", flat=True).first())


def _through_web(client, user, persona, deck: Path) -> str:
    client.force_login(user)
    with deck.open("rb") as handle:
        client.post(
            reverse("jobs:list"),
            {"deck": handle, "persona": persona.id, "resolution": "1920x1080",
             "padding_seconds": 0.5, "empty_slide_seconds": 3},
        )  # fmt: skip
    job_id = _newest_job_id()
    wait_for_jobs([job_id], timeout=60)
    shown = client.get(reverse("jobs:status", args=[job_id])).json()
    return shown["error"]


def _through_api(client, user, persona, deck: Path) -> str:
    token = api_token_create(user=user, name="entry-points")[1]
    with deck.open("rb") as handle:
        created = client.post(
            "/api/jobs",
            {"deck": handle, "persona_id": persona.id},
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
    assert created.status_code == 201, created.content
    job_id = created.json()["id"]
    wait_for_jobs([job_id], timeout=60)
    shown = client.get(f"/api/jobs/{job_id}", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    return shown["error"]["message"]


def _through_cli(deck: Path, out: Path) -> str:
    with pytest.raises(CommandError) as failure:
        call_command("narrate", str(deck), "-o", str(out), "--timeout", "60")
    return str(failure.value).split(": ", 1)[1]


def test_the_same_file_gets_the_same_message_everywhere(
    tmp_path, client, user, persona, worker_process
):
    cases = {case.name: case for case in CASES}
    for name in CASE_NAMES:
        case = cases[name]
        folder = tmp_path / name
        folder.mkdir()
        deck = case.build(folder)
        web = _through_web(client, user, persona, deck)
        api = _through_api(client, user, persona, deck)
        cli = _through_cli(deck, folder / "out.mp4")
        assert web == api == cli, (name, web, api, cli)
        assert all(phrase in web for phrase in case.expect.contains), (name, web)
    assert worker_process.poll() is None
