"""Jobs of a cloned-voice persona go to the gpu queue; a gpu worker without XTTS fails them."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from procrastinate.contrib.django.models import ProcrastinateJob

from jobs.models import Job, Persona, VoiceReference
from jobs.worker.inprocess import in_process_worker
from tests.conftest import clear_queue, submit_deck, wait_for_jobs

pytestmark = pytest.mark.slow


@pytest.fixture
def cloned(db) -> Persona:
    persona = Persona.objects.create(
        name="Joe cloned", tts_engine="xtts", voice="reference", status="active"
    )
    prepared = default_storage.save(
        f"personas/{persona.id}/reference/prepared.wav", ContentFile(b"RIFF....WAVE")
    )
    VoiceReference.objects.create(
        persona=persona, recording=prepared, prepared=prepared,
        status=VoiceReference.Status.READY, consent_given_by="Joe Example",
        consent_given_at=datetime(2026, 11, 30, tzinfo=UTC), consent_statement="I agree.",
    )  # fmt: skip
    return persona


def test_a_cloned_voice_needs_its_prepared_recording(db, user, deck_path):
    bare = Persona.objects.create(
        name="No take", tts_engine="xtts", voice="reference", status="active"
    )
    with pytest.raises(ValidationError, match="no prepared reference recording with consent"):
        submit_deck(deck_path([("One", "Hello.")]), user, bare)


def test_narration_waits_on_the_gpu_queue_and_a_worker_without_xtts_fails_the_job_clearly(
    transactional_db, client, django_user_model, user, cloned, deck_path
):
    clear_queue()
    job = submit_deck(deck_path([("One", "Hello there."), ("Two", "Goodbye.")]), user, cloned)
    with in_process_worker(queues=["cpu"]):
        waiting = _wait_for_status(job, Job.Status.SYNTHESIZING_AUDIO)
    narrations = ProcrastinateJob.objects.filter(task_name="slidecast.narrate_slide")
    assert sorted(narrations.values_list("queue_name", flat=True)) == ["gpu", "gpu"]
    assert set(narrations.values_list("status", flat=True)) == {"todo"}, "no cpu worker took them"
    assert waiting.status == Job.Status.SYNTHESIZING_AUDIO
    # No worker serves gpu: the owner is told why the job waits, and so are the operators.
    client.force_login(user)
    notice = client.get(f"/jobs/{job.id}/status.json").json()["notice"]
    assert notice.startswith("Waiting for a worker on the gpu queue: none is running now")
    staff = django_user_model.objects.create_user("ops", password="x", is_staff=True)
    client.force_login(staff)
    panel = client.get("/admin/oversight/?panel=1").content.decode()
    assert "no worker: 2 waiting" in panel

    with in_process_worker(queues=["gpu"]):  # a gpu host whose model folder is not set
        [job] = wait_for_jobs([job.id], timeout=60)
    assert job.status == Job.Status.FAILED
    assert job.error_code == "model_not_found"
    assert "SLIDECAST_XTTS_MODEL_DIR" in job.error and job.error.startswith("Slide ")
    attempts = narrations.values_list("attempts", flat=True)
    assert max(attempts) <= 1, "a missing model is not retried"


def _wait_for_status(job: Job, status: str, timeout: float = 120) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status == status or job.is_finished:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job stayed {job.status}")
