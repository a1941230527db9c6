"""A step near its time limit stops itself; one slide failing for good does not sink a deck;
an assembly is encoded exactly once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from procrastinate.contrib.django.models import ProcrastinateJob

from jobs.models import Job, Slide
from jobs.narration import progress, services
from media_pipeline.errors import SpeechSynthesisError
from media_pipeline.tts import PiperEngine
from tests.conftest import submit_deck
from tests.decks import long_notes

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.mark.slow
def test_a_task_near_its_time_limit_stops_itself_and_says_why(
    user, persona, deck_path, settings, run_worker, work_dir
):
    settings.WORKER_LIMITS = {
        **settings.WORKER_LIMITS,
        "TASK_TIME_LIMIT_SECONDS": 12,
        "TASK_SOFT_LIMIT_MARGIN_SECONDS": 4,
    }
    # Enough speech that synthesis outlasts the 8 s before the soft limit on a fast, idle host.
    settings.SLIDECAST = {**settings.SLIDECAST, "MAX_NOTES_CHARS_PER_SLIDE": 20_000}
    job = submit_deck(deck_path([("Long", long_notes(120))]), user, persona)
    [job] = run_worker([job.id], timeout=90)
    assert job.status == Job.Status.FAILED
    assert job.error_code == "time_limit"
    assert job.error.startswith(
        "Slide 1: Slidecast stopped narrating a slide as it neared the time limit of 12 "
    )
    queued = ProcrastinateJob.objects.get(task_name="slidecast.narrate_slide")
    assert (queued.status, queued.attempts) == ("failed", 1)  # the same input is not retried
    assert list(work_dir.glob("slidecast-narrate-*")) == []


def _piper_fails_on(word: str, monkeypatch) -> None:
    speak = PiperEngine.speak

    def failing(self, text: str, **kwargs):
        if word in text:
            raise SpeechSynthesisError(f"Piper could not speak {text[:30]!r}: out of memory")
        return speak(self, text, **kwargs)

    monkeypatch.setattr(PiperEngine, "speak", failing)


@pytest.mark.slow
def test_a_slide_whose_narration_keeps_failing_is_left_silent_with_a_warning(
    user, persona, deck_path, run_worker, monkeypatch
):
    _piper_fails_on("Broken", monkeypatch)
    deck = deck_path([("One", "This one works."), ("Two", "Broken narration."), ("Three", "Fine.")])
    job = submit_deck(deck, user, persona, empty_slide_seconds=2.0)
    [job] = run_worker([job.id], timeout=120)
    assert job.status == Job.Status.COMPLETED, job.error
    assert job.warnings == [
        "Slide 2 is silent: its narration failed (Piper could not speak 'Broken narration.': "
        "out of memory). Retry the job to try it again."
    ]
    second = job.slides.get(index=2)
    assert second.status == Slide.Status.NARRATED and second.cues == []
    # To a frame, plus the padding to whole AAC blocks (media_pipeline.aac_segments).
    assert second.duration_seconds == pytest.approx(2.0, abs=1 / 25 + 1024 / 22050)
    queued = ProcrastinateJob.objects.get(
        task_name="slidecast.narrate_slide", args__slide_id=second.id
    )
    assert queued.attempts == 3  # retried like any transient failure first


@pytest.mark.slow
def test_without_partial_results_the_job_fails_naming_the_slide(
    user, persona, deck_path, run_worker, monkeypatch, settings
):
    settings.SLIDECAST = {**settings.SLIDECAST, "PARTIAL_RESULTS": False}
    _piper_fails_on("Broken", monkeypatch)
    job = submit_deck(deck_path([("One", "Fine."), ("Two", "Broken.")]), user, persona)
    [job] = run_worker([job.id], timeout=120)
    assert job.status == Job.Status.FAILED
    assert job.error.startswith("Slide 2: Piper could not speak 'Broken.'")
    assert job.warnings == []


def test_two_assemblies_starting_together_encode_exactly_once(user, persona):
    job = Job.objects.create(
        owner=user, title="x.pptx", deck="jobs/x/deck.pptx", persona=persona,
        status=Job.Status.ASSEMBLING_VIDEO,
    )  # fmt: skip
    start = threading.Barrier(8)
    won: list[int] = []

    def claim(queue_job_id: int) -> None:
        try:
            start.wait()
            if progress.job_start_assembly(job_id=str(job.id), claim=queue_job_id):
                won.append(queue_job_id)
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(100, 108)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    # The winner's own retry may run again; nobody else may.
    assert progress.job_start_assembly(job_id=str(job.id), claim=won[0])
    assert not progress.job_start_assembly(job_id=str(job.id), claim=999)
    # A stale assembly (lost, then replaced) cannot fail the job; the holder can.
    assert not progress.job_fail(
        job_id=str(job.id), message="lost", code="worker_lost", assembly_claim=999
    )
    assert progress.job_fail(
        job_id=str(job.id), message="boom", code="assembly_failed", assembly_claim=won[0]
    )
    # Retrying a failed job frees the claim for the new assembly task.
    services.job_retry(job=job)
    assert Job.objects.get(id=job.id).assembly_claim is None


def test_decomposition_starts_once_and_keeps_its_first_start_time(user, persona):
    job = Job.objects.create(owner=user, title="x.pptx", deck="d.pptx", persona=persona)
    assert progress.job_start_decomposition(job_id=str(job.id))
    first = Job.objects.get(id=job.id).started_at
    assert first is not None
    assert progress.job_start_decomposition(job_id=str(job.id))  # a retry of the same step
    assert Job.objects.get(id=job.id).started_at == first
    services.job_cancel(job=job)
    assert not progress.job_start_decomposition(job_id=str(job.id))
