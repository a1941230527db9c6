"""Workers in production: graceful SIGTERM, recycling, and the per-task time limit."""

from __future__ import annotations

import signal
import time
import wave

import pytest
from django.core.files.storage import default_storage
from procrastinate.contrib.django.models import ProcrastinateJob

from jobs.models import Job, Slide
from tests.conftest import submit_deck
from tests.decks import long_notes
from tests.jobs.queue_helpers import defer, status_of

LONG_NOTES = long_notes(9)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def wait_until(condition, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_sigterm_mid_slide_finishes_the_slide_and_the_job_completes_after_restart(
    user, persona, deck_path, start_worker_process, run_worker
):
    job = submit_deck(deck_path([(f"Slide {n}", LONG_NOTES) for n in range(1, 5)]), user, persona)
    worker = start_worker_process()
    wait_until(
        lambda: Slide.objects.filter(job=job, status=Slide.Status.NARRATING).exists(),
        timeout=120, what="a slide to start narrating",
    )  # fmt: skip
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=120) == 0

    # Nothing half-written: every stored narration belongs to a finished slide and is whole.
    for slide in Slide.objects.filter(job=job):
        if slide.status == Slide.Status.NARRATED:
            with default_storage.open(slide.audio.name) as stored, wave.open(stored) as audio:
                seconds = audio.getnframes() / audio.getframerate()
            assert seconds == pytest.approx(slide.duration_seconds, abs=0.001)
        else:
            assert slide.status == Slide.Status.PENDING, "a slide was left half-done"
            assert not slide.audio
    assert not ProcrastinateJob.objects.filter(args__job_id=str(job.id), status="doing").exists()
    assert Slide.objects.filter(job=job, status=Slide.Status.NARRATED).exists()

    [job] = run_worker([job.id], timeout=180)
    assert job.status == Job.Status.COMPLETED, job.error
    assert job.slides.filter(status=Slide.Status.NARRATED).count() == 4


def test_worker_recycles_itself_after_its_task_quota(start_worker_process):
    pings = [defer("slidecast.ping", sent_at=time.time()) for _ in range(10)]
    worker = start_worker_process(SLIDECAST_WORKER_MAX_TASKS="5")
    assert worker.wait(timeout=60) == 0  # a graceful stop, for the supervisor to restart
    # Five tasks in all (the worker's own periodic ones count too), then it took no more;
    # with two at a time, the other one running then was allowed to finish.
    finished = ProcrastinateJob.objects.filter(status="succeeded").count()
    assert finished in (5, 6)
    assert "todo" in {status_of(job_id) for job_id in pings}
    assert "stops to be replaced: it has run 5 tasks" in worker.log_path.read_text()


def test_task_over_its_time_limit_stops_the_worker_and_is_handed_back(
    user, persona, deck_path, start_worker_process
):
    job = submit_deck(
        deck_path([("One", f"{LONG_NOTES} {LONG_NOTES} {LONG_NOTES}")]), user, persona
    )
    worker = start_worker_process(
        SLIDECAST_TASK_TIME_LIMIT_SECONDS="1",
        # No soft limit: this is about the hard one, for steps that cannot stop themselves.
        SLIDECAST_TASK_SOFT_LIMIT_MARGIN_SECONDS="0",
        SLIDECAST_WORKER_SHUTDOWN_GRACE_SECONDS="0.5",
        SLIDECAST_LOG_LEVEL="INFO",
        SLIDECAST_PROCRASTINATE_LOG_LEVEL="INFO",
    )
    worker.wait(timeout=60)
    log = worker.log_path.read_text()
    assert "over its time limit of 1 s" in log
    queued = ProcrastinateJob.objects.filter(args__job_id=str(job.id))
    # The task either finished during the grace time or is left for the rescue to hand back.
    assert set(queued.values_list("status", flat=True)) <= {"succeeded", "doing", "todo"}
