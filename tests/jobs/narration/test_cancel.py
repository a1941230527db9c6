"""Cancel stops running work within seconds, in a real worker process, and leaves nothing.

What a user sees: the job ends cancelled, no LibreOffice/ffmpeg of it keeps running, its
temporary files are gone, and the worker goes on to the next job.
"""

from __future__ import annotations

import time
from pathlib import Path

import psutil
import pytest
from procrastinate.contrib.django.models import ProcrastinateJob

from jobs.models import Job, Slide
from jobs.narration import services
from tests.conftest import submit_deck, wait_for_jobs
from tests.decks import long_notes, make_deck

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _wait_until(condition, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _children(worker) -> list[psutil.Process]:
    return psutil.Process(worker.pid).children(recursive=True)


def _running_ffmpeg(worker) -> bool:
    for child in _children(worker):
        try:
            if "ffmpeg" in child.name():
                return True
        except psutil.NoSuchProcess:
            continue  # an encoder batch that just ended
    return False


def _cancel_and_check_it_stops(job: Job, worker, work_dir: Path, task: str) -> None:
    services.job_cancel(job=Job.objects.get(id=job.id))
    cancelled_at = time.monotonic()
    _wait_until(
        lambda: (
            not ProcrastinateJob.objects.filter(
                task_name=task, args__job_id=str(job.id), status="doing"
            ).exists()
        ),
        timeout=5,
        what=f"{task} to stop",
    )
    time.sleep(max(0.0, 5 - (time.monotonic() - cancelled_at)))
    left = _children(worker)
    assert left == [], [child.pid for child in left]
    queued = ProcrastinateJob.objects.get(task_name=task, args__job_id=str(job.id))
    assert queued.status == "aborted"
    assert Job.objects.get(id=job.id).status == Job.Status.CANCELLED
    assert list(work_dir.glob(f"slidecast-*-{job.id}-*")) == []


def _next_job_runs_normally(tmp_path: Path, user, persona) -> None:
    deck = make_deck(tmp_path / "next.pptx", [("Next", "The worker carries on.")])
    (done,) = wait_for_jobs([submit_deck(deck, user, persona).id], timeout=120)
    assert done.status == Job.Status.COMPLETED, done.error
    assert done.duration_seconds > 1


def test_cancel_mid_narration_stops_the_voice_within_seconds(
    tmp_path, user, persona, worker_process, work_dir
):
    # About four minutes of speech: half a minute of synthesis if left running.
    deck = make_deck(tmp_path / "long.pptx", [("Long", long_notes(55))])
    job = submit_deck(deck, user, persona)
    _wait_until(
        lambda: Slide.objects.filter(job=job, status=Slide.Status.NARRATING).exists(),
        timeout=60,
        what="narration to start",
    )
    time.sleep(1.5)
    _cancel_and_check_it_stops(job, worker_process, work_dir, "slidecast.narrate_slide")
    assert not Slide.objects.filter(job=job, status=Slide.Status.NARRATED).exists()
    _next_job_runs_normally(tmp_path, user, persona)
    assert worker_process.poll() is None


def test_cancel_mid_assembly_kills_ffmpeg_within_seconds(
    tmp_path, user, persona, start_worker_process, work_dir
):
    # The slowest x264 preset on 4K keyframes keeps ffmpeg busy long enough to be caught.
    worker = start_worker_process(SLIDECAST_X264_PRESET="placebo")
    slides = [(f"Slide {n}", f"Slide {n}.") for n in range(1, 13)]
    deck = make_deck(tmp_path / "many.pptx", slides)
    job = submit_deck(deck, user, persona, resolution=Job.Resolution.UHD)
    # The worker also runs ffmpeg at start, to list its encoders: wait for the assembly's.
    _wait_until(
        lambda: (
            Job.objects.get(id=job.id).status == Job.Status.ASSEMBLING_VIDEO
            and _running_ffmpeg(worker)
        ),
        timeout=120,
        what="ffmpeg to start assembling",
    )
    assert Job.objects.get(id=job.id).status == Job.Status.ASSEMBLING_VIDEO
    _cancel_and_check_it_stops(job, worker, work_dir, "slidecast.assemble")
    assert not Job.objects.get(id=job.id).video
    _next_job_runs_normally(tmp_path, user, persona)
    assert worker.poll() is None
