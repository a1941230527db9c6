"""Recovery through real workers: a killed worker's job is rescued; failed jobs are retried."""

from __future__ import annotations

import os
import signal
import time

import pytest
from django.urls import reverse
from procrastinate.contrib.django.models import ProcrastinateJob

from jobs.models import DeadLetter, Job, Slide
from jobs.narration import services
from jobs.operations import queue_pause, rescue
from tests.conftest import submit_deck, wait_for_jobs
from tests.decks import long_notes

LONG_NOTES = long_notes(9)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_job_of_a_worker_killed_mid_slide_is_rescued_and_completed_once(
    user, persona, deck_path, settings, worker_process, run_worker, media_root
):
    settings.OVERSIGHT = {**settings.OVERSIGHT, "STALLED_WORKER_SECONDS": 5}
    deck = deck_path([(f"Slide {n}", LONG_NOTES) for n in range(1, 4)])
    job = submit_deck(deck, user, persona)

    deadline = time.monotonic() + 120
    while not Slide.objects.filter(job=job, status=Slide.Status.NARRATING).exists():
        assert time.monotonic() < deadline, "no slide started narrating"
        assert worker_process.poll() is None
        time.sleep(0.02)
    os.kill(worker_process.pid, signal.SIGKILL)
    worker_process.wait(timeout=10)
    stuck = ProcrastinateJob.objects.filter(args__job_id=str(job.id), status="doing")
    assert stuck.exists(), "the killed worker left no running job"

    time.sleep(6)  # the dead worker's heartbeat grows old
    rescued = rescue.stalled_jobs_rescue()
    assert set(stuck.values_list("id", flat=True)) <= set(rescued) or not stuck.exists()
    # Back to the usual threshold: the in-process worker's own periodic rescue would
    # otherwise take its 10-second heartbeat for a dead worker at the next minute.
    settings.OVERSIGHT = {**settings.OVERSIGHT, "STALLED_WORKER_SECONDS": 60}
    [job] = run_worker([job.id], timeout=180)

    assert job.status == Job.Status.COMPLETED, job.error
    assert sorted(job.slides.values_list("index", flat=True)) == [1, 2, 3]
    assert set(job.slides.values_list("status", flat=True)) == {Slide.Status.NARRATED}
    outputs = sorted(p.name for p in (media_root / job.storage_prefix() / "output").iterdir())
    assert outputs == ["captions.srt", "captions.vtt", "chapters.vtt", "video.mp4"]
    assemblies = ProcrastinateJob.objects.filter(
        args__job_id=str(job.id), task_name="slidecast.assemble"
    )
    assert assemblies.count() == 1


def test_failed_job_retried_from_the_admin_continues_from_narration(
    user, persona, deck_path, run_worker, client, django_user_model
):
    persona.voice = "en_US-nobody-medium"  # not installed: narration fails, slides are kept
    persona.save()
    job = submit_deck(deck_path([("One", "Hello there."), ("Two", "Goodbye now.")]), user, persona)
    [job] = run_worker([job.id], timeout=120)
    assert job.status == Job.Status.FAILED and job.error_code == "model_not_found"
    assert "SLIDECAST_PIPER_VOICE_DIR" in job.error
    letter = DeadLetter.objects.filter(job=job).first()
    assert letter and letter.exception_class.endswith("ModelNotFoundError")
    assert "Traceback" in letter.traceback and letter.attempts == 1

    persona.voice = "en_US-joe-medium"
    persona.save()
    admin = django_user_model.objects.create_superuser("ops", "ops@example.com", "ops-pass-1")
    client.force_login(admin)
    url = reverse("admin:jobs_job_changelist")
    form = {"action": "retry_jobs", "_selected_action": [str(job.id)], "index": "0"}
    assert "Retry 1 jobs" in client.post(url, form).content.decode()
    client.post(url, {**form, "confirmed": "yes"})

    [job] = run_worker([job.id], timeout=120)
    assert job.status == Job.Status.COMPLETED, job.error
    decompositions = ProcrastinateJob.objects.filter(
        args__job_id=str(job.id), task_name="slidecast.decompose"
    )
    assert decompositions.count() == 1, "the slides were rendered again"


def test_higher_priority_jobs_run_first(user, persona, deck_path, run_worker):
    queue_pause.queue_pause(queue_name="cpu")
    deck = deck_path([("One", "Hi.")])
    background = submit_deck(deck, user, persona, priority=Job.Priority.BACKGROUND)
    normal = submit_deck(deck, user, persona)
    high = submit_deck(deck, user, persona, priority=Job.Priority.HIGH)
    queue_pause.queue_resume(queue_name="cpu")
    from jobs.worker.inprocess import in_process_worker

    with in_process_worker(queues=["cpu"], concurrency=1):
        finished = wait_for_jobs([background.id, normal.id, high.id], timeout=180)
    started = sorted(finished, key=lambda job: job.started_at)
    assert [job.id for job in started] == [high.id, normal.id, background.id]


def test_paused_queue_keeps_jobs_waiting_across_worker_restarts(
    user, persona, deck_path, run_worker
):
    from jobs.worker.inprocess import in_process_worker

    queue_pause.queue_pause(queue_name="cpu", by="test")
    job = submit_deck(deck_path([("One", "Paused.")]), user, persona)
    for _ in range(2):  # two worker lifetimes
        with in_process_worker(queues=["cpu"], concurrency=1):
            time.sleep(2)
        job.refresh_from_db()
        assert job.status == Job.Status.PENDING
    queue_pause.queue_resume(queue_name="cpu")
    [job] = run_worker([job.id], timeout=120)
    assert job.status == Job.Status.COMPLETED


def test_rerender_makes_the_video_again_from_the_deck(user, persona, deck_path, run_worker):
    job = submit_deck(deck_path([("One", "First take.")]), user, persona)
    [job] = run_worker([job.id], timeout=120)
    first_video = job.video.name
    services.job_rerender(job=job)
    job.refresh_from_db()
    assert job.status == Job.Status.PENDING and not job.slides.exists() and not job.video
    [job] = run_worker([job.id], timeout=120)
    assert job.status == Job.Status.COMPLETED and job.video.name == first_video
    assert job.slides.count() == 1
